/**
 * The ids a jobfile schedule keeps for itself, on every backend: its own, against a plain
 * job of another folder (named in the error as a job id's owner is), and its occurrence
 * ids (`<schedule>@<instant>`), against a job of another file of the same folder that a
 * watcher plans alone.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { planLines } from "../../src/render/sync.ts";
import { waitFor } from "../helpers/cli.ts";
import { type BackendTest, forEachBackend, jobOf, sync } from "./helpers.ts";
import { dropSettled, startWatched } from "./watch-helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const NIGHTLY = 'command: echo rotate\nschedule: "0 3 * * *"\n';
const OCCURRENCE = "nightly@2026-01-01T03:00:00.000Z";

/** A repo's jobs folder under the temp home, private as a fresh clone is. */
function repo(t: BackendTest, name: string, files: Record<string, string>): string {
  const dir = join(t.fixture.home, name, "jobs");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text, { mode: 0o600 });
  return realpathSync(dir);
}

forEachBackend("schedule ids", (t) => {
  describe("a plain job with the id of another folder's schedule", () => {
    test("is an error naming the folder that declares the schedule, which stays as it was", async () => {
      await t.setUp();
      const a = repo(t, "repo-a", { "rotate.yaml": NIGHTLY });
      const b = repo(t, "repo-b", {
        "rotate.yaml": "command: echo b\n",
        "lint.yaml": "command: echo lint\n",
      });
      await sync(t.store, a);
      const refused = await sync(t.store, b);
      expect(refused.plan.errors).toHaveLength(1);
      expect(refused.plan.errors[0]).toMatchObject({ file: "rotate.yaml", line: 1, column: 1, field: "id" });
      expect(refused.plan.errors[0]?.message).toBe(
        `id "rotate" belongs to the jobs folder ${a}, not to ${b}`,
      );
      expect(refused.applied?.create).toEqual(["lint"]);
      expect(refused.plan.schedules.removals).toEqual([]);
      expect(await t.store.jobGet({ id: "rotate" })).toBeNull();
      expect(await t.store.scheduleGet({ id: "rotate" })).toMatchObject({ source: join(a, "rotate.yaml") });
      // The folder that declares it syncs as before.
      expect((await sync(t.store, a)).plan.errors).toEqual([]);
    });

    test("takes the id over once that folder no longer exists: the schedule goes, visibly", async () => {
      await t.setUp();
      const a = repo(t, "repo-a", { "rotate.yaml": NIGHTLY });
      const b = repo(t, "repo-b", { "rotate.yaml": "command: echo b\n" });
      await sync(t.store, a);
      rmSync(join(t.fixture.home, "repo-a"), { recursive: true });
      const outcome = await sync(t.store, b);
      expect(outcome.plan.errors).toEqual([]);
      expect(planLines(outcome)).toEqual([
        "  + rotate  create: now declared as a plain job  rotate.yaml",
        `  - rotate  adopt from ${a} (folder no longer exists); remove schedule: now declared as a plain job, future occurrences stop  rotate.yaml`,
      ]);
      expect(outcome.appliedSchedules?.removed).toEqual(["rotate"]);
      expect(await jobOf(t.store, "rotate")).toMatchObject({ state: "pending", spec: { command: "echo b" } });
      expect((await sync(t.store, b, { dryRun: true })).plan.changes).toEqual([]);
    });

    test("takes it over with --adopt while that folder lives; that folder is refused from then on", async () => {
      await t.setUp();
      const a = repo(t, "repo-a", { "rotate.yaml": NIGHTLY });
      const b = repo(t, "repo-b", { "rotate.yaml": "command: echo b\n" });
      await sync(t.store, a);
      const adopted = await sync(t.store, b, { adopt: true });
      expect(adopted.plan.schedules.removals.map((r) => [r.actual.id, r.reason, r.adopt])).toEqual([
        ["rotate", "nowJob", { from: a, reason: "asked" }],
      ]);
      expect(await t.store.scheduleGet({ id: "rotate" })).toBeNull();
      expect((await sync(t.store, a)).plan.errors[0]?.message).toBe(
        `id "rotate" belongs to the jobs folder ${b}, not to ${a}`,
      );
    });
  });

  test("a job with the id of a schedule that a file in error holds is refused until that file is fixed", async () => {
    await t.setUp();
    t.fixture.write("a.yaml", NIGHTLY);
    await sync(t.store, t.fixture.dir);
    t.fixture.write("a.yaml", `${NIGHTLY}catchup: sometimes\n`);
    t.fixture.write("b.yaml", "id: a\ncommand: echo b\n");
    const outcome = await sync(t.store, t.fixture.dir);
    expect(outcome.plan.errors.map((error) => [error.file, error.field])).toEqual([
      ["a.yaml", "catchup"],
      ["b.yaml", "id"],
    ]);
    expect(outcome.plan.errors[1]?.message).toBe('id "a" is held by a.yaml, which is in error');
    expect(await t.store.jobGet({ id: "a" })).toBeNull();
    expect(await t.store.scheduleGet({ id: "a" })).not.toBeNull();
  });

  test("the watcher refuses an occurrence id of a schedule another, unchanged file declares", async () => {
    await t.setUp();
    dropSettled(t.fixture.dir, "nightly.yaml", NIGHTLY);
    const { watcher, store, outcomes } = await startWatched(t.fixture, []);
    try {
      expect(await store.scheduleGet({ id: "nightly" })).not.toBeNull();
      dropSettled(t.fixture.dir, "other.yaml", "command: echo other\n");
      dropSettled(t.fixture.dir, "taken.yaml", `id: "${OCCURRENCE}"\ncommand: echo taken\n`);
      const problem = await waitFor(
        () => outcomes.flatMap((outcome) => outcome.plan.errors).find((error) => error.file === "taken.yaml"),
        { what: "the occurrence id to be refused" },
      );
      expect(problem).toMatchObject({ line: 1, column: 1, field: "id" });
      expect(problem.message).toBe(`id "${OCCURRENCE}" is the id of an occurrence of schedule "nightly"`);
      await waitFor(() => store.jobGet({ id: "other" }), { what: "the other file to be queued" });
      expect(await store.jobGet({ id: OCCURRENCE })).toBeNull();
      // A full sync decides the same.
      const full = await watcher.syncNow();
      expect(full?.plan.errors.map((error) => error.file)).toEqual(["taken.yaml"]);
      expect(await store.jobGet({ id: OCCURRENCE })).toBeNull();
    } finally {
      await watcher.close();
    }
  });
});
