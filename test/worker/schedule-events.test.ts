/**
 * What a worker says about schedules, on every backend: an occurrence a newer one replaces
 * (`overlap: replace`) is stopped as canceled, never as a lease lost to another worker; and
 * an owed occurrence passed over because a job already holds its id is said out loud.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { waitFor } from "../helpers/cli.ts";
import { backends, type Harness, withQueue } from "./in-process.ts";

setDefaultTimeout(120_000);

/** Short leases and a quick poll: these tests wait on heartbeats, not on the CPU. */
const SETTINGS = { lease: "2", "poll-interval": "0.1" };

function eventsOf(h: Harness) {
  return h.workers.flatMap((worker) => worker.events);
}

for (const backend of backends) {
  describe.concurrent(`schedule events (${backend.name})`, () => {
    test(
      "a run replaced by a newer occurrence is reported as replaced, and its result as discarded for that reason",
      withQueue(backend, SETTINGS, async (h, store) => {
        h.start(await h.open());
        await h.enqueue(store, [
          { id: "rep", command: "sleep 60", schedule: "* * * * * *", overlap: "replace" },
        ]);
        const discarded = await waitFor(
          () =>
            eventsOf(h).find((event) => event.type === "job-finished" && event.outcome === "discarded") ??
            null,
          { timeoutMs: 60_000, what: "a replaced run to end" },
        );
        await store.scheduleRemove({ id: "rep" });
        if (discarded.type !== "job-finished") throw new Error("unreachable");
        expect(discarded.canceled).toBe("replaced by a newer occurrence");
        const stopped = eventsOf(h).filter((event) => event.type === "canceled-while-running");
        expect(stopped).toContainEqual({
          type: "canceled-while-running",
          jobId: discarded.jobId,
          reason: "replaced by a newer occurrence",
        });
        expect(eventsOf(h).filter((event) => event.type === "lease-lost")).toEqual([]);
        expect((await store.jobGet({ id: discarded.jobId }))?.last_error).toBe(
          "replaced by a newer occurrence",
        );
      }),
    );

    test(
      "an occurrence whose id a job made before the schedule holds is skipped, and the worker says so",
      withQueue(backend, SETTINGS, async (h, store) => {
        const at = new Date(Math.floor((Date.now() + 8_000) / 1000) * 1000).toISOString();
        const taken = `sec@${at}`;
        // Before the schedule exists nothing claims the id, so the job goes in.
        await h.enqueue(store, [{ id: taken, command: "echo HANDMADE" }]);
        await h.enqueue(store, [
          { id: "sec", command: "true", schedule: "* * * * * *", catchup: "all", overlap: "allow" },
        ]);
        h.start(await h.open());
        await waitFor(
          () =>
            eventsOf(h).find((event) => event.type === "occurrence-exists" && event.jobId === taken) ?? null,
          { timeoutMs: 60_000, what: `the skip of ${taken} to be reported` },
        );
        await store.scheduleRemove({ id: "sec" });
        expect(eventsOf(h).filter((event) => event.type === "occurrence-exists")).toEqual([
          { type: "occurrence-exists", jobId: taken, scheduleId: "sec" },
        ]);
        expect((await store.jobGet({ id: taken }))?.spec.command).toBe("echo HANDMADE");
      }),
    );
  });
}
