/**
 * An idle worker sleeps until its next job falls due, not a whole poll interval: a delay
 * or a retry's backoff makes no commit to wake it when its time comes. With a 30 s poll, a
 * job delayed by a second must still start within seconds.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { waitFor } from "../helpers/cli.ts";
import { backends, withQueue } from "./in-process.ts";

setDefaultTimeout(120_000);

/** Far above what the jobs below wait for, far below the 30 s poll they would wait without the fix. */
const WITHIN_MS = 15_000;

for (const backend of backends) {
  describe.concurrent(`an idle worker wakes when a job falls due (${backend.name})`, () => {
    test(
      "a delayed job and a retry's backoff run on time with a long poll interval",
      withQueue(backend, { "poll-interval": "30", "backoff-base": "2" }, async (h, store) => {
        const running = h.start(store);
        // Another connection, as another process would enqueue: a commit on the worker's own
        // connection is no news to it.
        const enqueuer = await h.open();
        await waitFor(async () => running.events.some((event) => event.type === "started"), {
          timeoutMs: 10_000,
          what: "the worker to start",
        });
        await h.enqueue(enqueuer, [{ id: "delayed", command: "true", delay: "1s" }]);
        expect(await h.settled(store, "delayed", WITHIN_MS)).toBe("completed");
        // First attempt fails, the retry is due about 2 s later.
        await h.enqueue(enqueuer, [
          { id: "retried", command: ["sh", "-c", '[ "$QUEUECTL_ATTEMPT" = 2 ]'], max_retries: 1 },
        ]);
        expect(await h.settled(store, "retried", WITHIN_MS)).toBe("completed");
        expect((await store.jobGet({ id: "retried" }))?.attempts).toBe(2);
      }),
    );
  });
}
