/**
 * The outcome counters of `/metrics` against what real workers wrote, on every backend: a
 * plain `kill` cancels the job, so it is neither a failure that left a retry nor one that
 * moved the job to the DLQ, whether the worker or a rescue carried it out; `kill --retry`
 * is a failure like any other; and a run that exited 0 but whose result was not stored
 * completed its job.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { ATTEMPT_ERROR_TEXTS, type AttemptFacts, countOutcomes } from "../../src/core/attempt-outcome.ts";
import { renderMetrics } from "../../src/dashboard/metrics.ts";
import { MonotonicSeries } from "../../src/dashboard/monotonic.ts";
import type { Store } from "../../src/store/store.ts";
import { KILLED_BY_USER, killJobs } from "../../src/worker/kill.ts";
import { waitFor } from "../helpers/cli.ts";
import { backends, withQueue } from "../worker/in-process.ts";
import { parsePrometheusText, seriesValue } from "./prometheus-parser.ts";

setDefaultTimeout(120_000);

/** Short leases so a rescue comes quickly; a failed job waits far longer than the test for its retry. */
const SETTINGS = { lease: "2", "poll-interval": "0.1", "backoff-base": "100" };

async function counters(store: Store, queue: string): Promise<Record<string, number>> {
  const families = parsePrometheusText(await renderMetrics(store, Date.now(), new MonotonicSeries()));
  const value = (name: string) => seriesValue(families, `queuectl_${name}_total`, { queue });
  return {
    completed: value("jobs_completed"),
    failed: value("jobs_failed"),
    dead: value("jobs_dead"),
    retries: value("job_retries"),
  };
}

async function inState(store: Store, id: string, state: string): Promise<void> {
  await waitFor(async () => (await store.jobGet({ id }))?.state === state, {
    timeoutMs: 60_000,
    what: `${id} to be ${state}`,
  });
}

test("the texts the counters match are the ones the worker writes", () => {
  expect(ATTEMPT_ERROR_TEXTS.killed).toBe(KILLED_BY_USER);
  expect(ATTEMPT_ERROR_TEXTS.rescuedKillPrefix.startsWith(KILLED_BY_USER)).toBe(true);
  // A retry kill's text (kill.ts, rescue.ts) matches neither: it counts as a failure, and
  // nothing a later run changes on the job's row can move it to another counter.
  const retryKill: string = `${KILLED_BY_USER} (kill --retry); lease expired`;
  expect(retryKill).not.toBe(ATTEMPT_ERROR_TEXTS.killed);
  expect(retryKill.startsWith(ATTEMPT_ERROR_TEXTS.rescuedKillPrefix)).toBe(false);
});

test("an attempt handed back counts as nothing, and its retry is counted once", () => {
  const facts: AttemptFacts = {
    finished: true,
    exitZero: false,
    errorKind: "released",
    lastTry: true,
    retry: true,
  };
  expect(
    countOutcomes([
      { ...facts, queue: "q", n: 2 },
      { ...facts, errorKind: "other", queue: "q", n: 1 },
      { ...facts, finished: false, queue: "q", n: 1 },
    ]),
  ).toEqual([{ queue: "q", completed: 0, failed: 0, dead: 1, retries: 2 }]);
});

for (const backend of backends) {
  describe(`/metrics outcome counters on ${backend.name}`, () => {
    test(
      "a kill is no failed or dead attempt; kill --retry is; a completed run with a note completes",
      withQueue(backend, SETTINGS, async (h, store) => {
        // Claimed by a worker that is gone, then killed: rescues carry out both kills.
        await h.enqueue(store, [
          { id: "orphan-cancel", command: "sleep 300", queue: "emails" },
          { id: "orphan-retry", command: "sleep 300", queue: "emails", max_retries: 2 },
        ]);
        for (const id of ["orphan-cancel", "orphan-retry"]) {
          const claimed = await store.jobClaim({
            workerId: "crashed",
            host: "gone",
            now: Date.now(),
            leaseMs: 500,
          });
          expect(claimed?.id).toBe(id);
        }
        await killJobs(store, ["orphan-cancel"]);
        await killJobs(store, ["orphan-retry"], { retry: true });

        h.start(await h.open(), { concurrency: 4 });
        await inState(store, "orphan-cancel", "canceled");
        await inState(store, "orphan-retry", "failed");

        await h.enqueue(store, [
          { id: "pg/3", command: "sleep 20", queue: "emails" },
          // On its last try: a kill that cancels it is not a move to the DLQ either.
          { id: "last", command: "sleep 300", queue: "emails", max_retries: 0 },
          { id: "last-retry", command: "sleep 300", queue: "emails", max_retries: 0 },
          { id: "noted", command: 'echo "not json" > "$QUEUECTL_RESULT"', queue: "emails" },
        ]);
        await inState(store, "noted", "completed");
        await waitFor(async () => (await store.jobCounts()).processing === 3, { what: "three jobs to run" });
        await killJobs(store, ["pg/3", "last"]);
        await killJobs(store, ["last-retry"], { retry: true });
        await inState(store, "pg/3", "canceled");
        await inState(store, "last", "canceled");
        await inState(store, "last-retry", "dead");
        expect((await store.attemptList({ jobId: "noted" }))[0]?.error).toStartWith(
          ATTEMPT_ERROR_TEXTS.notePrefix,
        );

        expect(await counters(store, "emails")).toEqual({ completed: 1, failed: 1, dead: 1, retries: 0 });
      }),
    );
  });
}
