/** Contract: when an idle worker's next job falls due (Store.jobNextDueAt). */

import { expect, test } from "bun:test";
import { DUE_WINDOW } from "../../src/store/next-due.ts";
import { newJob, T0, type WithStore } from "./contract-helpers.ts";

export function nextDueContract(withStore: WithStore): void {
  test(
    "the earliest future job a claim could take, across priorities; paused queues, other queues and blocked jobs aside",
    withStore(async ({ store }) => {
      expect(await store.jobNextDueAt({ queues: null, after: T0 })).toBeNull();
      await store.jobInsertMany({
        jobs: [
          newJob("now", { nextRunAt: T0 }),
          newJob("late", { nextRunAt: T0 + 5000 }),
          newJob("urgent", { nextRunAt: T0 + 2000, priority: 5 }),
          newJob("soon", { nextRunAt: T0 + 1500 }),
          newJob("held", { nextRunAt: T0 + 1000, queue: "held" }),
          newJob("waits", { nextRunAt: T0 + 500, after: ["now"] }),
          newJob("elsewhere", { nextRunAt: T0 + 300, queue: "other" }),
        ],
        now: T0,
      });
      await store.queueSet({ name: "held", paused: true });
      await store.queueSet({ name: "limited", concurrency: 1 });
      expect(await store.queuePausedList()).toEqual(["held"]);
      // A job due already is not "next": something else (a limit, a pause) holds it.
      expect(await store.jobNextDueAt({ queues: ["default"], after: T0 })).toBe(T0 + 1500);
      expect(await store.jobNextDueAt({ queues: null, after: T0 })).toBe(T0 + 300);
      expect(await store.jobNextDueAt({ queues: ["default"], after: T0 + 1500 })).toBe(T0 + 2000);
      expect(await store.jobNextDueAt({ queues: ["default", "held"], after: T0 + 300 })).toBe(T0 + 1500);
      await store.queueSet({ name: "held", paused: false });
      expect(await store.jobNextDueAt({ queues: ["default", "held"], after: T0 + 300 })).toBe(T0 + 1000);
      expect(await store.jobNextDueAt({ queues: ["default"], after: T0 + 5000 })).toBeNull();
    }),
  );

  test(
    "many jobs of other queues, and of a paused one, before the served one: the served job's own time",
    withStore(async ({ store }) => {
      const others = Array.from({ length: 300 }, (_, i) => [
        newJob(`bulk-${i}`, { nextRunAt: T0 + 100 + i, queue: "bulk" }),
        newJob(`held-${i}`, { nextRunAt: T0 + 50 + i, queue: "held", priority: 9 }),
      ]).flat();
      await store.jobInsertMany({
        jobs: [...others, newJob("mine", { nextRunAt: T0 + 10_000, queue: "mine" })],
        now: T0,
      });
      await store.queueSet({ name: "held", paused: true });
      expect(await store.jobNextDueAt({ queues: ["mine"], after: T0 })).toBe(T0 + 10_000);
      expect(await store.jobNextDueAt({ queues: ["mine", "held"], after: T0 })).toBe(T0 + 10_000);
      expect(await store.jobNextDueAt({ queues: null, after: T0 })).toBe(T0 + 100);
      expect(await store.jobNextDueAt({ queues: null, after: T0 + 399 })).toBe(T0 + 10_000);
    }),
  );

  test(
    "over every queue, a paused backlog longer than the window read gives an earlier bound, never a later time",
    withStore(async ({ store }) => {
      const held = Array.from({ length: DUE_WINDOW + 44 }, (_, i) =>
        newJob(`held-${i}`, { nextRunAt: T0 + 100 + i, queue: "held", priority: 9 }),
      );
      await store.jobInsertMany({ jobs: [...held, newJob("mine", { nextRunAt: T0 + 10_000 })], now: T0 });
      await store.queueSet({ name: "held", paused: true });
      expect(await store.jobNextDueAt({ queues: null, after: T0 })).toBe(T0 + 100 + DUE_WINDOW - 1);
      expect(await store.jobNextDueAt({ queues: null, after: T0 + 100 + DUE_WINDOW + 44 })).toBe(T0 + 10_000);
      // Named, the queues are read one by one: exact at once.
      expect(await store.jobNextDueAt({ queues: ["default"], after: T0 })).toBe(T0 + 10_000);
    }),
  );
}
