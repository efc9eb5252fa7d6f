/**
 * A jobfile whose job becomes a schedule (a `schedule` field added), or the other way round,
 * on every backend: the plan says so instead of "jobfile removed" or "its jobfile is back",
 * in its lines and in `--json`, and the job's history still decides: a revision the id
 * completed never runs again, whichever way the file went in between.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { planLines, planSummary, syncJson } from "../../src/render/sync.ts";
import { waitFor } from "../helpers/cli.ts";
import { type BackendTest, claimAll, completeAll, forEachBackend, jobOf, SUCCESS, sync } from "./helpers.ts";
import { dropSettled, startWatched } from "./watch-helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const JOB = "command: echo x\n";
const NEW_JOB = "command: echo x2\n";
const SCHEDULE = 'command: echo x\nschedule: "0 3 * * *"\n';

forEachBackend("job and schedule switch", suite);

function suite(t: BackendTest): void {
  /** x.yaml synced as a plain job and run to completion. */
  async function completedJob(): Promise<void> {
    t.fixture.write("x.yaml", JOB);
    await sync(t.store, t.fixture.dir);
    expect(await completeAll(t.store)).toEqual(["x"]);
  }

  describe("a job that becomes a schedule", () => {
    test("completed: forgotten because it is a schedule now, not because its file was removed", async () => {
      await t.setUp();
      await completedJob();
      t.fixture.write("x.yaml", SCHEDULE);
      const dry = await sync(t.store, t.fixture.dir, { dryRun: true });
      expect(planLines(dry)).toEqual([
        "  - x  forget: now declared as a schedule; completed, history kept  x.yaml",
        '  + x  create schedule "0 3 * * *"  x.yaml',
      ]);
      expect(planSummary(dry)).toContain("1 to forget (no longer declared as a job, history kept)");
      const json = syncJson(dry).plan;
      expect(json.changes.map((change) => [change.id, change.action, change.reason])).toEqual([
        ["x", "forget", "now_schedule"],
      ]);
      const applied = await sync(t.store, t.fixture.dir);
      expect(applied.applied?.forget).toEqual(["x"]);
      expect(applied.appliedSchedules?.created).toEqual(["x"]);
      expect(await jobOf(t.store, "x")).toMatchObject({ state: "completed" });
    });

    test("pending: canceled because it is a schedule now; back as the same job, it is queued again", async () => {
      await t.setUp();
      t.fixture.write("x.yaml", JOB);
      await sync(t.store, t.fixture.dir);
      t.fixture.write("x.yaml", SCHEDULE);
      const switched = await sync(t.store, t.fixture.dir);
      expect(planLines(switched)[0]).toBe("  - x  cancel: now declared as a schedule (was pending)  x.yaml");
      expect(syncJson(switched).plan.changes[0]?.reason).toBe("now_schedule");
      t.fixture.write("x.yaml", JOB);
      const back = await sync(t.store, t.fixture.dir);
      expect(planLines(back)).toEqual([
        "  ~ x  restore: declared as a plain job again; queued again  x.yaml",
        "  - x  remove schedule: now declared as a plain job, future occurrences stop  x.yaml",
      ]);
      expect(await claimAll(t.store)).toMatchObject([{ id: "x" }]);
    });

    test("running: its attempt finishes, no retry, because it is a schedule now", async () => {
      await t.setUp();
      t.fixture.write("x.yaml", JOB);
      await sync(t.store, t.fixture.dir);
      const [running] = await claimAll(t.store);
      t.fixture.write("x.yaml", SCHEDULE);
      const switched = await sync(t.store, t.fixture.dir);
      expect(planLines(switched)[0]).toBe(
        "  - x  forget: now declared as a schedule; the running attempt finishes, no retry  x.yaml",
      );
      await t.store.jobComplete({
        id: "x",
        token: running?.token ?? 0,
        now: Date.now(),
        result: SUCCESS,
      });
      // The revision it completed meanwhile is declared again: it is not run again.
      t.fixture.write("x.yaml", JOB);
      const back = await sync(t.store, t.fixture.dir);
      expect(planLines(back)[0]).toBe(
        "  ~ x  redeclare: declared as a plain job again (completed, not re-run)  x.yaml",
      );
      expect(await claimAll(t.store)).toEqual([]);
    });
  });

  describe("a schedule that becomes a job again", () => {
    test("with a new revision: the schedule is removed as now a plain job, the new revision is queued", async () => {
      await t.setUp();
      await completedJob();
      t.fixture.write("x.yaml", SCHEDULE);
      await sync(t.store, t.fixture.dir);
      t.fixture.write("x.yaml", NEW_JOB);
      const dry = await sync(t.store, t.fixture.dir, { dryRun: true });
      expect(planLines(dry)).toEqual([
        "  ~ x  update: now declared as a plain job; the new revision is queued (was completed)  x.yaml",
        '      ~ command: "echo x" → "echo x2"',
        "  - x  remove schedule: now declared as a plain job, future occurrences stop  x.yaml",
      ]);
      const json = syncJson(dry).plan;
      expect(json.changes.map((change) => [change.id, change.action, change.reason])).toEqual([
        ["x", "replace", "now_job"],
      ]);
      expect(json.schedules.remove).toEqual([
        { id: "x", file: "x.yaml", reason: "now_job", adopt_from: null, adopt_reason: null },
      ]);
      const applied = await sync(t.store, t.fixture.dir);
      expect(applied.applied?.replace).toEqual(["x"]);
      expect(applied.appliedSchedules?.removed).toEqual(["x"]);
      expect(await t.store.scheduleGet({ id: "x" })).toBeNull();
      expect(await jobOf(t.store, "x")).toMatchObject({ state: "pending", spec: { command: "echo x2" } });
    });

    test("with the revision it completed: nothing runs, and no revision it completed ever runs again", async () => {
      await t.setUp();
      await completedJob();
      t.fixture.write("x.yaml", SCHEDULE);
      await sync(t.store, t.fixture.dir);
      t.fixture.write("x.yaml", JOB);
      const back = await sync(t.store, t.fixture.dir);
      expect(planLines(back)).toEqual([
        "  ~ x  redeclare: declared as a plain job again (completed, not re-run)  x.yaml",
        "  - x  remove schedule: now declared as a plain job, future occurrences stop  x.yaml",
      ]);
      expect(await claimAll(t.store)).toEqual([]);
      // x2 runs and completes; going through a schedule back to x shows x completed again.
      t.fixture.write("x.yaml", NEW_JOB);
      await sync(t.store, t.fixture.dir);
      expect(await completeAll(t.store)).toEqual(["x"]);
      t.fixture.write("x.yaml", SCHEDULE);
      await sync(t.store, t.fixture.dir);
      t.fixture.write("x.yaml", JOB);
      const again = await sync(t.store, t.fixture.dir);
      expect(again.plan.changes.map((change) => [change.action, change.reason])).toEqual([
        ["showCompleted", "nowJob"],
      ]);
      expect(await claimAll(t.store)).toEqual([]);
      expect(await jobOf(t.store, "x")).toMatchObject({ state: "completed", spec: { command: "echo x" } });
    });

    test("a schedule that never was a job becomes one: created, and the schedule removed, both saying why", async () => {
      await t.setUp();
      t.fixture.write("x.yaml", SCHEDULE);
      await sync(t.store, t.fixture.dir);
      t.fixture.write("x.yaml", JOB);
      expect(planLines(await sync(t.store, t.fixture.dir))).toEqual([
        "  + x  create: now declared as a plain job  x.yaml",
        "  - x  remove schedule: now declared as a plain job, future occurrences stop  x.yaml",
      ]);
    });

    test("a removed file still reads as removed, for its job and for its schedule", async () => {
      await t.setUp();
      t.fixture.write("x.yaml", JOB);
      t.fixture.write("s.yaml", SCHEDULE.replace("echo x", "echo s"));
      await sync(t.store, t.fixture.dir);
      t.fixture.remove("x.yaml");
      t.fixture.remove("s.yaml");
      const outcome = await sync(t.store, t.fixture.dir);
      expect(planLines(outcome)).toEqual([
        "  - x  cancel: jobfile removed (was pending)  x.yaml",
        "  - s  remove schedule: jobfile removed, future occurrences stop  s.yaml",
      ]);
      const json = syncJson(outcome).plan;
      expect(json.changes[0]?.reason).toBe("jobfile_removed");
      expect(json.schedules.remove[0]?.reason).toBe("jobfile_removed");
    });
  });

  test("the watcher plans a switch and back with the same reasons", async () => {
    await t.setUp();
    dropSettled(t.fixture.dir, "x.yaml", JOB);
    const { watcher, store, outcomes } = await startWatched(t.fixture, []);
    try {
      expect(await completeAll(store)).toEqual(["x"]);
      const lines = () => outcomes.flatMap((outcome) => planLines(outcome));
      const planned = (line: string) => waitFor(() => lines().includes(line), { what: line });
      dropSettled(t.fixture.dir, "x.yaml", SCHEDULE);
      await planned("  - x  forget: now declared as a schedule; completed, history kept  x.yaml");
      dropSettled(t.fixture.dir, "x.yaml", NEW_JOB);
      await planned(
        "  ~ x  update: now declared as a plain job; the new revision is queued (was completed)  x.yaml",
      );
      expect(lines()).toContain(
        "  - x  remove schedule: now declared as a plain job, future occurrences stop  x.yaml",
      );
      expect(await store.scheduleGet({ id: "x" })).toBeNull();
    } finally {
      await watcher.close();
    }
  });
}
