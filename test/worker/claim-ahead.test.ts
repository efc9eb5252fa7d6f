/**
 * Claiming ahead (src/worker/run-gate.ts), on every backend: after a short run a worker
 * claims more jobs than it has free slots, yet never runs more than its concurrency at
 * once; a job claimed ahead that no free slot takes in time goes back to pending unstarted,
 * leaving no attempt, and runs later like any other.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import type { Job } from "../../src/core/job.ts";
import { AttemptBook, claimedSlot } from "../../src/worker/attempts.ts";
import { COMPLETION_LINGER_MAX_MS, keepLingering } from "../../src/worker/completion-queue.ts";
import { KILLED_BY_USER, killJobs } from "../../src/worker/kill.ts";
import { DEFAULT_PREFETCH, type QueuedRun } from "../../src/worker/run-gate.ts";
import { waitFor } from "../helpers/cli.ts";
import { backends, watchedRounds, withQueue } from "./in-process.ts";

setDefaultTimeout(120_000);

const SETTINGS = { "poll-interval": "0.1" };

/** `count` jobs that run `true`, with ids `<prefix>0`, `<prefix>1`, … */
const trueJobs = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => ({ id: `${prefix}${i}`, command: "true" }));

/**
 * The hold time, lengthened from 250 ms so that on a loaded machine `true` still counts as a
 * short run (a round claims ahead after runs shorter than half of it).
 */
const HOLD_MS = 2000;

/** After `short`, `next` is claimed ahead; `long` then holds the one slot past the hold time. */
const SHORT_LONG_NEXT = [
  { id: "short", command: "true", priority: 2 },
  { id: "long", command: "sleep 5", priority: 1 },
  { id: "next", command: "true", priority: 0 },
];

for (const backend of backends) {
  describe.concurrent(`claiming ahead (${backend.name})`, () => {
    test(
      "short jobs are claimed ahead of free slots, and no more than the concurrency run at once",
      withQueue(backend, SETTINGS, async (h, store) => {
        const log = join(h.queue.home.home, "runs.log");
        const command = `echo start >> ${log}; sleep 0.02; echo end >> ${log}`;
        await h.enqueue(
          store,
          Array.from({ length: 40 }, (_, i) => ({ id: `j${i}`, command })),
        );
        h.start(store, { concurrency: 2, prefetch: 2, aheadHoldMs: HOLD_MS });
        // More held than running: the two slots and jobs claimed ahead of them.
        await waitFor(async () => (await store.jobCounts()).processing > 2, {
          what: "more jobs claimed than slots",
        });
        await waitFor(async () => (await store.jobCounts()).completed === 40, {
          what: "every job to complete",
          // A deadline, not a timing: a loaded two-core machine runs a `true` job in 80 ms and more.
          timeoutMs: 60_000,
        });
        let running = 0;
        let most = 0;
        for (const line of readFileSync(log, "utf8").split("\n").filter(Boolean)) {
          running += line === "start" ? 1 : -1;
          most = Math.max(most, running);
        }
        expect(most).toBeLessThanOrEqual(2);
        for (let i = 0; i < 40; i++) {
          const attempts = await store.attemptList({ jobId: `j${i}` });
          expect(attempts).toHaveLength(1);
        }
      }),
    );

    test(
      "short runs that end while jobs claimed ahead wait share one transaction, each completed once",
      withQueue(backend, SETTINGS, async (h, store) => {
        await h.enqueue(store, trueJobs("g", 120));
        // How many completions each of the worker's rounds carried.
        const perRound: number[] = [];
        const counting = watchedRounds(store, ({ completions }) => {
          if (completions.length > 0) perRound.push(completions.length);
        });
        // The cap lengthened like the hold time: on a loaded machine a `true` run may outlast 20 ms.
        h.start(counting, { concurrency: 1, aheadHoldMs: HOLD_MS, lingerMaxMs: HOLD_MS / 4 });
        await waitFor(async () => (await store.jobCounts()).completed === 120, {
          what: "every job to complete",
          // A deadline, not a timing: a loaded two-core machine runs a `true` job in 80 ms and more.
          timeoutMs: 60_000,
        });
        // A round that fails (a busy server) leaves its runs to be recorded alone: count attempts.
        for (let i = 0; i < 120; i++) expect(await store.attemptList({ jobId: `g${i}` })).toHaveLength(1);
        // One slot, 8 claimed ahead: a round waits until the line is down to one, so most
        // carry several runs (4 or more on a quiet machine); a round per run would carry one,
        // 120 rounds. Bounds loose enough for a machine whose every core is taken meanwhile.
        const sorted = perRound.toSorted((x, y) => x - y);
        expect(sorted[Math.floor(sorted.length / 2)]).toBeGreaterThanOrEqual(2);
        expect(perRound.length).toBeLessThanOrEqual(60);
      }),
    );

    test(
      "a stop mid-stream reports no more running jobs than slots, finished runs waiting to be recorded aside",
      withQueue(backend, SETTINGS, async (h, store) => {
        await h.enqueue(store, trueJobs("s", 300));
        const { worker, events } = h.start(store, { concurrency: 1, aheadHoldMs: HOLD_MS });
        // Mid-stream: finished runs wait to share a commit for most of a short job's life.
        await waitFor(async () => (await store.jobCounts()).completed >= 30, {
          what: "a stream of completions",
          // A deadline, not a timing: the file's tests run side by side on a loaded machine.
          timeoutMs: 60_000,
        });
        worker.requestStop("requested");
        const stopping = await waitFor(() => events.find((event) => event.type === "stopping"), {
          what: "the stopping event",
        });
        expect(stopping.type === "stopping" && stopping.running).toBeLessThanOrEqual(1);
      }),
    );

    test(
      "a job claimed ahead that no slot takes in time goes back unstarted, then runs once",
      withQueue(backend, SETTINGS, async (h, store) => {
        await h.enqueue(store, SHORT_LONG_NEXT);
        const { events } = h.start(store, { concurrency: 1, prefetch: 1, aheadHoldMs: HOLD_MS });
        // Claimed ahead after `short`, then handed back while `long` still runs.
        const handedBack = await waitFor(
          async () => {
            const [next, long] = [await store.jobGet({ id: "next" }), await store.jobGet({ id: "long" })];
            return next?.state === "pending" && next.token === 1 && long?.state === "processing"
              ? next
              : null;
          },
          { what: "`next` to be claimed ahead and handed back while `long` runs" },
        );
        expect(handedBack.attempts).toBe(0);
        expect(await store.attemptList({ jobId: "next" })).toEqual([]);
        expect(await h.settled(store, "next")).toBe("completed");
        const next = await store.jobGet({ id: "next" });
        expect(next).toMatchObject({ attempts: 1, token: 2 });
        expect(await store.attemptList({ jobId: "next" })).toHaveLength(1);
        // Announced once, when it really started, after `long`.
        const started = events.flatMap((event) => (event.type === "job-started" ? [event.jobId] : []));
        expect(started).toEqual(["short", "long", "next"]);
      }),
    );
    test(
      "a job claimed ahead starts when a run's main process exits, while what that run left still holds its output",
      withQueue(backend, SETTINGS, async (h, store) => {
        const dir = h.queue.home.home;
        const [pidFile, seen] = [join(dir, "leftover.pid"), join(dir, "seen")];
        await h.enqueue(store, [
          { id: "short", command: "true", priority: 3 },
          // Deaf to SIGTERM (from before the job's main process exits) and holding stdout:
          // only the SIGKILL a second later ends it.
          {
            id: "leaver",
            command: `sh -c 'trap "" TERM; echo $$ > ${pidFile}; exec sleep 30' & while [ ! -s ${pidFile} ]; do sleep 0.01; done`,
            priority: 2,
          },
          // The leftover's state from /proc: a zombie would still answer `kill -0`.
          {
            id: "next",
            command: `cut -d' ' -f3 /proc/$(cat ${pidFile})/stat > ${seen} || echo gone > ${seen}`,
            priority: 1,
          },
        ]);
        h.start(store, { concurrency: 1, prefetch: 2, aheadHoldMs: HOLD_MS });
        expect(await h.settled(store, "next")).toBe("completed");
        expect(readFileSync(seen, "utf8").trim()).toMatch(/^[RS]$/);
        expect(await h.settled(store, "leaver")).toBe("completed");
      }),
    );
    test(
      "a job claimed ahead runs in a folder that the job before it makes",
      withQueue(backend, SETTINGS, async (h, store) => {
        const made = join(h.queue.home.home, "made");
        await h.enqueue(store, [
          { id: "short", command: "true", priority: 3 },
          { id: "maker", command: `mkdir ${made}`, priority: 2 },
          // A plain command, exec'd without a shell: the `PWD` it is given must name the folder too.
          { id: "user", command: "printenv PWD", cwd: made, priority: 1 },
        ]);
        h.start(store, { concurrency: 1, prefetch: 2, aheadHoldMs: HOLD_MS });
        expect(await h.settled(store, "user")).toBe("completed");
        const [attempt] = await store.attemptList({ jobId: "user" });
        expect(attempt?.output_tail?.trim()).toBe(realpathSync(made));
        // At its first attempt: not failed for want of the folder, then retried once it existed.
        expect((await store.jobGet({ id: "user" }))?.attempts).toBe(1);
      }),
    );
    test(
      "a kill asked for while a job claimed ahead waits is not lost when it is handed back",
      withQueue(backend, SETTINGS, async (h, store) => {
        await h.enqueue(store, SHORT_LONG_NEXT);
        h.start(store, { concurrency: 1, prefetch: 1, aheadHoldMs: HOLD_MS });
        const processing = async (id: string) => (await store.jobGet({ id }))?.state === "processing";
        await waitFor(async () => (await processing("next")) && (await processing("long")), {
          intervalMs: 5,
          what: "`next` claimed ahead while `long` runs",
        });
        // From another host: no signal, so the worker would hear of it only at its next renewal.
        const [outcome] = await killJobs(store, ["next"], { host: "elsewhere" });
        expect(outcome?.kind).toBe("requested");
        expect(await h.settled(store, "next")).toBe("canceled");
        // Canceled by its worker as the kill asked, not rescued once its lease ran out.
        expect((await store.attemptList({ jobId: "next" })).map((attempt) => attempt.error)).toEqual([
          KILLED_BY_USER,
        ]);
      }),
    );

    test(
      "without --prefetch a worker claims as far ahead as its store's default, and no further",
      withQueue(backend, SETTINGS, async (h, store) => {
        await h.enqueue(store, trueJobs("j", 80));
        let most = 0;
        const watched = watchedRounds(store, (params) => {
          most = Math.max(most, params.claim?.limit ?? 0);
        });
        // A long hold, so that on a loaded machine `true` still counts as short enough to
        // claim the whole default ahead (claimsAhead).
        const { run } = h.start(watched, { concurrency: 1, aheadHoldMs: 20 * HOLD_MS, drain: true });
        await run;
        expect((await store.jobCounts()).completed).toBe(80);
        expect(most).toBe(1 + DEFAULT_PREFETCH[store.backend]);
      }),
    );

    test(
      "a stop that overtakes a claim round starts none of the jobs it claimed",
      withQueue(backend, SETTINGS, async (h, store) => {
        await h.enqueue(store, trueJobs("j", 10));
        let stop = () => {};
        // The stop lands while the answer of a round that claimed ahead is on its way.
        const stopping = watchedRounds(store, (_, answer) => {
          if (answer.claimed.length > 1) stop();
        });
        const { worker, run, events } = h.start(stopping, {
          concurrency: 1,
          prefetch: 4,
          aheadHoldMs: HOLD_MS,
        });
        stop = () => worker.requestStop("requested");
        await run;
        const stoppedAt = events.findIndex((event) => event.type === "stopping");
        expect(stoppedAt).toBeGreaterThan(-1);
        expect(events.slice(stoppedAt).filter((event) => event.type === "job-started")).toEqual([]);
        const counts = await store.jobCounts();
        expect(counts.processing).toBe(0);
        expect(counts.pending + counts.completed).toBe(10);
      }),
    );
  });
}

describe("finished runs waiting to share a commit (keepLingering)", () => {
  test("wait once while any job claimed ahead waits, and not at all when none does", () => {
    expect(keepLingering(0, 0, 1, 0)).toBe(false);
    expect(keepLingering(0, 1, 4, 0)).toBe(true);
    expect(keepLingering(1, 1, 4, 1)).toBe(false);
  });

  test("wait on while more jobs claimed ahead wait than there are slots, up to the cap", () => {
    expect(keepLingering(5, 2, 1, 5)).toBe(true);
    expect(keepLingering(5, 1, 1, 5)).toBe(false);
    expect(keepLingering(5, 8, 1, COMPLETION_LINGER_MAX_MS - 1)).toBe(true);
    expect(keepLingering(5, 8, 1, COMPLETION_LINGER_MAX_MS)).toBe(false);
    // A run that already waited the cap (through a slow round, say) does not wait even once.
    expect(keepLingering(0, 8, 1, COMPLETION_LINGER_MAX_MS)).toBe(false);
  });
});

test("the books count as running only runs whose main process has not exited", () => {
  // A slot goes to the next job at the exit: a stopping worker must not count both.
  const book = new AttemptBook(
    () => {},
    () => 60_000,
  );
  const slot = (id: string, started: boolean, exited: boolean, ended = false) => {
    const handle = {
      pid: 1,
      started,
      exited,
      done: new Promise(() => {}),
      stop: () => false,
    } as unknown as QueuedRun;
    const job = { id, token: 1 } as Job;
    book.add({ ...claimedSlot(job, handle, null, 0), ended });
  };
  slot("running", true, false);
  slot("exited, its leftovers being stopped", true, true);
  slot("claimed ahead, waiting", false, false);
  slot("ended, waiting to be recorded", true, true, true);
  expect(book.running()).toBe(1);
});
