/**
 * Contract: what happens to a job's dependents when it is queued again (`dlq retry`, `rerun`,
 * its jobfile declared again). Only dependents still canceled because of it move, and each
 * is decided from all of its dependencies.
 */

import { expect, test } from "bun:test";
import { UserError } from "../../src/core/errors.ts";
import type { JobState } from "../../src/core/job.ts";
import type { DeclaredChange, JobfileChanges, Store } from "../../src/store/store.ts";
import { newJob, runResult, T0, type WithStore } from "./contract-helpers.ts";

async function run(store: Store, id: string, outcome: "completed" | "dead", now: number): Promise<void> {
  const job = await store.jobClaim({ workerId: "w", host: "h", now, leaseMs: 60_000 });
  expect(job?.id).toBe(id);
  if (!job) return;
  if (outcome === "completed") await store.jobComplete({ id, token: job.token, now, result: runResult(0) });
  else
    await store.jobFail({ id, token: job.token, now, state: "dead", nextRunAt: now, result: runResult(1) });
}

function move(store: Store, id: string, name: "retry" | "rerun", now: number) {
  const from: JobState[] = name === "retry" ? ["dead"] : ["completed", "dead", "canceled"];
  return store.jobTransition({ id, from, to: "pending", resetAttempts: true, now });
}

async function stateOf(store: Store, id: string) {
  return (await store.jobGet({ id }))?.state;
}

const FOLDER = "/jobs";

function declared(id: string, extra: { after?: string[]; version?: number } = {}): DeclaredChange {
  const spec = {
    id,
    command: `echo ${id} v${extra.version ?? 1}`,
    ...(extra.after ? { after: extra.after } : {}),
  };
  const source = `${FOLDER}/${id}.yaml`;
  return {
    ...newJob(id, { source }),
    spec,
    revision: `${id}@${extra.version ?? 1}`,
    source,
    owner: FOLDER,
    adoptFrom: null,
  };
}

const none: JobfileChanges = { declarations: [], removals: [] };

export function dependenciesContract(withStore: WithStore): void {
  test(
    "a finished job whose dependency was purged since reruns: the purged one has run, so it counts as done",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: [newJob("build"), newJob("deploy", { after: ["build"] })], now: T0 });
      await run(store, "build", "completed", T0 + 1);
      await run(store, "deploy", "completed", T0 + 2);
      const purged = await store.jobPurge({ states: ["completed"], finishedBefore: T0 + 2, dryRun: false });
      expect(purged).toEqual(["build"]);
      expect(await move(store, "deploy", "rerun", T0 + 3)).toHaveLength(1);
      expect(await store.jobGet({ id: "deploy" })).toMatchObject({ state: "pending" });
      await run(store, "deploy", "completed", T0 + 4);
    }),
  );

  test(
    "a purge keeps a finished job while a job that waits on it has yet to finish: it still gets the result",
    withStore(async ({ store }) => {
      await store.jobInsertMany({
        jobs: [newJob("a"), newJob("slow"), newJob("b", { after: ["a", "slow"] })],
        now: T0,
      });
      await run(store, "a", "completed", T0 + 1);
      const purge = () => store.jobPurge({ states: ["completed"], finishedBefore: T0 + 10, dryRun: false });
      // b waits (for slow too): a stays, with its result.
      expect(await purge()).toEqual([]);
      await run(store, "slow", "completed", T0 + 2);
      expect(await store.jobGet({ id: "b" })).toMatchObject({ state: "pending" });
      expect(await purge()).toEqual([]);
      // Once b has run, a (and slow, and b) may go.
      await run(store, "b", "completed", T0 + 3);
      expect((await purge()).sort()).toEqual(["a", "b", "slow"]);
    }),
  );

  test(
    "queuing a dependency again leaves its running and completed dependents alone, even with a stale cause",
    withStore(async ({ store, location }) => {
      await store.jobInsertMany({
        jobs: [newJob("a"), newJob("b", { after: ["a"] }), newJob("c", { after: ["a"], priority: 5 })],
        now: T0,
      });
      await run(store, "a", "completed", T0 + 1);
      await run(store, "c", "completed", T0 + 2);
      const running = await store.jobClaim({ workerId: "w", host: "h", now: T0 + 3, leaseMs: 60_000 });
      expect(running?.id).toBe("b");
      // The state an older version left behind: a cause recorded on jobs that ran since.
      await location.exec("UPDATE jobs SET canceled_by = 'a' WHERE id IN ('b', 'c')");
      expect(await move(store, "a", "rerun", T0 + 4)).toHaveLength(1);
      expect(await stateOf(store, "b")).toBe("processing");
      expect(await stateOf(store, "c")).toBe("completed");
      expect(
        await store.jobComplete({ id: "b", token: running?.token ?? 0, now: T0 + 5, result: runResult(0) }),
      ).toBe(true);
      expect(await stateOf(store, "b")).toBe("completed");
    }),
  );

  test(
    "a rerun clears the cause of an old cancel, so a later retry of that dependency leaves it alone",
    withStore(async ({ store, location }) => {
      await store.jobInsertMany({ jobs: [newJob("a"), newJob("b", { after: ["a"] })], now: T0 });
      await run(store, "a", "completed", T0 + 1);
      await run(store, "b", "completed", T0 + 2);
      // b canceled because of a, while a itself ran again without re-arming it (older versions
      // did this when a's jobfile came back).
      await location.exec("UPDATE jobs SET state = 'canceled', canceled_by = 'a' WHERE id = 'b'");
      await move(store, "b", "rerun", T0 + 6);
      await run(store, "b", "completed", T0 + 7);
      await move(store, "a", "rerun", T0 + 8);
      expect(await stateOf(store, "b")).toBe("completed");
    }),
  );

  test(
    "with two dead dependencies, retrying one cancels the dependent again naming the other; retrying both re-arms it",
    withStore(async ({ store }) => {
      await store.jobInsertMany({
        jobs: [newJob("a1"), newJob("a2"), newJob("b", { after: ["a1", "a2"], priority: 9 })],
        now: T0,
      });
      await run(store, "a1", "dead", T0 + 1);
      await run(store, "a2", "dead", T0 + 2);
      expect(await store.jobGet({ id: "b" })).toMatchObject({
        state: "canceled",
        last_error: "dependency a1 ended dead",
      });
      await move(store, "a1", "retry", T0 + 3);
      expect(await store.jobGet({ id: "b" })).toMatchObject({
        state: "canceled",
        last_error: "dependency a2 ended dead",
      });
      await run(store, "a1", "completed", T0 + 4);
      // Nothing is left to claim: b is not pending behind the dead a2.
      expect(await store.jobClaim({ workerId: "w", host: "h", now: T0 + 5, leaseMs: 1000 })).toBeNull();
      expect((await store.jobCounts()).pending).toBe(0);
      await move(store, "a2", "retry", T0 + 6);
      expect(await stateOf(store, "b")).toBe("pending");
      await run(store, "a2", "completed", T0 + 7);
      await run(store, "b", "completed", T0 + 8);
    }),
  );

  test(
    "re-arming a chain decides each job after its dependencies, and a dependency still dead cancels it again",
    withStore(async ({ store }) => {
      await store.jobInsertMany({
        jobs: [
          newJob("a"),
          newJob("x"),
          newJob("b", { after: ["a"] }),
          newJob("c", { after: ["b"] }),
          newJob("d", { after: ["c", "x"] }),
        ],
        now: T0,
      });
      await run(store, "a", "dead", T0 + 1);
      await run(store, "x", "dead", T0 + 2);
      await move(store, "a", "retry", T0 + 3);
      expect(await stateOf(store, "b")).toBe("pending");
      expect(await stateOf(store, "c")).toBe("pending");
      expect(await store.jobGet({ id: "d" })).toMatchObject({
        state: "canceled",
        last_error: "dependency x ended dead",
      });
      await run(store, "a", "completed", T0 + 4);
      await run(store, "b", "completed", T0 + 5);
      await run(store, "c", "completed", T0 + 6);
      expect(await store.jobClaim({ workerId: "w", host: "h", now: T0 + 7, leaseMs: 1000 })).toBeNull();
    }),
  );

  test(
    "rerun (or retry) of a job whose dependency ended is refused, naming it, and nothing changes",
    withStore(async ({ store }) => {
      await store.jobInsertMany({
        jobs: [newJob("a"), newJob("u"), newJob("b", { after: ["a"] }), newJob("v", { after: ["u"] })],
        now: T0,
      });
      await run(store, "a", "dead", T0 + 1);
      await store.jobTransition({
        id: "u",
        from: ["pending"],
        to: "canceled",
        resetAttempts: false,
        now: T0 + 2,
      });
      const before = await store.jobGet({ id: "b" });
      const refused = move(store, "b", "rerun", T0 + 3);
      await expect(refused).rejects.toBeInstanceOf(UserError);
      await expect(refused).rejects.toThrow('job "b" waits for "a", which is dead');
      await refused.catch((error: UserError) => {
        expect(error.exitCode).toBe(2);
        expect(error.hint).toContain("queuectl dlq retry a");
      });
      expect(await store.jobGet({ id: "b" })).toEqual(before);
      expect(await stateOf(store, "a")).toBe("dead");
      await expect(move(store, "v", "rerun", T0 + 4)).rejects.toThrow(
        'job "v" waits for "u", which is canceled',
      );
      expect(await stateOf(store, "v")).toBe("canceled");
      // Once the dependency runs again, b waits for it and runs after it.
      await move(store, "a", "retry", T0 + 5);
      expect(await stateOf(store, "b")).toBe("pending");
      await run(store, "a", "completed", T0 + 6);
      await run(store, "b", "completed", T0 + 7);
    }),
  );

  test(
    "a dependent canceled because its dependency's jobfile was removed is re-armed when it is declared again",
    withStore(async ({ store }) => {
      await store.jobfileApply({
        changes: { ...none, declarations: [declared("step-a"), declared("step-b", { after: ["step-a"] })] },
        now: T0,
      });
      await store.jobfileApply({
        changes: { ...none, removals: [{ id: "step-a", owner: FOLDER }] },
        now: T0 + 1,
      });
      expect(await stateOf(store, "step-a")).toBe("canceled");
      expect(await stateOf(store, "step-b")).toBe("canceled");
      await store.jobfileApply({ changes: { ...none, declarations: [declared("step-a")] }, now: T0 + 2 });
      expect(await stateOf(store, "step-a")).toBe("pending");
      expect(await stateOf(store, "step-b")).toBe("pending");
      await run(store, "step-a", "completed", T0 + 3);
      await run(store, "step-b", "completed", T0 + 4);
    }),
  );

  test(
    "a jobfile revision that drops the dependency clears its old cause, so retrying that dependency leaves the job alone",
    withStore(async ({ store }) => {
      await store.jobfileApply({
        changes: { ...none, declarations: [declared("a"), declared("b", { after: ["a"] })] },
        now: T0,
      });
      await run(store, "a", "dead", T0 + 1);
      expect(await stateOf(store, "b")).toBe("canceled");
      await store.jobfileApply({
        changes: { ...none, declarations: [declared("b", { version: 2 })] },
        now: T0 + 2,
      });
      await run(store, "b", "completed", T0 + 3);
      await move(store, "a", "retry", T0 + 4);
      expect(await stateOf(store, "b")).toBe("completed");
    }),
  );

  test(
    "an apply whose declarations wait on themselves through stored waiting jobs is refused whole",
    withStore(async ({ store }) => {
      // b (another folder's, or a sync that won the race) waits for a; a now declares after b.
      await store.jobfileApply({
        changes: { ...none, declarations: [declared("a"), declared("b", { after: ["a"] })] },
        now: T0,
      });
      const apply = store.jobfileApply({
        changes: { ...none, declarations: [declared("a", { version: 2, after: ["b"] })] },
        now: T0 + 1,
      });
      await expect(apply).rejects.toBeInstanceOf(UserError);
      await expect(apply).rejects.toThrow('the dependencies of job "a" form a cycle');
      expect((await store.jobGet({ id: "a" }))?.revision).toBe("a@1");
      // Completed jobs wait for nothing: waiting on one that once waited for this one is fine.
      await run(store, "a", "completed", T0 + 2);
      await run(store, "b", "completed", T0 + 3);
      const later = await store.jobfileApply({
        changes: { ...none, declarations: [declared("a", { version: 3, after: ["b"] })] },
        now: T0 + 4,
      });
      expect(later.replace).toEqual(["a"]);
    }),
  );

  test(
    "a declaration back from removal reports as re-armed only the dependents it re-armed, not one another ended dependency still cancels",
    withStore(async ({ store }) => {
      const all = [declared("a1"), declared("a2"), declared("b", { after: ["a1", "a2"] })];
      await store.jobfileApply({ changes: { ...none, declarations: all }, now: T0 });
      const gone = ["a1", "a2"].map((id) => ({ id, owner: FOLDER }));
      await store.jobfileApply({ changes: { ...none, removals: gone }, now: T0 + 1 });
      expect(await stateOf(store, "b")).toBe("canceled");
      const oneBack = await store.jobfileApply({
        changes: { ...none, declarations: [declared("a1")] },
        now: T0 + 2,
      });
      expect(oneBack.replace).toEqual(["a1"]);
      expect(oneBack.rearmed).toEqual([]);
      expect(await stateOf(store, "b")).toBe("canceled");
      const bothBack = await store.jobfileApply({
        changes: { ...none, declarations: [declared("a1"), declared("a2")] },
        now: T0 + 3,
      });
      expect(bothBack.rearmed).toEqual(["b"]);
      expect(await stateOf(store, "b")).toBe("pending");
    }),
  );

  test(
    "a loop closed deep in a long stored pipeline is found and named by the job that closes it",
    withStore(async ({ store }) => {
      // Each step waits for the one before; the apply that makes step 0 wait for the last is refused.
      const steps = Array.from({ length: 1500 }, (_, i) =>
        declared(`step-${i}`, i === 0 ? {} : { after: [`step-${i - 1}`] }),
      );
      await store.jobfileApply({ changes: { ...none, declarations: steps }, now: T0 });
      const loop = store.jobfileApply({
        changes: { ...none, declarations: [declared("step-0", { version: 2, after: ["step-1499"] })] },
        now: T0 + 1,
      });
      await expect(loop).rejects.toThrow('the dependencies of job "step-0" form a cycle');
      // Waiting for the last step from outside the pipeline is no loop.
      const tail = await store.jobfileApply({
        changes: { ...none, declarations: [declared("after-all", { after: ["step-1499"] })] },
        now: T0 + 2,
      });
      expect(tail.create).toEqual(["after-all"]);
    }),
  );
}
