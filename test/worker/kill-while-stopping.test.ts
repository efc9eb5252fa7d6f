/**
 * A kill that comes while the worker is already stopping a run (its timeout ran out) decides
 * how the attempt is recorded, until it is: a plain kill ends the job canceled, `kill
 * --retry` counts a failed attempt, which /metrics counts as the failure it is. That holds
 * when the worker reads the kill at its next heartbeat, when it reads it only after the run
 * ended (a worker on another host, its heartbeats held here), and once the main process has
 * died of the stop while its leftovers are still being stopped. On every backend, with a
 * worker in process whose host is not this process's, so kills reach it through the store.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RenewedLease, Store } from "../../src/store/store.ts";
import { killJobs } from "../../src/worker/kill.ts";
import { isProcessAlive } from "../../src/worker/process-info.ts";
import { waitFor } from "../helpers/cli.ts";
import {
  backends,
  type Harness,
  type StoreMethod,
  stallableHeartbeats,
  withQueue,
  wrappedStore,
} from "./in-process.ts";

setDefaultTimeout(120_000);

/** A lease long enough that held heartbeats never cost it; 1 s retries. */
const UNREAD = { lease: "30", "poll-interval": "0.1", "backoff-base": "1" };
/** The shortest lease: the worker reads a kill within half a second. */
const READ = { ...UNREAD, lease: "2" };

/**
 * A job whose run the timeout (1 s) stops; its SIGTERM trap waits for the test's `end` file,
 * then exits 1. Resolves once the trap runs.
 */
async function stoppedByItsTimeout(h: Harness, store: Store, maxRetries: number): Promise<{ end: string }> {
  const ready = join(h.queue.home.home, "ready");
  const mark = join(h.queue.home.home, "term");
  const end = join(h.queue.home.home, "end");
  const command = `trap 'touch ${mark}; while [ ! -e ${end} ]; do sleep 0.05; done; exit 1' TERM; touch ${ready}; sleep 300 & wait`;
  await h.enqueue(store, [{ id: "slow", command, max_retries: maxRetries, timeout: 1 }]);
  await waitFor(() => Bun.file(ready).exists(), { what: "the job to run with its trap set" });
  await waitFor(() => Bun.file(mark).exists(), { what: "the timeout to stop the run" });
  return { end };
}

/** Runs `body` beside a worker of `h` that reads no kill: its heartbeats are held until `body` ends. */
async function withHeartbeatsHeld(h: Harness, body: () => Promise<void>): Promise<void> {
  const frozen = stallableHeartbeats(await h.open());
  h.start(frozen.store);
  frozen.stall();
  try {
    await body();
  } finally {
    frozen.resume();
  }
}

async function failedAndDead(store: Store): Promise<{ failed: number; dead: number } | undefined> {
  const bounds = { durationBoundsMs: [1000], waitBoundsMs: [1000] };
  const { attemptsByQueue } = await store.metricsSnapshot({ now: Date.now(), ...bounds });
  const [counts] = attemptsByQueue;
  return counts && { failed: counts.failed, dead: counts.dead };
}

for (const backend of backends) {
  describe(`a kill while the worker stops the run (${backend.name})`, () => {
    test(
      "read only after the run ended: a plain kill ends the job canceled",
      withQueue(backend, UNREAD, async (h, store) => {
        await withHeartbeatsHeld(h, async () => {
          const { end } = await stoppedByItsTimeout(h, store, 2);
          expect(await killJobs(store, ["slow"])).toMatchObject([{ kind: "requested" }]);
          writeFileSync(end, "");
          expect(await h.settled(store, "slow")).toBe("canceled");
        });
        expect((await store.jobGet({ id: "slow" }))?.last_error).toBe(
          "killed by user while it was being stopped (timed out after 1s)",
        );
        expect((await store.attemptList({ jobId: "slow" })).length).toBe(1);
        expect(await failedAndDead(store)).toEqual({ failed: 0, dead: 0 });
      }),
    );

    test(
      "read only after the run ended: kill --retry leaves the failure as it was",
      withQueue(backend, UNREAD, async (h, store) => {
        await withHeartbeatsHeld(h, async () => {
          const { end } = await stoppedByItsTimeout(h, store, 0);
          expect(await killJobs(store, ["slow"], { retry: true })).toMatchObject([{ kind: "requested" }]);
          writeFileSync(end, "");
          expect(await h.settled(store, "slow")).toBe("dead");
        });
        expect((await store.jobGet({ id: "slow" }))?.last_error).toBe("timed out after 1s");
        expect(await failedAndDead(store)).toEqual({ failed: 0, dead: 1 });
      }),
    );

    test(
      "read while the run is being stopped: kill --retry names itself, and /metrics counts a failure",
      withQueue(backend, READ, async (h, store) => {
        let killsRead = 0;
        const counting = wrappedStore(await h.open(), (name, method) => {
          if (name !== "jobLeaseRenewMany") return null;
          return (async (...args: unknown[]) => {
            const renewed = (await method(...args)) as RenewedLease[];
            if (renewed.some((lease) => lease.killRequested !== null)) killsRead++;
            return renewed;
          }) as StoreMethod;
        });
        h.start(counting);
        const { end } = await stoppedByItsTimeout(h, store, 0);
        expect(await killJobs(store, ["slow"], { retry: true })).toMatchObject([{ kind: "requested" }]);
        await waitFor(() => killsRead > 0, { what: "the worker to read the kill" });
        writeFileSync(end, "");
        expect(await h.settled(store, "slow")).toBe("dead");
        expect((await store.jobGet({ id: "slow" }))?.last_error).toBe(
          "killed by user (kill --retry) while it was being stopped (timed out after 1s)",
        );
        expect(await failedAndDead(store)).toEqual({ failed: 0, dead: 1 });
      }),
    );

    test(
      "after the main process died of the stop, while its leftovers are stopped: the kill still decides",
      withQueue(backend, READ, async (h, store) => {
        h.start(await h.open());
        const pidFile = join(h.queue.home.home, "pid");
        const mark = join(h.queue.home.home, "term");
        // The main shell exits at the timeout's SIGTERM; a child that ignores it holds the group.
        const command = `echo $$ > ${pidFile}; trap 'touch ${mark}; exit 1' TERM; (trap '' TERM; sleep 4) & wait`;
        await h.enqueue(store, [{ id: "slow", command, max_retries: 2, timeout: 1 }]);
        await waitFor(() => Bun.file(mark).exists(), { what: "the timeout to stop the run" });
        const pid = Number(readFileSync(pidFile, "utf8"));
        await waitFor(() => !isProcessAlive(pid), { what: "the main process to exit" });
        expect(await killJobs(store, ["slow"])).toMatchObject([{ kind: "requested" }]);
        expect(await h.settled(store, "slow")).toBe("canceled");
        expect((await store.jobGet({ id: "slow" }))?.last_error).toBe(
          "killed by user while it was being stopped (timed out after 1s)",
        );
      }),
    );

    test(
      "a plain kill's cancel that commits although its answer is lost is reported as the kill's",
      withQueue(backend, UNREAD, async (h, store) => {
        let lost = false;
        const lossy = wrappedStore(await h.open(), (name, method) => {
          if (name !== "jobFail") return null;
          return (async (...args: unknown[]) => {
            const written = await method(...args);
            if ((args[0] as { state: string }).state === "canceled" && written && !lost) {
              lost = true;
              throw new Error("connection reset: the answer was lost");
            }
            return written;
          }) as StoreMethod;
        });
        const frozen = stallableHeartbeats(lossy);
        const { events } = h.start(frozen.store);
        frozen.stall();
        try {
          const { end } = await stoppedByItsTimeout(h, store, 2);
          await killJobs(store, ["slow"]);
          writeFileSync(end, "");
          expect(await h.settled(store, "slow")).toBe("canceled");
          const finished = await waitFor(() => events.find((event) => event.type === "job-finished"), {
            what: "the run's end to be told",
          });
          expect(lost).toBe(true);
          expect(finished).toMatchObject({ outcome: "canceled" });
          expect(finished).not.toMatchObject({ because: "jobfile-removed" });
        } finally {
          frozen.resume();
        }
      }),
    );
  });
}
