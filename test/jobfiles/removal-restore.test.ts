/**
 * A jobfile removed and put back (a `git checkout` of another branch and back): the jobs its
 * removal canceled are queued again, and only those. A job the user canceled or killed stays
 * canceled, since the file coming back with the same revision is no order to run it. On
 * every backend.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { moveJob } from "../../src/flow/moves.ts";
import { appliedSummary, planLines } from "../../src/render/sync.ts";
import type { JobfileApplyResult } from "../../src/store/store.ts";
import { type BackendTest, claimAll, FAILURE, forEachBackend, jobOf, queueByHand, sync } from "./helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

forEachBackend("removal and restore", suite);

function suite(t: BackendTest): void {
  /** Removes x.yaml and syncs, then writes it back as it was and syncs; returns the second plan. */
  async function awayAndBack(): Promise<string[]> {
    t.fixture.remove("x.yaml");
    await sync(t.store, t.fixture.dir);
    t.fixture.write("x.yaml", "command: echo x\n");
    const dry = await sync(t.store, t.fixture.dir, { dryRun: true });
    await sync(t.store, t.fixture.dir);
    return planLines(dry);
  }

  /** a.yaml, and b.yaml whose job waits on a's, synced. */
  async function declareBWaitingOnA(): Promise<void> {
    await t.setUp();
    t.fixture.write("a.yaml", "command: echo a\n");
    t.fixture.write("b.yaml", "command: echo b\nafter: [a]\n");
    await sync(t.store, t.fixture.dir);
  }

  describe("a jobfile removed and put back", () => {
    test("a waiting job its removal canceled is queued again", async () => {
      await t.setUp();
      t.fixture.write("x.yaml", "command: echo x\n");
      await sync(t.store, t.fixture.dir);
      const plan = await awayAndBack();
      expect(plan.join("\n")).toContain("restore: its jobfile is back; queued again");
      expect((await jobOf(t.store, "x")).state).toBe("pending");
    });

    test("a failed run its removal kept from a retry is queued again", async () => {
      await t.setUp();
      t.fixture.write("x.yaml", "command: echo x\n");
      await sync(t.store, t.fixture.dir);
      const [job] = await claimAll(t.store);
      if (!job) throw new Error("nothing claimed");
      t.fixture.remove("x.yaml");
      await sync(t.store, t.fixture.dir);
      await t.store.jobFail({
        id: "x",
        token: job.token,
        now: Date.now(),
        state: "failed",
        nextRunAt: 0,
        result: FAILURE,
      });
      expect((await jobOf(t.store, "x")).state).toBe("canceled");
      t.fixture.write("x.yaml", "command: echo x\n");
      await sync(t.store, t.fixture.dir);
      expect((await jobOf(t.store, "x")).state).toBe("pending");
    });

    test("a waiting job and the job it waits for, removed together and both back: both are queued again", async () => {
      await declareBWaitingOnA();
      for (const file of ["a.yaml", "b.yaml"]) t.fixture.remove(file);
      await sync(t.store, t.fixture.dir);
      t.fixture.write("a.yaml", "command: echo a\n");
      t.fixture.write("b.yaml", "command: echo b\nafter: [a]\n");
      const dry = await sync(t.store, t.fixture.dir, { dryRun: true });
      const lines = planLines(dry).join("\n");
      expect(lines).toContain("a  restore: its jobfile is back; queued again");
      expect(lines).toContain("b  restore: its jobfile is back; queued again");
      expect(lines).not.toContain("re-arm");
      const applied = await sync(t.store, t.fixture.dir);
      expect(appliedSummary(applied.applied as JobfileApplyResult, applied.appliedSchedules ?? null)).toBe(
        "Applied: 2 updated.",
      );
      expect((await jobOf(t.store, "b")).state).toBe("pending");
      expect((await claimAll(t.store)).map((job) => job.id)).toEqual(["a"]);
    });

    // Removing a cancels b twice over: as a's dependent, then for its own file. Only its own
    // file's return may bring b back; a's return alone must not (it once did, and b ran).
    test("removed together, only the job waited on back: the other stays canceled, its file still gone", async () => {
      await declareBWaitingOnA();
      for (const file of ["a.yaml", "b.yaml"]) t.fixture.remove(file);
      await sync(t.store, t.fixture.dir);
      t.fixture.write("a.yaml", "command: echo a\n");
      const dry = await sync(t.store, t.fixture.dir, { dryRun: true });
      expect(planLines(dry).join("\n")).not.toContain("re-arm");
      await sync(t.store, t.fixture.dir);
      const b = await jobOf(t.store, "b");
      expect(b.state).toBe("canceled");
      expect(b.last_error).toBe("its jobfile was removed");
      expect((await claimAll(t.store)).map((job) => job.id)).toEqual(["a"]);
      // Its own file back: queued again, waiting on a.
      t.fixture.write("b.yaml", "command: echo b\nafter: [a]\n");
      await sync(t.store, t.fixture.dir);
      expect((await jobOf(t.store, "b")).state).toBe("pending");
    });

    test("the job waited on removed, then the waiting one in a later sync, then only the first back: the second stays canceled", async () => {
      await declareBWaitingOnA();
      t.fixture.remove("a.yaml");
      await sync(t.store, t.fixture.dir);
      t.fixture.remove("b.yaml");
      await sync(t.store, t.fixture.dir);
      t.fixture.write("a.yaml", "command: echo a\n");
      await sync(t.store, t.fixture.dir);
      expect((await jobOf(t.store, "b")).state).toBe("canceled");
      expect((await claimAll(t.store)).map((job) => job.id)).toEqual(["a"]);
      t.fixture.write("b.yaml", "command: echo b\nafter: [a]\n");
      await sync(t.store, t.fixture.dir);
      expect((await jobOf(t.store, "b")).state).toBe("pending");
    });

    test("a job the user canceled stays canceled", async () => {
      await t.setUp();
      t.fixture.write("x.yaml", "command: echo x\n");
      await sync(t.store, t.fixture.dir);
      expect((await moveJob(t.store, "x", "cancel", Date.now())).moved).toBe(true);
      const plan = await awayAndBack();
      expect(plan.join("\n")).not.toContain("queued again");
      const job = await jobOf(t.store, "x");
      expect([job.state, job.last_error]).toEqual(["canceled", "canceled by the user"]);
    });

    test("a job the user killed while it ran stays canceled", async () => {
      await t.setUp();
      t.fixture.write("x.yaml", "command: echo x\n");
      await sync(t.store, t.fixture.dir);
      const [job] = await claimAll(t.store);
      if (!job) throw new Error("nothing claimed");
      // As the worker records a run `queuectl kill` ended.
      await t.store.jobFail({
        id: "x",
        token: job.token,
        now: Date.now(),
        state: "canceled",
        nextRunAt: 0,
        result: { ...FAILURE, exitCode: null, signal: "SIGTERM", error: "killed by user" },
      });
      await awayAndBack();
      expect((await jobOf(t.store, "x")).state).toBe("canceled");
    });
  });

  describe("the plan tells what happens to the jobs that wait", () => {
    test("a dependent another removed dependency still cancels is not announced as re-armed", async () => {
      await t.setUp();
      t.fixture.write("a1.yaml", "command: echo a1\n");
      t.fixture.write("a2.yaml", "command: echo a2\n");
      t.fixture.write("b.yaml", "command: echo b\nafter: [a1, a2]\n");
      await sync(t.store, t.fixture.dir);
      t.fixture.remove("a1.yaml");
      t.fixture.remove("a2.yaml");
      await sync(t.store, t.fixture.dir);
      t.fixture.write("a1.yaml", "command: echo a1\n");
      const oneBack = await sync(t.store, t.fixture.dir, { dryRun: true });
      expect(planLines(oneBack).join("\n")).not.toContain("re-arm");
      expect((await sync(t.store, t.fixture.dir)).applied?.rearmed).toEqual([]);
      expect((await jobOf(t.store, "b")).state).toBe("canceled");
      t.fixture.write("a2.yaml", "command: echo a2\n");
      const bothBack = await sync(t.store, t.fixture.dir, { dryRun: true });
      expect(planLines(bothBack).join("\n")).toContain("queued again; re-arms b");
      expect((await sync(t.store, t.fixture.dir)).applied?.rearmed).toEqual(["b"]);
      expect((await jobOf(t.store, "b")).state).toBe("pending");
    });

    test("a job declared after one that ended dead is shown canceled at once, as the apply then does", async () => {
      await t.setUp();
      await queueByHand(t.store, { id: "t", command: "exit 1", max_retries: 0 });
      const [job] = await claimAll(t.store);
      if (!job) throw new Error("nothing claimed");
      await t.store.jobFail({
        id: "t",
        token: job.token,
        now: Date.now(),
        state: "dead",
        nextRunAt: 0,
        result: FAILURE,
      });
      t.fixture.write("deploy.yaml", "command: echo deploy\nafter: [t]\n");
      // Declared beside it, a job that waits for one this very sync queues is not.
      t.fixture.write("build.yaml", "command: echo build\n");
      t.fixture.write("ship.yaml", "command: echo ship\nafter: [build]\n");
      const dry = await sync(t.store, t.fixture.dir, { dryRun: true });
      const lines = planLines(dry);
      expect(lines.find((line) => line.includes("deploy"))).toContain(
        "canceled at once: dependency t ended dead",
      );
      expect(lines.find((line) => line.includes("ship"))).not.toContain("canceled at once");
      expect((await sync(t.store, t.fixture.dir)).canceledAtOnce.map((cause) => cause.id)).toEqual([
        "deploy",
      ]);
      expect((await jobOf(t.store, "deploy")).state).toBe("canceled");
      expect((await jobOf(t.store, "ship")).state).toBe("pending");
    });

    /** The dry run's lines, then the real sync's outcome, of the folder as it is now. */
    async function dryThenApply() {
      const lines = planLines(await sync(t.store, t.fixture.dir, { dryRun: true })).join("\n");
      return { lines, outcome: await sync(t.store, t.fixture.dir) };
    }

    test("a restore re-arms a chain, each link counting the ones re-armed before it", async () => {
      await t.setUp();
      t.fixture.write("a.yaml", "command: echo a\n");
      t.fixture.write("b.yaml", "command: echo b\nafter: [a]\n");
      t.fixture.write("d.yaml", "command: echo d\nafter: [a, b]\n");
      await sync(t.store, t.fixture.dir);
      t.fixture.remove("a.yaml");
      await sync(t.store, t.fixture.dir);
      t.fixture.write("a.yaml", "command: echo a\n");
      // A job declared beside the restore that waits for a re-armed one is not canceled at once.
      t.fixture.write("e.yaml", "command: echo e\nafter: [b]\n");
      const { lines, outcome } = await dryThenApply();
      expect(lines).toContain("re-arms b, d");
      expect(lines).not.toContain("canceled at once");
      expect(outcome.applied?.rearmed).toEqual(["b", "d"]);
      expect(outcome.canceledAtOnce).toEqual([]);
      for (const id of ["b", "d", "e"]) expect((await jobOf(t.store, id)).state).toBe("pending");
    });

    test("canceled at once carries down a chain of new declarations", async () => {
      await t.setUp();
      await queueByHand(t.store, { id: "z", command: "true" });
      expect((await moveJob(t.store, "z", "cancel", Date.now())).moved).toBe(true);
      t.fixture.write("y.yaml", "command: echo y\nafter: [z]\n");
      t.fixture.write("x.yaml", "command: echo x\nafter: [y]\n");
      const { lines, outcome } = await dryThenApply();
      expect(lines).toContain("y  create; canceled at once: dependency z ended canceled");
      expect(lines).toContain("x  create; canceled at once: dependency y ended canceled");
      expect(outcome.canceledAtOnce.map((cause) => cause.id).sort()).toEqual(["x", "y"]);
    });

    test("a dependent queued by hand that another of its dependencies still cancels is not announced as re-armed", async () => {
      await t.setUp();
      t.fixture.write("a.yaml", "command: echo a\n");
      await sync(t.store, t.fixture.dir);
      await queueByHand(t.store, { id: "w", command: "true" });
      await queueByHand(t.store, { id: "h", command: "true", after: ["a", "w"] });
      t.fixture.remove("a.yaml");
      await sync(t.store, t.fixture.dir);
      expect((await moveJob(t.store, "w", "cancel", Date.now())).moved).toBe(true);
      t.fixture.write("a.yaml", "command: echo a\n");
      const { lines, outcome } = await dryThenApply();
      expect(lines).not.toContain("re-arm");
      expect(outcome.applied?.rearmed).toEqual([]);
      expect((await jobOf(t.store, "h")).state).toBe("canceled");
    });
  });
}
