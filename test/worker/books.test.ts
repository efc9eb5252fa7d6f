/**
 * A worker's own books, on every backend: attempts are kept by (job, token), so a worker
 * frozen past its lease that claims the same job again stops its older attempt first and
 * never lets that attempt's end touch the new one; and a timed-out attempt counts as
 * failed whatever happens to the worker during the kill grace.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostName } from "../../src/core/home.ts";
import type { Store } from "../../src/store/store.ts";
import { killJobs } from "../../src/worker/kill.ts";
import {
  isProcessAlive,
  pidSpaceTag,
  pidsWithEnvEntries,
  processStartTicks,
} from "../../src/worker/process-info.ts";
import { waitFor } from "../helpers/cli.ts";
import {
  answerLosingRounds,
  backends,
  type Harness,
  outageStore,
  stallableHeartbeats,
  withQueue,
} from "./in-process.ts";

setDefaultTimeout(120_000);

/**
 * The shortest lease, a quick poll and 1 s retries: these tests wait on leases and signals,
 * not on the CPU.
 */
const SETTINGS = { lease: "2", "poll-interval": "0.1", "backoff-base": "1" };

/** "start N" and "end N" lines the job's attempts write, in the order they happened. */
function runLog(h: Harness): string[] {
  try {
    return readFileSync(join(h.queue.home.home, "runs.log"), "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

/** The most attempts that ran at once, from the start/end lines. */
function mostAtOnce(lines: string[]): number {
  let running = 0;
  let most = 0;
  for (const line of lines) {
    running += line.startsWith("start") ? 1 : -1;
    most = Math.max(most, running);
  }
  return most;
}

/**
 * Registers a worker of this host and pid space whose id names `pid` (a process that is gone,
 * or that took a dead worker's pid), and claims the next job as it, with a short lease.
 */
async function claimAsWorkerOf(store: Store, pid: number): Promise<{ workerId: string; claimed?: string }> {
  const workerId = `${hostName()}-${pid}-dead@${pidSpaceTag()}`;
  await store.workerRegister({ id: workerId, host: hostName(), pid, now: Date.now(), queues: null });
  const job = await store.jobClaim({ workerId, host: hostName(), now: Date.now(), leaseMs: 500 });
  return { workerId, claimed: job?.id };
}

for (const backend of backends) {
  describe.concurrent(`a worker's books (${backend.name})`, () => {
    test(
      "frozen past its lease, then claiming the job again: the old attempt stops first, the job completes",
      withQueue(backend, SETTINGS, async (h, store) => {
        const log = join(h.queue.home.home, "runs.log");
        const release = join(h.queue.home.home, "release");
        // Every attempt runs until the test releases it, then succeeds; an attempt stopped by a
        // signal still logs its end. Nothing but a signal can end the first attempt early.
        const command = `trap 'echo "end $QUEUECTL_ATTEMPT" >> ${log}; exit 143' TERM; echo "start $QUEUECTL_ATTEMPT" >> ${log}; while [ ! -e ${release} ]; do sleep 0.05 & wait $!; done; echo "end $QUEUECTL_ATTEMPT" >> ${log}`;
        const frozen = stallableHeartbeats(await h.open());
        const w1 = h.start(frozen.store, { concurrency: 2 });
        // The rescuer serves another queue, so only w1 ever claims x.
        h.start(await h.open(), { queues: ["elsewhere"] });
        await h.enqueue(store, [{ id: "x", command, max_retries: 2 }]);
        await waitFor(() => w1.events.some((event) => event.type === "job-started"), {
          what: "w1 to start x",
        });
        frozen.stall();
        // Another worker rescues x; w1, still unaware, claims it again once its retry is due.
        await waitFor(() => w1.events.filter((event) => event.type === "job-started").length === 2, {
          timeoutMs: 60_000,
          what: "w1 to claim x again",
        });
        frozen.resume();
        writeFileSync(release, "");
        expect(await h.settled(store, "x")).toBe("completed");
        const lines = runLog(h);
        expect(mostAtOnce(lines)).toBe(1);
        expect(lines.slice(0, 2)).toEqual(["start 1", "end 1"]);
        const attempts = await store.attemptList({ jobId: "x" });
        expect(attempts.every((attempt) => attempt.finished_at !== null)).toBe(true);
        // Concurrency 2 holds even while the old attempt was still being stopped.
        let running = 0;
        let most = 0;
        for (const event of w1.events) {
          if (event.type === "job-started") running++;
          if (event.type === "job-finished") running--;
          most = Math.max(most, running);
        }
        expect(most).toBeLessThanOrEqual(2);
      }),
    );

    test(
      "kill of a job whose worker died here, its row left behind: orphaned at once, canceled at rescue",
      withQueue(backend, SETTINGS, async (h, store) => {
        await h.enqueue(store, [{ id: "left", command: "sleep 300" }]);
        // A worker of this host and pid space that SIGKILL took: its row stays, its pid is free.
        const exited = Bun.spawn(["true"]);
        await exited.exited;
        const { claimed } = await claimAsWorkerOf(store, exited.pid);
        expect(claimed).toBe("left");
        expect(await killJobs(store, ["left"])).toMatchObject([
          { kind: "requested", orphaned: true, signalled: false },
        ]);
        h.start(await h.open());
        expect(await h.settled(store, "left")).toBe("canceled");
      }),
    );

    test(
      "a rescue kills what a dead worker's attempt left, though another process took the worker's pid",
      withQueue(backend, SETTINGS, async (h, store) => {
        await h.enqueue(store, [{ id: "left", command: "true" }]);
        const dir = h.queue.home.home;
        const idFile = join(dir, "worker-id");
        // The attempt's process, started first: it takes its worker's id once the id is known.
        const leftover = Bun.spawn([
          "sh",
          "-c",
          `while [ ! -s ${idFile} ]; do sleep 0.01; done; exec env QUEUECTL_WORKER_ID="$(cat ${idFile})" QUEUECTL_JOB_ID=left QUEUECTL_ATTEMPT=1 sleep 300`,
        ]);
        const leftoverStart = processStartTicks(leftover.pid) ?? 0;
        // The process that took the dead worker's pid started after the attempt's did: in a
        // later clock tick of /proc, so one started in the same tick is replaced.
        let reuser = Bun.spawn(["sleep", "300"]);
        await waitFor(
          () => {
            if ((processStartTicks(reuser.pid) ?? 0) > leftoverStart) return true;
            reuser.kill("SIGKILL");
            reuser = Bun.spawn(["sleep", "300"]);
            return false;
          },
          { what: "a process started after the leftover" },
        );
        try {
          const { workerId, claimed } = await claimAsWorkerOf(store, reuser.pid);
          expect(claimed).toBe("left");
          writeFileSync(idFile, workerId);
          await waitFor(() => pidsWithEnvEntries([`QUEUECTL_WORKER_ID=${workerId}`]).length === 1, {
            what: "the leftover to carry the worker's id",
          });
          h.start(await h.open());
          expect(await h.settled(store, "left")).toBe("completed");
          // Waited for with a deadline: a leftover left alone would hold the test for 300 s.
          await waitFor(() => leftover.signalCode === "SIGKILL", { what: "the leftover to be killed" });
          expect(isProcessAlive(reuser.pid)).toBe(true);
        } finally {
          leftover.kill("SIGKILL");
          reuser.kill("SIGKILL");
        }
      }),
    );

    test(
      "a job that timed out and whose worker is stopped during the kill grace goes to dead",
      withQueue(backend, SETTINGS, async (h, store) => {
        const marker = join(h.queue.home.home, "got-term");
        // Ignores SIGTERM so the grace runs its course; marks that the timeout's SIGTERM came.
        const command = `trap 'touch ${marker}' TERM; while :; do sleep 0.2; done`;
        // A 2 s grace instead of 5 s: the stop still comes well inside it, and the test waits less.
        const { worker, run } = h.start(await h.open(), { killGraceMs: 2_000 });
        await h.enqueue(store, [{ id: "slow", command, timeout: 1, max_retries: 0 }]);
        await waitFor(
          () => {
            try {
              readFileSync(marker);
              return true;
            } catch {
              return false;
            }
          },
          { timeoutMs: 30_000, what: "the timeout's SIGTERM" },
        );
        worker.escalate();
        await run;
        expect((await store.jobGet({ id: "slow" }))?.state).toBe("dead");
        expect((await store.jobGet({ id: "slow" }))?.last_error).toContain("timed out");
      }),
    );

    test(
      "kill: a running job ends canceled; with retry its attempt counts as failed",
      withQueue(backend, SETTINGS, async (h, store) => {
        h.start(await h.open(), { concurrency: 2 });
        await h.enqueue(store, [
          { id: "k1", command: "sleep 300" },
          { id: "k2", command: "sleep 300", max_retries: 1 },
        ]);
        await waitFor(async () => (await store.jobCounts()).processing === 2, { what: "both jobs to run" });
        // This worker's host is not this process's: the request reaches it through the store.
        expect(await killJobs(store, ["k1"])).toMatchObject([
          { kind: "requested", orphaned: false, signalled: false },
        ]);
        await killJobs(store, ["k2"], { retry: true });
        expect(await h.settled(store, "k1")).toBe("canceled");
        expect((await store.jobGet({ id: "k1" }))?.last_error).toBe("killed by user");
        const [attempt] = await waitFor(async () => {
          const attempts = await store.attemptList({ jobId: "k2" });
          return attempts[0]?.finished_at ? attempts : null;
        });
        expect(attempt?.error).toBe("killed by user (kill --retry)");
        expect((await store.jobGet({ id: "k2" }))?.state).not.toBe("canceled");
      }),
    );

    // The kill comes while the run is already being stopped, and the job takes its time to end.
    for (const stoppedBy of ["its timeout", "a stopping worker"] as const) {
      test(
        `kill while ${stoppedBy} stops the run: the job ends canceled, not retried or handed back`,
        withQueue(backend, SETTINGS, async (h, store) => {
          const mark = join(h.queue.home.home, "term");
          const ready = join(h.queue.home.home, "ready");
          const command = `trap 'touch ${mark}; sleep 3; exit 1' TERM; touch ${ready}; sleep 300 & wait`;
          const { worker } = h.start(await h.open());
          await h.enqueue(store, [
            { id: "slow", command, max_retries: 2, ...(stoppedBy === "its timeout" ? { timeout: 1 } : {}) },
          ]);
          // Its trap set: a claim alone (or a shell not yet that far) would die of SIGTERM unmarked.
          await waitFor(() => Bun.file(ready).exists(), { what: "the job to run with its trap set" });
          if (stoppedBy === "a stopping worker") {
            worker.requestStop();
            worker.escalate();
          }
          await waitFor(() => Bun.file(mark).exists(), { what: "the run to get SIGTERM" });
          expect(await killJobs(store, ["slow"])).toMatchObject([{ kind: "requested" }]);
          expect(await h.settled(store, "slow")).toBe("canceled");
          expect((await store.jobGet({ id: "slow" }))?.last_error).toStartWith(
            "killed by user while it was being stopped (",
          );
          // A kill, as /metrics counts it: no failed attempt, whatever was stopping the run.
          const bounds = { durationBoundsMs: [1000], waitBoundsMs: [1000] };
          const { attemptsByQueue } = await store.metricsSnapshot({ now: Date.now(), ...bounds });
          expect(attemptsByQueue).toMatchObject([{ queue: "default", failed: 0, dead: 0 }]);
        }),
      );
    }

    test(
      "a plain kill while `kill --retry` stops the run: the job ends canceled, killed by user",
      withQueue(backend, SETTINGS, async (h, store) => {
        const mark = join(h.queue.home.home, "term");
        const ready = join(h.queue.home.home, "ready");
        const command = `trap 'touch ${mark}; sleep 3; exit 1' TERM; touch ${ready}; sleep 300 & wait`;
        h.start(await h.open());
        await h.enqueue(store, [{ id: "twice", command, max_retries: 2 }]);
        await waitFor(() => Bun.file(ready).exists(), { what: "the job to run with its trap set" });
        await killJobs(store, ["twice"], { retry: true });
        await waitFor(() => Bun.file(mark).exists(), { what: "the run to get SIGTERM from kill --retry" });
        expect(await killJobs(store, ["twice"])).toMatchObject([{ kind: "requested" }]);
        expect(await h.settled(store, "twice")).toBe("canceled");
        const job = await store.jobGet({ id: "twice" });
        expect(job?.last_error).toBe("killed by user");
        expect(job?.attempts).toBe(1);
      }),
    );

    test(
      "claims whose round committed but lost its answer go back unstarted: each job runs once, none goes dead",
      withQueue(backend, SETTINGS, async (h, store) => {
        const log = join(h.queue.home.home, "runs.log");
        const ids = Array.from({ length: 6 }, (_, i) => `once-${i}`);
        // No retry: a claim rescued as a failed attempt would send the job to the DLQ unrun.
        await h.enqueue(
          store,
          ids.map((id) => ({ id, command: `echo ${id} >> ${log}`, max_retries: 0 })),
        );
        let claimingRounds = 0;
        let losing = true;
        const lossy = answerLosingRounds(await h.open(), () => losing && ++claimingRounds <= 2);
        const { events } = h.start(lossy, { concurrency: 2 });
        for (const id of ids) expect(await h.settled(store, id)).toBe("completed");
        losing = false;
        for (const id of ids) expect((await store.jobGet({ id }))?.attempts).toBe(1);
        expect(readFileSync(log, "utf8").split("\n").filter(Boolean).sort()).toEqual(ids.toSorted());
        expect(
          events.some((event) => event.type === "error" && event.message.includes("handed back unstarted")),
        ).toBe(true);
      }),
    );

    test(
      "an attempt that ran but whose end was lost to an outage is left to the rescue, not handed back as unrun",
      withQueue(backend, SETTINGS, async (h, store) => {
        const release = join(h.queue.home.home, "release");
        const command = `while [ ! -e ${release} ]; do sleep 0.05; done`;
        await h.enqueue(store, [{ id: "ran", command, max_retries: 2 }]);
        const outage = outageStore(await h.open());
        const { events } = h.start(outage.store);
        await waitFor(async () => (await store.jobGet({ id: "ran" }))?.state === "processing", {
          what: "ran to run",
        });
        outage.down();
        writeFileSync(release, "");
        const abandoned = () =>
          events.some((event) => event.type === "error" && event.message.includes("given up"));
        await waitFor(abandoned, { timeoutMs: 30_000, what: "the worker to give the result up" });
        outage.up();
        expect(await h.settled(store, "ran")).toBe("completed");
        // The first run stays on the record, as the rescue counted it.
        const attempts = await store.attemptList({ jobId: "ran" });
        expect(attempts.length).toBe(2);
        expect(attempts[0]?.error).toContain("lease expired");
      }),
    );

    test(
      "a worker whose registry row another host removed (judged lost) writes it again at its next beat",
      withQueue(backend, SETTINGS, async (h, store) => {
        const { worker } = h.start(await h.open());
        const listed = async () => (await store.workerList()).some((row) => row.id === worker.id);
        await waitFor(listed, { what: "the worker to register" });
        await store.workerRemove({ id: worker.id });
        await waitFor(listed, { timeoutMs: 10_000, what: "the worker's row to come back" });
      }),
    );

    test(
      "kill of a job whose worker is gone: the rescue ends it canceled",
      withQueue(backend, SETTINGS, async (h, store) => {
        await h.enqueue(store, [{ id: "orphan", command: "sleep 300" }]);
        // A worker that claimed the job and died, written straight into the store.
        const claimed = await store.jobClaim({
          workerId: "crashed",
          host: "gone",
          now: Date.now(),
          leaseMs: 500,
        });
        expect(claimed?.id).toBe("orphan");
        expect(await killJobs(store, ["orphan"])).toMatchObject([{ kind: "requested", orphaned: true }]);
        h.start(await h.open());
        expect(await h.settled(store, "orphan")).toBe("canceled");
        expect((await store.jobGet({ id: "orphan" }))?.last_error).toContain("killed by user");
      }),
    );
  });
}
