/**
 * A stopping worker fires no schedule: what it queued would wait for another worker, and
 * with `overlap: replace` it would cancel the very run it waits to finish. The ticker of a
 * worker that is not stopping fires the same due schedule at its first tick, and wakes its
 * worker: an idle worker waits for other processes' commits, and the occurrence its own
 * ticker queued waited for its next poll (with `poll-interval 1h`, an hour).
 */

import { describe, expect, test } from "bun:test";
import { resolveConfig } from "../../src/core/config.ts";
import { specRevision } from "../../src/core/revision.ts";
import type { WorkerEvent } from "../../src/worker/events.ts";
import { scheduleTicker } from "../../src/worker/schedule-ticker.ts";
import { waitFor } from "../helpers/cli.ts";
import { backends, dueSchedule, withQueue } from "./in-process.ts";

for (const backend of backends) {
  describe(`the schedule ticker (${backend.name})`, () => {
    test(
      "fires a due schedule, unless its worker is stopping",
      withQueue(backend, {}, async (_h, store) => {
        await dueSchedule(store, "tick");
        let ticks = 0;
        let queued = 0;
        const ticker = (stopping: boolean) =>
          scheduleTicker({
            store,
            now: () => Date.now(),
            // Read once each tick has ended, to time the next: it counts the ticks done.
            config: () => {
              ticks++;
              return resolveConfig({});
            },
            emit: (_event: WorkerEvent) => {},
            stopping: () => stopping,
            queued: () => queued++,
            onError: (error) => {
              throw error;
            },
          });
        const stopping = ticker(true);
        stopping.start();
        await waitFor(() => ticks >= 1, { what: "the stopping worker's first tick" });
        await stopping.stop();
        expect([await store.jobList({}), queued]).toEqual([[], 0]);
        const running = ticker(false);
        running.start();
        await waitFor(async () => (await store.jobList({})).length === 1, { what: "the occurrence" });
        await running.stop();
        expect((await store.jobList({}))[0]?.id).toStartWith("tick@");
        expect(queued).toBe(1);
      }),
    );

    test(
      "an idle worker starts the occurrence its own ticker queued at once, not at its next poll",
      withQueue(backend, { "poll-interval": "3600", lease: "3" }, async (h, store) => {
        const { events } = h.start(store);
        await waitFor(() => events.some((event) => event.type === "started"), {
          what: "the worker to start",
        });
        // Due after the worker's first idle look, so only its ticker (every second here) finds it.
        const spec = { id: "soon", command: "true", schedule: "* * * * *" };
        const dueAt = Date.now() + 1_500;
        await store.scheduleUpsert({
          id: "soon",
          spec,
          revision: specRevision(spec),
          source: null,
          nextAt: dueAt,
          now: Date.now(),
        });
        const occurrence = await waitFor(async () => (await store.jobList({}))[0]?.id, {
          what: "the occurrence",
        });
        expect(await h.settled(store, occurrence, 20_000)).toBe("completed");
      }),
    );
  });
}
