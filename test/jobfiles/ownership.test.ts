/**
 * Several jobs folders in one store, on every backend: a folder never takes over another
 * live folder's id in silence; a namespace lets two repos use the same ids; a folder that
 * moved or was re-cloned takes its jobs back, and the plan says so.
 */

import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import { cpSync, mkdirSync, realpathSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../../src/core/errors.ts";
import { planLines } from "../../src/jobfiles/report.ts";
import type { Store } from "../../src/store/store.ts";
import {
  type Backend,
  claimAll,
  completeAll,
  forEachBackend,
  type JobsFixture,
  jobOf,
  jobsFixture,
  sync,
} from "./helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let backend: Backend = "sqlite";
let fixture: JobsFixture;
let store: Store;

afterEach(() => fixture?.cleanup());

/** A repo's jobs folder under the temp home, private as a fresh clone is. */
function repo(name: string, files: Record<string, string>): string {
  const dir = join(fixture.home, name, "jobs");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text, { mode: 0o600 });
  return realpathSync(dir);
}

async function actions(dir: string, extra: Parameters<typeof sync>[2] = {}): Promise<string[]> {
  const outcome = await sync(store, dir, extra);
  return outcome.plan.changes.map((change) => `${change.id} ${change.action}`);
}

forEachBackend(
  "ownership",
  (name) => {
    backend = name;
  },
  () => {
    test("two live folders never take over each other's ids: one error names both", async () => {
      fixture = jobsFixture(backend);
      store = await fixture.store();
      const a = repo("repo-a", { "build.yaml": "command: echo a\n", "lint.yaml": "command: echo lint\n" });
      const b = repo("repo-b", { "build.yaml": "command: echo b\n", "test.yaml": "command: echo test\n" });
      expect(await actions(a)).toEqual(["build create", "lint create"]);
      const second = await sync(store, b);
      expect(second.plan.errors).toHaveLength(1);
      expect(second.plan.errors[0]).toMatchObject({ file: "build.yaml", line: 1, column: 1, field: "id" });
      expect(second.plan.errors[0]?.message).toBe(`id "build" belongs to the jobs folder ${a}, not to ${b}`);
      expect(second.plan.errors[0]?.hint).toContain("namespace: NAME");
      expect(second.plan.changes.map((change) => change.id)).toEqual(["test"]);
      // Syncing either folder again changes nothing of the other's: no flip back and forth.
      expect(await actions(a)).toEqual([]);
      expect((await sync(store, b)).plan.errors).toHaveLength(1);
      expect(await jobOf(store, "build")).toMatchObject({ source: join(a, "build.yaml") });
      // And neither folder's sync removes the other's jobs.
      expect((await jobOf(store, "lint")).state).toBe("pending");
    });

    test("a namespace prefixes the folder's ids and the `after` entries naming its own jobs", async () => {
      fixture = jobsFixture(backend);
      store = await fixture.store();
      const a = repo("repo-a", { "build.yaml": "command: echo a\n" });
      const b = repo("repo-b", {
        ".queuectl.yaml": "namespace: repo-b\n",
        "build.yaml": "command: echo b\n",
        "deploy.yaml": "command: echo deploy\nafter: [build]\n",
      });
      await sync(store, a);
      expect(await actions(b)).toEqual(["repo-b/build create", "repo-b/deploy create"]);
      expect((await jobOf(store, "repo-b/deploy")).spec.after).toEqual(["repo-b/build"]);
      expect((await sync(store, b)).namespace).toBe("repo-b");
      expect((await claimAll(store)).map((job) => job.id).sort()).toEqual(["build", "repo-b/build"]);
    });

    test("an invalid folder settings file is one error and nothing is applied", async () => {
      fixture = jobsFixture(backend);
      store = await fixture.store();
      const b = repo("repo-b", {
        ".queuectl.yaml": "namespace: has space\n",
        "build.yaml": "command: echo b\n",
      });
      const error = await sync(store, b).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(UserError);
      expect((error as UserError).message).toBe(
        `${join(b, ".queuectl.yaml")}: namespace "has space" is not a valid name`,
      );
      expect(await store.jobList({})).toEqual([]);
    });

    test("a folder that moved takes its jobs back, shown in the plan, and re-runs nothing", async () => {
      fixture = jobsFixture(backend);
      store = await fixture.store();
      const old = repo("repo-a", { "build.yaml": "command: echo a\n" });
      await sync(store, old);
      await completeAll(store);
      renameSync(join(fixture.home, "repo-a"), join(fixture.home, "repo-a-moved"));
      const moved = realpathSync(join(fixture.home, "repo-a-moved", "jobs"));
      const dry = await sync(store, moved, { dryRun: true });
      expect(planLines(dry)[0]).toContain(`~ build  adopt from ${old} (folder no longer exists); redeclare`);
      expect(await actions(moved)).toEqual(["build redeclare"]);
      expect(await jobOf(store, "build")).toMatchObject({
        state: "completed",
        source: join(moved, "build.yaml"),
      });
      expect(await claimAll(store)).toEqual([]);
      expect(await actions(moved)).toEqual([]);
    });

    test("a re-clone beside the old one takes the jobs with --adopt; the old folder is then refused", async () => {
      fixture = jobsFixture(backend);
      store = await fixture.store();
      const old = repo("repo-a", { "build.yaml": "command: echo a\n" });
      await sync(store, old);
      cpSync(join(fixture.home, "repo-a"), join(fixture.home, "clone"), { recursive: true });
      const clone = realpathSync(join(fixture.home, "clone", "jobs"));
      expect((await sync(store, clone)).plan.errors).toHaveLength(1);
      const adopted = await sync(store, clone, { adopt: true });
      expect(adopted.plan.changes.map((change) => [change.action, change.adopt])).toEqual([
        ["redeclare", { from: old, reason: "asked" }],
      ]);
      expect((await sync(store, old)).plan.errors[0]?.message).toContain(
        `belongs to the jobs folder ${clone}`,
      );
    });

    test("a schedule another live folder declares is refused the same way", async () => {
      fixture = jobsFixture(backend);
      store = await fixture.store();
      const nightly = 'command: echo rotate\nschedule: "0 3 * * *"\n';
      const a = repo("repo-a", { "rotate.yaml": nightly });
      const b = repo("repo-b", { "rotate.yaml": nightly.replace("0 3", "0 4") });
      await sync(store, a);
      const refused = await sync(store, b);
      expect(refused.plan.errors[0]?.message).toBe(
        `id "rotate" belongs to the jobs folder ${join(a, "rotate.yaml")}, not to ${b}`,
      );
      expect((await store.scheduleGet({ id: "rotate" }))?.spec.schedule).toBe("0 3 * * *");
      rmSync(join(fixture.home, "repo-a"), { recursive: true });
      expect((await sync(store, b)).appliedSchedules?.updated).toEqual(["rotate"]);
    });

    test("an id the owning folder no longer declares can be declared by another, shown as adopted", async () => {
      fixture = jobsFixture(backend);
      store = await fixture.store();
      const a = repo("repo-a", { "build.yaml": "command: echo a\n" });
      await sync(store, a);
      rmSync(join(a, "build.yaml"));
      expect(await actions(a)).toEqual(["build cancel"]);
      const b = repo("repo-b", { "build.yaml": "command: echo b\n" });
      const outcome = await sync(store, b);
      expect(outcome.plan.changes[0]?.adopt).toEqual({ from: a, reason: "undeclared" });
      expect(await jobOf(store, "build")).toMatchObject({ state: "pending", spec: { command: "echo b" } });
    });
  },
);
