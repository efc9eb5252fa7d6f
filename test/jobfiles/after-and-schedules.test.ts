/**
 * Jobfile jobs that wait for each other (`after`) and jobfile schedules, on every backend.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { specRevision } from "../../src/core/spec.ts";
import { appliedSummary, planLines, planSummary, syncJson } from "../../src/render/sync.ts";
import {
  type BackendTest,
  claimIds,
  completeAll,
  completeClaimed,
  forEachBackend,
  jobOf,
  NOTHING_APPLIED,
  queueByHand,
  sync,
} from "./helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

forEachBackend("after and schedules", suite);

function suite(t: BackendTest): void {
  describe("dependencies (after)", () => {
    test("a pipeline in one file runs in order, whatever order it is written in", async () => {
      await t.setUp();
      t.fixture.write(
        "pipeline.yaml",
        "jobs:\n  - id: deploy\n    command: echo deploy\n    after: [test]\n  - id: test\n    command: echo test\n    after: [build]\n  - id: build\n    command: echo build\n",
      );
      expect((await sync(t.store, t.fixture.dir)).applied?.create).toEqual(["deploy", "test", "build"]);
      expect(await claimIds(t.store)).toEqual(["build"]);
      await completeClaimed(t.store, "build");
      expect(await claimIds(t.store)).toEqual(["test"]);
      await completeClaimed(t.store, "test");
      await completeAll(t.store);
      expect((await jobOf(t.store, "deploy")).state).toBe("completed");
    });

    test("an id no jobfile declares and the queue does not hold is an error at `after`", async () => {
      await t.setUp();
      t.fixture.write("a.yaml", "command: echo a\nafter: [nowhere]\n");
      t.fixture.write("b.yaml", "command: echo b\n");
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.plan.errors).toEqual([
        expect.objectContaining({ file: "a.yaml", line: 2, column: 1, field: "after" }) as never,
      ]);
      expect(outcome.plan.errors[0]?.message).toContain('"nowhere"');
      expect(outcome.applied?.create).toEqual(["b"]);
    });

    test("a job of the queue, even an ad hoc one, may be waited for", async () => {
      await t.setUp();
      const spec = { id: "by-hand", command: "echo by hand" };
      await queueByHand(t.store, spec);
      t.fixture.write("after.yaml", "command: echo after\nafter: [by-hand]\n");
      expect((await sync(t.store, t.fixture.dir)).applied?.create).toEqual(["after"]);
      expect(await claimIds(t.store)).toEqual(["by-hand"]);
    });

    test("a cycle across files is an error for each of them, naming the cycle", async () => {
      await t.setUp();
      t.fixture.write("a.yaml", "command: echo a\nafter: [b]\n");
      t.fixture.write("b.yaml", "command: echo b\nafter: [a]\n");
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.plan.errors.map((e) => [e.file, e.field])).toEqual([
        ["a.yaml", "after"],
        ["b.yaml", "after"],
      ]);
      expect(outcome.plan.errors[0]?.message).toMatch(/cycle: (a → b → a|b → a → b)/);
      expect(await t.store.jobList({})).toEqual([]);
    });

    test("a dependency whose file is removed and restored re-arms the jobs its removal canceled", async () => {
      await t.setUp();
      t.fixture.write("step-a.yaml", "command: echo a\n");
      t.fixture.write("step-b.yaml", "command: echo b\nafter: [step-a]\n");
      await sync(t.store, t.fixture.dir);
      t.fixture.remove("step-a.yaml");
      expect((await sync(t.store, t.fixture.dir)).applied?.cancel).toEqual(["step-a"]);
      expect((await jobOf(t.store, "step-b")).state).toBe("canceled");
      t.fixture.write("step-a.yaml", "command: echo a\n");
      const dry = await sync(t.store, t.fixture.dir, { dryRun: true });
      expect(dry.plan.changes.map((change) => [change.id, change.action, change.rearms])).toEqual([
        ["step-a", "replace", ["step-b"]],
      ]);
      expect(planLines(dry)[0]).toContain("restore: its jobfile is back; queued again; re-arms step-b");
      const applied = await sync(t.store, t.fixture.dir);
      expect(applied.applied?.rearmed).toEqual(["step-b"]);
      expect(appliedSummary(applied.applied ?? NOTHING_APPLIED, null)).toContain("1 dependent re-armed");
      expect(await claimIds(t.store)).toEqual(["step-a"]);
      await completeClaimed(t.store, "step-a");
      expect(await claimIds(t.store)).toEqual(["step-b"]);
      expect((await sync(t.store, t.fixture.dir, { dryRun: true })).plan.changes).toEqual([]);
    });

    test("removing a job's file cancels the jobs waiting for it, and the plan says so first", async () => {
      await t.setUp();
      t.fixture.write("first.yaml", "command: echo first\n");
      t.fixture.write("second.yaml", "command: echo second\nafter: [first]\n");
      t.fixture.write("third.yaml", "command: echo third\nafter: [second]\n");
      await sync(t.store, t.fixture.dir);
      t.fixture.remove("first.yaml");
      const dry = await sync(t.store, t.fixture.dir, { dryRun: true });
      expect(dry.plan.changes.map((change) => [change.id, change.action, change.cancels])).toEqual([
        ["first", "cancel", ["second", "third"]],
      ]);
      expect(planLines(dry)[0]).toContain("also cancels second, third, waiting on it");
      expect(planSummary(dry)).toContain("1 to cancel, 2 dependents to cancel");
      expect((await jobOf(t.store, "second")).state).toBe("pending");
      const applied = await sync(t.store, t.fixture.dir);
      expect(applied.applied?.cancel).toEqual(["first"]);
      expect(applied.applied?.canceledDependents).toEqual(["second", "third"]);
      expect(appliedSummary(applied.applied ?? NOTHING_APPLIED, null)).toContain(
        "1 canceled, 2 dependents canceled",
      );
      expect((await jobOf(t.store, "second")).state).toBe("canceled");
      expect((await jobOf(t.store, "third")).state).toBe("canceled");
    });
  });

  describe("schedules (schedule)", () => {
    const nightly = 'command: echo rotate\nschedule: "0 3 * * *"\ntimezone: Europe/Berlin\n';

    test("a scheduled job becomes a schedule, not a job; a re-sync changes nothing", async () => {
      await t.setUp();
      t.fixture.write("rotate.yaml", nightly);
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.plan.schedules.creates.map((job) => job.spec.id)).toEqual(["rotate"]);
      expect(outcome.appliedSchedules).toEqual({ created: ["rotate"], updated: [], removed: [] });
      expect(await t.store.jobGet({ id: "rotate" })).toBeNull();
      const schedule = await t.store.scheduleGet({ id: "rotate" });
      expect(schedule).toMatchObject({
        source: join(t.fixture.root, "rotate.yaml"),
        spec: { schedule: "0 3 * * *" },
      });
      expect(schedule?.next_at).toBeGreaterThan(Date.now());
      const again = await sync(await t.fixture.store(), t.fixture.dir);
      expect(again.plan.schedules.unchanged).toHaveLength(1);
      expect(again.appliedSchedules).toEqual({ created: [], updated: [], removed: [] });
    });

    test("editing the file updates the schedule; removing it stops future occurrences", async () => {
      await t.setUp();
      t.fixture.write("rotate.yaml", nightly);
      await sync(t.store, t.fixture.dir);
      t.fixture.write("rotate.yaml", nightly.replace("0 3", "30 4"));
      // An update shows the fields it changes, as a job's update does.
      const planned = await sync(t.store, t.fixture.dir, { dryRun: true });
      expect(planLines(planned)).toEqual([
        "  ~ rotate  update: schedule changed  rotate.yaml",
        '      ~ schedule: "0 3 * * *" → "30 4 * * *"',
      ]);
      expect(syncJson(planned).plan.schedules.update[0]?.fields).toEqual([
        { field: "schedule", from: "0 3 * * *", to: "30 4 * * *" },
      ]);
      expect((await sync(t.store, t.fixture.dir)).appliedSchedules?.updated).toEqual(["rotate"]);
      expect((await t.store.scheduleGet({ id: "rotate" }))?.spec.schedule).toBe("30 4 * * *");
      t.fixture.remove("rotate.yaml");
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.plan.schedules.removals.map((r) => r.file)).toEqual(["rotate.yaml"]);
      expect(outcome.appliedSchedules?.removed).toEqual(["rotate"]);
      expect(await t.store.scheduleGet({ id: "rotate" })).toBeNull();
    });

    test("an edit keeps an occurrence already owed; with none owed the next one follows the new pattern", async () => {
      await t.setUp();
      const at = (iso: string) => Date.parse(iso);
      const every = (minutes: string, log: string) =>
        `command: echo ${log}\nschedule: "${minutes} * * * *"\ntimezone: UTC\n`;
      t.fixture.write("tick.yaml", every("*/10", "a"));
      await sync(t.store, t.fixture.dir, { now: at("2026-01-01T08:01:00Z") });
      const nextAt = async () => (await t.store.scheduleGet({ id: "tick" }))?.next_at;
      expect(await nextAt()).toBe(at("2026-01-01T08:10:00Z"));
      // 08:10 has passed and no worker has fired it: the edit at 08:10:30 keeps it owed.
      t.fixture.write("tick.yaml", every("*/10", "b"));
      await sync(t.store, t.fixture.dir, { now: at("2026-01-01T08:10:30Z") });
      expect(await nextAt()).toBe(at("2026-01-01T08:10:00Z"));
      // A new pattern counts what is owed by its own times from there: 08:15 is still ahead.
      t.fixture.write("tick.yaml", every("*/15", "b"));
      await sync(t.store, t.fixture.dir, { now: at("2026-01-01T08:11:00Z") });
      expect(await nextAt()).toBe(at("2026-01-01T08:15:00Z"));
      // Nothing owed: the next occurrence after now, as ever.
      t.fixture.write("tick.yaml", every("*/20", "c"));
      await sync(t.store, t.fixture.dir, { now: at("2026-01-01T08:12:00Z") });
      expect(await nextAt()).toBe(at("2026-01-01T08:20:00Z"));
    });

    test("a job waiting on a schedule is an error that says so, and keeps its last good revision", async () => {
      await t.setUp();
      t.fixture.write("sched.yaml", 'command: echo sched\nschedule: "0 3 * * *"\n');
      t.fixture.write("onsched.yaml", "command: echo s\n");
      await sync(t.store, t.fixture.dir);
      const before = await jobOf(t.store, "onsched");
      t.fixture.write("onsched.yaml", "command: echo s2\nafter: [sched]\n");
      const spec = { id: "by-hand", command: "echo by hand", schedule: "0 5 * * *" };
      await t.store.scheduleUpsert({
        id: "by-hand",
        spec,
        revision: specRevision(spec),
        source: null,
        nextAt: null,
        now: Date.now(),
      });
      t.fixture.write("waits.yaml", "command: echo w\nafter: [by-hand]\n");
      const outcome = await sync(t.store, t.fixture.dir);
      expect(
        outcome.plan.errors.map((error) => [
          error.file,
          error.line,
          error.column,
          error.field,
          error.message,
        ]),
      ).toEqual([
        [
          "onsched.yaml",
          2,
          1,
          "after",
          '`after` names "sched", which is a schedule, and a job cannot wait on a schedule',
        ],
        [
          "waits.yaml",
          2,
          1,
          "after",
          '`after` names "by-hand", which is a schedule, and a job cannot wait on a schedule',
        ],
      ]);
      expect(outcome.plan.errors[0]?.hint).toContain("plain job");
      expect(outcome.plan.changes).toEqual([]);
      expect(await jobOf(t.store, "onsched")).toMatchObject({ revision: before.revision, state: "pending" });
      expect(await t.store.jobGet({ id: "waits" })).toBeNull();
    });

    test("a job that waits on one which becomes a schedule is in error, whichever file changed", async () => {
      await t.setUp();
      t.fixture.write("a.yaml", "command: echo a\n");
      t.fixture.write("b.yaml", "command: echo b\nafter: [a]\n");
      await sync(t.store, t.fixture.dir);
      // Only a.yaml changes: its job row is the plain job this sync forgets, not one b may wait on.
      t.fixture.write("a.yaml", `command: echo a\nschedule: "0 3 * * *"\n`);
      for (let round = 0; round < 2; round++) {
        const outcome = await sync(t.store, t.fixture.dir);
        expect(outcome.plan.errors.map((error) => [error.file, error.field, error.message])).toEqual([
          ["b.yaml", "after", '`after` names "a", which is a schedule, and a job cannot wait on a schedule'],
        ]);
      }
      expect(await t.store.scheduleGet({ id: "a" })).not.toBeNull();
    });

    test("a schedule in a file in error stays as it was", async () => {
      await t.setUp();
      t.fixture.write("rotate.yaml", nightly);
      await sync(t.store, t.fixture.dir);
      t.fixture.write("rotate.yaml", `${nightly}catchup: sometimes\n`);
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.plan.errors[0]).toMatchObject({ file: "rotate.yaml", line: 4, field: "catchup" });
      expect(outcome.plan.schedules.removals).toEqual([]);
      expect(await t.store.scheduleGet({ id: "rotate" })).not.toBeNull();
    });

    test("adding a schedule to a declared job replaces the job with a schedule", async () => {
      await t.setUp();
      t.fixture.write("rotate.yaml", "command: echo rotate\n");
      await sync(t.store, t.fixture.dir);
      t.fixture.write("rotate.yaml", nightly);
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.applied?.cancel).toEqual(["rotate"]);
      expect(outcome.appliedSchedules?.created).toEqual(["rotate"]);
    });

    test("two syncs racing on one folder create the schedule once", async () => {
      await t.setUp();
      t.fixture.write("rotate.yaml", nightly);
      const other = await t.fixture.store();
      const [a, b] = await Promise.all([sync(t.store, t.fixture.dir), sync(other, t.fixture.dir)]);
      expect([...(a.appliedSchedules?.created ?? []), ...(b.appliedSchedules?.created ?? [])]).toEqual([
        "rotate",
      ]);
    });

    test("the id of a schedule made with enqueue is never taken over", async () => {
      await t.setUp();
      const spec = { id: "rotate", command: "echo by hand", schedule: "0 5 * * *" };
      await t.store.scheduleUpsert({
        id: "rotate",
        spec,
        revision: specRevision(spec),
        source: null,
        nextAt: null,
        now: Date.now(),
      });
      t.fixture.write("rotate.yaml", nightly);
      const outcome = await sync(t.store, t.fixture.dir);
      expect(outcome.plan.errors[0]).toMatchObject({ file: "rotate.yaml", field: "id" });
      expect((await t.store.scheduleGet({ id: "rotate" }))?.spec.command).toBe("echo by hand");
    });
  });
}
