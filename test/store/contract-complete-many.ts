/**
 * Contract: the worker's grouped round, `jobCompleteAndClaim`. Each completion is fenced
 * as `jobComplete` is, and each claim is a claim of its own: attempt row, token, lease.
 */

import { expect, test } from "bun:test";
import { newJob, runResult, T0, type WithStore } from "./contract-helpers.ts";

const CLAIM = { workerId: "w1", host: "h", leaseMs: 1000 };

export function completeManyContract(withStore: WithStore): void {
  test(
    "an outcome that says when its command started moves the start from the claim to it, on every path",
    withStore(async ({ store }) => {
      await store.jobInsertMany({
        jobs: ["grouped", "single", "failed", "unsaid"].map((id) => newJob(id)),
        now: T0,
      });
      const { claimed } = await store.jobCompleteAndClaim({
        completions: [],
        claim: { ...CLAIM, limit: 4 },
        now: T0 + 1,
      });
      const token = (id: string) => claimed.find((job) => job.id === id)?.token ?? -1;
      // A job claimed ahead of a free slot starts later than its claim.
      await store.jobCompleteAndClaim({
        completions: [
          { id: "grouped", token: token("grouped"), result: runResult(0, { startedAt: T0 + 200 }) },
        ],
        claim: null,
        now: T0 + 300,
      });
      await store.jobComplete({
        id: "single",
        token: token("single"),
        result: runResult(0, { startedAt: T0 + 210 }),
        now: T0 + 300,
      });
      await store.jobFail({
        id: "failed",
        token: token("failed"),
        state: "failed",
        nextRunAt: T0 + 5000,
        result: runResult(1, { startedAt: T0 + 220 }),
        now: T0 + 300,
      });
      await store.jobComplete({ id: "unsaid", token: token("unsaid"), result: runResult(0), now: T0 + 300 });
      for (const [id, started] of [
        ["grouped", T0 + 200],
        ["single", T0 + 210],
        ["failed", T0 + 220],
        ["unsaid", T0 + 1],
      ] as const) {
        expect({ id, job: (await store.jobGet({ id }))?.started_at }).toEqual({ id, job: started });
        const [attempt] = await store.attemptList({ jobId: id });
        expect({ id, attempt: attempt?.started_at }).toEqual({ id, attempt: started });
      }
    }),
  );

  test(
    "an outcome that says when its command ended is dated then, not when the write came, on every path",
    withStore(async ({ store }) => {
      await store.jobInsertMany({
        jobs: ["grouped", "single", "dead", "unsaid"].map((id) => newJob(id)),
        now: T0,
      });
      const { claimed } = await store.jobCompleteAndClaim({
        completions: [],
        claim: { ...CLAIM, limit: 4 },
        now: T0 + 1,
      });
      const token = (id: string) => claimed.find((job) => job.id === id)?.token ?? -1;
      // The store was locked for ten seconds after the runs ended.
      const ended = (at: number) => ({ finishedAt: at });
      await store.jobCompleteAndClaim({
        completions: [{ id: "grouped", token: token("grouped"), result: runResult(0, ended(T0 + 100)) }],
        claim: null,
        now: T0 + 10_000,
      });
      await store.jobComplete({
        id: "single",
        token: token("single"),
        result: runResult(0, ended(T0 + 110)),
        now: T0 + 10_000,
      });
      await store.jobFail({
        id: "dead",
        token: token("dead"),
        state: "dead",
        nextRunAt: T0 + 10_000,
        result: runResult(1, ended(T0 + 120)),
        now: T0 + 10_000,
      });
      await store.jobComplete({
        id: "unsaid",
        token: token("unsaid"),
        result: runResult(0),
        now: T0 + 10_000,
      });
      for (const [id, finished] of [
        ["grouped", T0 + 100],
        ["single", T0 + 110],
        ["dead", T0 + 120],
        ["unsaid", T0 + 10_000],
      ] as const) {
        expect({ id, job: (await store.jobGet({ id }))?.finished_at }).toEqual({ id, job: finished });
        const [attempt] = await store.attemptList({ jobId: id });
        expect({ id, attempt: attempt?.finished_at }).toEqual({ id, attempt: finished });
      }
    }),
  );

  test(
    "one round completes finished runs (fenced by token) and claims up to the limit, each with its attempt",
    withStore(async ({ store }) => {
      await store.jobInsertMany({ jobs: ["a", "b", "c", "d", "e"].map((id) => newJob(id)), now: T0 });
      const first = await store.jobCompleteAndClaim({
        completions: [],
        claim: { ...CLAIM, limit: 2 },
        now: T0 + 1,
      });
      expect(first.completed).toEqual([]);
      expect(first.claimed.map((job) => job.id)).toEqual(["a", "b"]);
      for (const job of first.claimed) {
        expect(job.state).toBe("processing");
        expect(job.lease_until).toBe(T0 + 1 + 1000);
      }
      const [a, b] = first.claimed;
      if (!a || !b) throw new Error("two claims expected");
      const second = await store.jobCompleteAndClaim({
        completions: [
          { id: a.id, token: a.token, result: runResult(0, { stdoutBytes: 3, outputTail: "ok\n" }) },
          // A stale token: a newer claim would own the job, so this changes nothing.
          { id: b.id, token: b.token + 1, result: runResult(0) },
        ],
        claim: { ...CLAIM, limit: 3 },
        now: T0 + 2,
      });
      expect(second.completed).toEqual([true, false]);
      expect(second.claimed.map((job) => job.id)).toEqual(["c", "d", "e"]);
      expect((await store.jobGet({ id: "a" }))?.state).toBe("completed");
      expect((await store.jobGet({ id: "b" }))?.state).toBe("processing");
      const [attempt] = await store.attemptList({ jobId: "a" });
      expect(attempt).toMatchObject({
        finished_at: T0 + 2,
        exit_code: 0,
        stdout_bytes: 3,
        output_tail: "ok\n",
      });
      for (const job of second.claimed) {
        const attempts = await store.attemptList({ jobId: job.id });
        expect(attempts.map((row) => row.token)).toEqual([job.token]);
      }
      const last = await store.jobCompleteAndClaim({
        completions: [{ id: b.id, token: b.token, result: runResult(0) }],
        claim: null,
        now: T0 + 3,
      });
      expect(last).toEqual({ completed: [true], claimed: [] });
    }),
  );

  test(
    "a round releases the completed job's dependents and respects a queue's limit",
    withStore(async ({ store }) => {
      await store.jobInsertMany({
        jobs: [newJob("up"), newJob("down", { after: ["up"] })],
        now: T0,
      });
      await store.queueSet({ name: "narrow", concurrency: 1 });
      await store.jobInsertMany({
        jobs: [newJob("n1", { queue: "narrow" }), newJob("n2", { queue: "narrow" })],
        now: T0,
      });
      const first = await store.jobCompleteAndClaim({
        completions: [],
        claim: { ...CLAIM, limit: 5 },
        now: T0 + 1,
      });
      expect(first.claimed.map((job) => job.id).sort()).toEqual(["n1", "up"]);
      const up = first.claimed.find((job) => job.id === "up");
      if (!up) throw new Error("up not claimed");
      const second = await store.jobCompleteAndClaim({
        completions: [{ id: up.id, token: up.token, result: runResult(0) }],
        claim: { ...CLAIM, limit: 5 },
        now: T0 + 2,
      });
      expect(second.completed).toEqual([true]);
      expect(second.claimed.map((job) => job.id)).toEqual(["down"]);
    }),
  );

  test(
    "a round announces the completion of a job whose newer revision was waiting",
    withStore(async ({ store }) => {
      await store.configSet({ key: "notify", value: JSON.stringify(["http://127.0.0.1:9/hook"]) });
      const declaration = (version: number) => ({
        ...newJob("a", { source: "jobs/a.yaml" }),
        spec: { id: "a", command: `echo a v${version}` },
        revision: `a@${version}`,
        source: "jobs/a.yaml",
        owner: "jobs",
        adoptFrom: null,
      });
      await store.jobfileApply({ changes: { declarations: [declaration(1)], removals: [] }, now: T0 });
      const { claimed } = await store.jobCompleteAndClaim({
        completions: [],
        claim: { ...CLAIM, limit: 1 },
        now: T0 + 1,
      });
      await store.jobfileApply({ changes: { declarations: [declaration(2)], removals: [] }, now: T0 + 2 });
      const round = await store.jobCompleteAndClaim({
        completions: [{ id: "a", token: claimed[0]?.token ?? 0, result: runResult(0) }],
        claim: null,
        now: T0 + 3,
      });
      expect(round.completed).toEqual([true]);
      // The waiting revision is queued fresh, and the one that ran is announced as completed.
      expect(await store.jobGet({ id: "a" })).toMatchObject({ state: "pending", revision: "a@2" });
      const deliveries = await store.webhookDeliveryList({ jobId: "a" });
      expect(deliveries.map((delivery) => delivery.event)).toEqual(["completed"]);
    }),
  );
}
