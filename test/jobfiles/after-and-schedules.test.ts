/**
 * Jobfile jobs that wait for each other (`after`) and jobfile schedules, on every backend.
 */

import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { specRevision } from "../../src/core/spec.ts";
import { appliedSummary, planLines } from "../../src/jobfiles/report.ts";
import type { Store } from "../../src/store/store.ts";
import {
  type Backend,
  claimAll,
  forEachBackend,
  type JobsFixture,
  jobOf,
  jobsFixture,
  NOTHING_APPLIED,
  SUCCESS,
  sync,
} from "./helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let backend: Backend = "sqlite";
let fixture: JobsFixture;
let store: Store;

async function setUp() {
  fixture = jobsFixture(backend);
  store = await fixture.store();
}

afterEach(() => fixture?.cleanup());

forEachBackend(
  "after and schedules",
  (name) => {
    backend = name;
  },
  suite,
);

function suite(): void {
  describe("dependencies (after)", () => {
    const claimIds = async () => (await claimAll(store)).map((job) => job.id);
    const completeClaimedFrom = async (id: string) => {
      await store.jobComplete({
        id,
        token: (await jobOf(store, id)).token,
        now: Date.now(),
        result: SUCCESS,
      });
    };
    const completeClaimed = async () => {
      for (const job of await claimAll(store)) {
        await store.jobComplete({ id: job.id, token: job.token, now: Date.now(), result: SUCCESS });
      }
    };

    test("a pipeline in one file runs in order, whatever order it is written in", async () => {
      await setUp();
      fixture.write(
        "pipeline.yaml",
        "jobs:\n  - id: deploy\n    command: echo deploy\n    after: [test]\n  - id: test\n    command: echo test\n    after: [build]\n  - id: build\n    command: echo build\n",
      );
      expect((await sync(store, fixture.dir)).applied?.create).toEqual(["deploy", "test", "build"]);
      expect(await claimIds()).toEqual(["build"]);
      await store.jobComplete({
        id: "build",
        token: (await jobOf(store, "build")).token,
        now: Date.now(),
        result: SUCCESS,
      });
      expect(await claimIds()).toEqual(["test"]);
      await store.jobComplete({
        id: "test",
        token: (await jobOf(store, "test")).token,
        now: Date.now(),
        result: SUCCESS,
      });
      await completeClaimed();
      expect((await jobOf(store, "deploy")).state).toBe("completed");
    });

    test("an id no jobfile declares and the queue does not hold is an error at `after`", async () => {
      await setUp();
      fixture.write("a.yaml", "command: echo a\nafter: [nowhere]\n");
      fixture.write("b.yaml", "command: echo b\n");
      const outcome = await sync(store, fixture.dir);
      expect(outcome.plan.errors).toEqual([
        expect.objectContaining({ file: "a.yaml", line: 2, column: 1, field: "after" }) as never,
      ]);
      expect(outcome.plan.errors[0]?.message).toContain('"nowhere"');
      expect(outcome.applied?.create).toEqual(["b"]);
    });

    test("a job of the queue, even an ad hoc one, may be waited for", async () => {
      await setUp();
      const spec = { id: "by-hand", command: "echo by hand" };
      await store.jobInsertMany({
        jobs: [{ spec, revision: specRevision(spec), maxRetries: 3, nextRunAt: Date.now(), source: null }],
        now: Date.now(),
      });
      fixture.write("after.yaml", "command: echo after\nafter: [by-hand]\n");
      expect((await sync(store, fixture.dir)).applied?.create).toEqual(["after"]);
      expect(await claimIds()).toEqual(["by-hand"]);
    });

    test("a cycle across files is an error for each of them, naming the cycle", async () => {
      await setUp();
      fixture.write("a.yaml", "command: echo a\nafter: [b]\n");
      fixture.write("b.yaml", "command: echo b\nafter: [a]\n");
      const outcome = await sync(store, fixture.dir);
      expect(outcome.plan.errors.map((e) => [e.file, e.field])).toEqual([
        ["a.yaml", "after"],
        ["b.yaml", "after"],
      ]);
      expect(outcome.plan.errors[0]?.message).toMatch(/cycle: (a → b → a|b → a → b)/);
      expect(await store.jobList({})).toEqual([]);
    });

    test("a dependency whose file is removed and restored re-arms the jobs its removal canceled", async () => {
      await setUp();
      fixture.write("step-a.yaml", "command: echo a\n");
      fixture.write("step-b.yaml", "command: echo b\nafter: [step-a]\n");
      await sync(store, fixture.dir);
      fixture.remove("step-a.yaml");
      expect((await sync(store, fixture.dir)).applied?.cancel).toEqual(["step-a"]);
      expect((await jobOf(store, "step-b")).state).toBe("canceled");
      fixture.write("step-a.yaml", "command: echo a\n");
      const dry = await sync(store, fixture.dir, { dryRun: true });
      expect(dry.plan.changes.map((change) => [change.id, change.action, change.rearms])).toEqual([
        ["step-a", "replace", ["step-b"]],
      ]);
      expect(planLines(dry)[0]).toContain("restore: its jobfile is back; queued again; re-arms step-b");
      const applied = await sync(store, fixture.dir);
      expect(applied.applied?.rearmed).toEqual(["step-b"]);
      expect(appliedSummary(applied.applied ?? NOTHING_APPLIED, null)).toContain("1 dependent re-armed");
      expect(await claimIds()).toEqual(["step-a"]);
      await completeClaimedFrom("step-a");
      expect(await claimIds()).toEqual(["step-b"]);
      expect((await sync(store, fixture.dir, { dryRun: true })).plan.changes).toEqual([]);
    });

    test("removing a job's file cancels the jobs waiting for it", async () => {
      await setUp();
      fixture.write("first.yaml", "command: echo first\n");
      fixture.write("second.yaml", "command: echo second\nafter: [first]\n");
      await sync(store, fixture.dir);
      fixture.remove("first.yaml");
      expect((await sync(store, fixture.dir)).applied?.cancel).toEqual(["first"]);
      expect((await jobOf(store, "second")).state).toBe("canceled");
    });
  });

  describe("schedules (schedule)", () => {
    const nightly = 'command: echo rotate\nschedule: "0 3 * * *"\ntimezone: Europe/Berlin\n';

    test("a scheduled job becomes a schedule, not a job; a re-sync changes nothing", async () => {
      await setUp();
      fixture.write("rotate.yaml", nightly);
      const outcome = await sync(store, fixture.dir);
      expect(outcome.plan.schedules.creates.map((job) => job.spec.id)).toEqual(["rotate"]);
      expect(outcome.appliedSchedules).toEqual({ created: ["rotate"], updated: [], removed: [] });
      expect(await store.jobGet({ id: "rotate" })).toBeNull();
      const schedule = await store.scheduleGet({ id: "rotate" });
      expect(schedule).toMatchObject({
        source: join(fixture.root, "rotate.yaml"),
        spec: { schedule: "0 3 * * *" },
      });
      expect(schedule?.next_at).toBeGreaterThan(Date.now());
      const again = await sync(await fixture.store(), fixture.dir);
      expect(again.plan.schedules.unchanged).toHaveLength(1);
      expect(again.appliedSchedules).toEqual({ created: [], updated: [], removed: [] });
    });

    test("editing the file updates the schedule; removing it stops future occurrences", async () => {
      await setUp();
      fixture.write("rotate.yaml", nightly);
      await sync(store, fixture.dir);
      fixture.write("rotate.yaml", nightly.replace("0 3", "30 4"));
      expect((await sync(store, fixture.dir)).appliedSchedules?.updated).toEqual(["rotate"]);
      expect((await store.scheduleGet({ id: "rotate" }))?.spec.schedule).toBe("30 4 * * *");
      fixture.remove("rotate.yaml");
      const outcome = await sync(store, fixture.dir);
      expect(outcome.plan.schedules.removals.map((r) => r.file)).toEqual(["rotate.yaml"]);
      expect(outcome.appliedSchedules?.removed).toEqual(["rotate"]);
      expect(await store.scheduleGet({ id: "rotate" })).toBeNull();
    });

    test("a schedule in a file in error stays as it was", async () => {
      await setUp();
      fixture.write("rotate.yaml", nightly);
      await sync(store, fixture.dir);
      fixture.write("rotate.yaml", `${nightly}catchup: sometimes\n`);
      const outcome = await sync(store, fixture.dir);
      expect(outcome.plan.errors[0]).toMatchObject({ file: "rotate.yaml", line: 4, field: "catchup" });
      expect(outcome.plan.schedules.removals).toEqual([]);
      expect(await store.scheduleGet({ id: "rotate" })).not.toBeNull();
    });

    test("adding a schedule to a declared job replaces the job with a schedule", async () => {
      await setUp();
      fixture.write("rotate.yaml", "command: echo rotate\n");
      await sync(store, fixture.dir);
      fixture.write("rotate.yaml", nightly);
      const outcome = await sync(store, fixture.dir);
      expect(outcome.applied?.cancel).toEqual(["rotate"]);
      expect(outcome.appliedSchedules?.created).toEqual(["rotate"]);
    });

    test("two syncs racing on one folder create the schedule once", async () => {
      await setUp();
      fixture.write("rotate.yaml", nightly);
      const other = await fixture.store();
      const [a, b] = await Promise.all([sync(store, fixture.dir), sync(other, fixture.dir)]);
      expect([...(a.appliedSchedules?.created ?? []), ...(b.appliedSchedules?.created ?? [])]).toEqual([
        "rotate",
      ]);
    });

    test("the id of a schedule made with enqueue is never taken over", async () => {
      await setUp();
      const spec = { id: "rotate", command: "echo by hand", schedule: "0 5 * * *" };
      await store.scheduleUpsert({
        id: "rotate",
        spec,
        revision: specRevision(spec),
        source: null,
        nextAt: null,
        now: Date.now(),
      });
      fixture.write("rotate.yaml", nightly);
      const outcome = await sync(store, fixture.dir);
      expect(outcome.plan.errors[0]).toMatchObject({ file: "rotate.yaml", field: "id" });
      expect((await store.scheduleGet({ id: "rotate" }))?.spec.command).toBe("echo by hand");
    });
  });
}
