/**
 * `worker run --drain` ends once nothing it could run is left. A paused queue's waiting jobs
 * do not hold it (nothing would start them, so a script would hang), and the worker says
 * which queues still hold jobs; running jobs always hold it.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import type { QueueInfo, Store } from "../../src/store/store.ts";
import { drainVerdict } from "../../src/worker/options.ts";
import { waitFor } from "../helpers/cli.ts";
import { backends, dueSchedule, type Harness, type RunningWorker, withQueue } from "./in-process.ts";

setDefaultTimeout(120_000);

function queue(name: string, paused: boolean, counts: Partial<QueueInfo["counts"]>): QueueInfo {
  const all = {
    pending: 0,
    processing: 0,
    completed: 0,
    failed: 0,
    dead: 0,
    canceled: 0,
    total: 0,
    ...counts,
  };
  return { name, concurrency: null, paused, counts: all };
}

describe("drainVerdict", () => {
  test("waiting jobs of paused queues are named, not waited for; running ones are", () => {
    const queues = [
      queue("default", false, { completed: 3 }),
      queue("other", true, { pending: 2, failed: 1 }),
      queue("later", true, { pending: 1 }),
    ];
    expect(drainVerdict(queues, null)).toEqual({
      done: true,
      waitingInPaused: 4,
      pausedQueues: ["other", "later"],
    });
    expect(drainVerdict([...queues, queue("busy", true, { processing: 1 })], null).done).toBe(false);
    expect(drainVerdict([...queues, queue("open", false, { failed: 1 })], null).done).toBe(false);
  });

  test("only the queues the worker serves count", () => {
    const queues = [
      queue("mine", false, {}),
      queue("theirs", false, { pending: 5 }),
      queue("shut", true, { pending: 1 }),
    ];
    expect(drainVerdict(queues, ["mine"])).toEqual({ done: true, waitingInPaused: 0, pausedQueues: [] });
    expect(drainVerdict(queues, null).done).toBe(false);
  });
});

/** Starts a draining worker and waits, with a deadline, for it to exit. */
async function drainedWorker(h: Harness, store: Store): Promise<RunningWorker> {
  const running = h.start(store, { drain: true });
  let ended = false;
  running.run.then(() => {
    ended = true;
  });
  await waitFor(async () => ended, { timeoutMs: 30_000, what: "the draining worker to exit" });
  return running;
}

for (const backend of backends) {
  describe.concurrent(`draining beside a paused queue (${backend.name})`, () => {
    test(
      "the worker runs what it can, exits, and names the paused queue",
      withQueue(backend, { "poll-interval": "0.1" }, async (h, store) => {
        await h.enqueue(store, [
          { id: "open", command: "true" },
          { id: "held", command: "true", queue: "other" },
        ]);
        await store.queueSet({ name: "other", paused: true });
        const running = await drainedWorker(h, store);
        expect((await store.jobGet({ id: "open" }))?.state).toBe("completed");
        expect((await store.jobGet({ id: "held" }))?.state).toBe("pending");
        expect(running.events.find((event) => event.type === "stopping")).toMatchObject({
          reason: "drained",
          waitingInPaused: 1,
          pausedQueues: ["other"],
        });
      }),
    );

    test(
      "jobs that wait on a paused queue's job do not hold it either",
      withQueue(backend, { "poll-interval": "0.1" }, async (h, store) => {
        await h.enqueue(store, [
          { id: "up", command: "true", queue: "other" },
          { id: "down", command: "true", after: ["up"] },
        ]);
        await store.queueSet({ name: "other", paused: true });
        // It hung here: `down`, in an open queue, counted as work left.
        const running = await drainedWorker(h, store);
        expect((await store.jobGet({ id: "down" }))?.state).toBe("pending");
        expect(running.events.find((event) => event.type === "stopping")).toMatchObject({
          reason: "drained",
          pausedQueues: ["other"],
        });
      }),
    );

    test(
      "a schedule that is already due fires before the worker decides the queue is empty",
      withQueue(backend, { "poll-interval": "0.1" }, async (h, store) => {
        await dueSchedule(store, "tick");
        const running = h.start(store, { drain: true });
        await running.run;
        const jobs = await store.jobList({});
        expect(jobs.map((job) => [job.id.startsWith("tick@"), job.state])).toEqual([[true, "completed"]]);
        expect(running.events.find((event) => event.type === "stopping")).toMatchObject({
          reason: "drained",
        });
      }),
    );
  });
}
