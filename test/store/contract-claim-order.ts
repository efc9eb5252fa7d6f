/**
 * Contract: which job a claim takes when jobs wait in several queues. The best of every
 * served queue, by priority, then due time, then enqueue order; paused queues, queues at
 * their limit and jobs waiting on others left out; the same for one claim at a time and for
 * a worker's batched round.
 */

import { expect, test } from "bun:test";
import { MAX_QUEUES_WALKED } from "../../src/store/claim-route.ts";
import type { Store } from "../../src/store/store.ts";
import { newJob, T0, type WithStore } from "./contract-helpers.ts";

const CLAIM = { workerId: "w", host: "h", leaseMs: 60_000 };

/** Ids in the order `claimOne` hands them out until it finds nothing. */
async function claimOrder(claimOne: () => Promise<{ id: string } | null>): Promise<string[]> {
  const ids: string[] = [];
  for (let job = await claimOne(); job; job = await claimOne()) ids.push(job.id);
  return ids;
}

/** Jobs in four queues, enqueued out of claim order; `held` is paused, `single` allows one at a time. */
async function seedQueues(store: Store): Promise<void> {
  await store.jobInsertMany({
    jobs: [
      newJob("a-late", { queue: "a", nextRunAt: T0 - 10 }),
      newJob("held-urgent", { queue: "held", priority: 9 }),
      newJob("b-first", { queue: "b", nextRunAt: T0 - 50 }),
      newJob("a-urgent", { queue: "a", priority: 5 }),
      newJob("single-1", { queue: "single", nextRunAt: T0 - 40 }),
      newJob("single-2", { queue: "single", nextRunAt: T0 - 45 }),
      newJob("b-future", { queue: "b", nextRunAt: T0 + 1000, priority: 9 }),
      newJob("b-waits", { queue: "b", priority: 9, after: ["a-late"] }),
      newJob("a-same-time", { queue: "a", nextRunAt: T0 - 50 }),
      newJob("b-urgent", { queue: "b", priority: 5, nextRunAt: T0 - 1 }),
    ],
    now: T0 - 100,
  });
  await store.queueSet({ name: "held", paused: true });
  await store.queueSet({ name: "single", concurrency: 1 });
}

const EVERY_QUEUE = ["b-urgent", "a-urgent", "b-first", "a-same-time", "single-2", "a-late"];

export function claimOrderContract(withStore: WithStore): void {
  test(
    "one claim at a time takes the best job of any served queue, paused and full queues and waiting jobs aside",
    withStore(async ({ store, fresh }) => {
      await seedQueues(store);
      expect(await claimOrder(() => store.jobClaim({ ...CLAIM, now: T0 }))).toEqual(EVERY_QUEUE);
      const named = await fresh();
      await seedQueues(named);
      const claimOne = () => named.jobClaim({ ...CLAIM, now: T0, queues: ["a", "held", "nowhere"] });
      expect(await claimOrder(claimOne)).toEqual(["a-urgent", "a-same-time", "a-late"]);
    }),
  );

  test(
    "a worker's batched round takes the same jobs, in the same order outside queues with a limit",
    withStore(async ({ store, fresh }) => {
      await seedQueues(store);
      const ids: string[] = [];
      for (let round = 0; round < 5; round++) {
        const { claimed } = await store.jobCompleteAndClaim({
          completions: [],
          claim: { ...CLAIM, limit: 2 },
          now: T0,
        });
        ids.push(...claimed.map((job) => job.id));
      }
      expect(ids.toSorted()).toEqual(EVERY_QUEUE.toSorted());
      // PostgreSQL claims in a queue with a limit after the rest, its row locked first (claim.ts).
      const unlimited = (list: string[]) => list.filter((id) => !id.startsWith("single-"));
      expect(unlimited(ids)).toEqual(unlimited(EVERY_QUEUE));
      const named = await fresh();
      await seedQueues(named);
      const claim = { ...CLAIM, limit: 2, queues: ["b", "single"] };
      const first = await named.jobCompleteAndClaim({ completions: [], claim, now: T0 });
      const second = await named.jobCompleteAndClaim({ completions: [], claim, now: T0 });
      expect([...first.claimed, ...second.claimed].map((job) => job.id)).toEqual([
        "b-urgent",
        "b-first",
        "single-2",
      ]);
    }),
  );

  test(
    "past as many queues as a claim walks one by one, it walks in claim order and still leaves a paused queue alone",
    withStore(async ({ store, fresh }) => {
      // One job in each of more queues than are walked one by one, the priority falling and
      // the due time rising with the queue's number, and a paused queue's job ahead of all.
      const count = MAX_QUEUES_WALKED + 6;
      const seed = async (target: typeof store) => {
        const jobs = Array.from({ length: count }, (_, i) =>
          newJob(`q${i}`, { queue: `queue-${i}`, priority: i % 3, nextRunAt: T0 - count + i }),
        );
        jobs.push(newJob("held", { queue: "held", priority: 9 }));
        await target.jobInsertMany({ jobs, now: T0 - 1000 });
        await target.queueSet({ name: "held", paused: true });
      };
      const expected = Array.from({ length: count }, (_, i) => ({ id: `q${i}`, priority: i % 3, at: i }))
        .sort((a, b) => b.priority - a.priority || a.at - b.at)
        .map((job) => job.id);
      await seed(store);
      expect(await claimOrder(() => store.jobClaim({ ...CLAIM, now: T0 }))).toEqual(expected);
      const batched = await fresh();
      await seed(batched);
      const ids: string[] = [];
      for (let round = 0; round < 20 && ids.length < count; round++) {
        const { claimed } = await batched.jobCompleteAndClaim({
          completions: [],
          claim: { ...CLAIM, limit: 7 },
          now: T0,
        });
        ids.push(...claimed.map((job) => job.id));
      }
      expect(ids).toEqual(expected);
    }),
  );
}
