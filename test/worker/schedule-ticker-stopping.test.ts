/**
 * A stopping worker fires no schedule: what it queued would wait for another worker, and
 * with `overlap: replace` it would cancel the very run it waits to finish. The ticker of a
 * worker that is not stopping fires the same due schedule at its first tick.
 */

import { describe, expect, test } from "bun:test";
import { resolveConfig } from "../../src/core/config.ts";
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
            onError: (error) => {
              throw error;
            },
          });
        const stopping = ticker(true);
        stopping.start();
        await waitFor(() => ticks >= 1, { what: "the stopping worker's first tick" });
        await stopping.stop();
        expect(await store.jobList({})).toEqual([]);
        const running = ticker(false);
        running.start();
        await waitFor(async () => (await store.jobList({})).length === 1, { what: "the occurrence" });
        await running.stop();
        expect((await store.jobList({}))[0]?.id).toStartWith("tick@");
      }),
    );
  });
}
