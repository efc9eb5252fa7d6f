/**
 * A store that is briefly unavailable under a running job must cost it nothing:
 *
 * - a lock held for longer than the lease while a job runs (SQLite's write lock, or the
 *   job's row on PostgreSQL): the renewal that waited behind it counts from when it
 *   succeeded, and the job is not stopped;
 * - a result write that fails (SQLite busy past its timeout, the PostgreSQL connection
 *   terminated mid-write) is retried while the lease holds, and the job ends completed;
 * - a store out of reach for longer than the lease (every renewal fails, or hangs) is the exception:
 *   another worker may run the job by then, so this one stops it.
 *
 * Workers run in process on every backend; the lock is held by another process (SQLite)
 * or another connection (PostgreSQL).
 */

import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Store } from "../../src/store/store.ts";
import { isProcessAlive } from "../../src/worker/process-info.ts";
import { waitFor } from "../helpers/cli.ts";
import {
  type Backend,
  backends,
  Harness,
  type Queue,
  type RunningWorker,
  silenceableStore,
  stallableHeartbeats,
} from "../worker/in-process.ts";

setDefaultTimeout(120_000);

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.cleanup();
  harness = undefined;
});

async function setUp(backend: Backend, lease: string): Promise<{ h: Harness; store: Store }> {
  harness = new Harness(await backend.create());
  const store = await harness.open();
  await store.configSet({ key: "lease", value: lease });
  await store.configSet({ key: "poll-interval", value: "0.1" });
  return { h: harness, store };
}

/**
 * A job that says it started, then leaves a result and exits 0 once the test creates its
 * `go` file. The result matters on PostgreSQL: its save is the write the lock is timed by.
 */
function gatedJob(h: Harness, id: string): { spec: Record<string, unknown>; started: string; go: string } {
  const started = join(h.queue.home.home, `${id}.started`);
  const go = join(h.queue.home.home, `${id}.go`);
  const command = `touch ${started}; while [ ! -e ${go} ]; do sleep 0.05; done; echo '{"ok":true}' > "$QUEUECTL_RESULT"`;
  return { spec: { id, command, max_retries: 0 }, started, go };
}

/** Waits for the worker to say `said` (an error event) and for the job's process to be gone. */
async function leaseGivenUp(worker: RunningWorker, said: string, jobPid: number): Promise<void> {
  await waitFor(() => worker.events.some((event) => event.type === "error" && event.message.includes(said)), {
    timeoutMs: 60_000,
    what: "the worker to give the lease up",
  });
  await waitFor(() => !isProcessAlive(jobPid), { timeoutMs: 15_000, what: "the job to be stopped" });
}

/**
 * Enqueues a two-minute job (with `extra` fields, after `before` in its command) and waits for
 * a worker to start it; returns the job's pid.
 */
async function startLongJob(
  h: Harness,
  store: Store,
  id: string,
  extra: Record<string, unknown> = {},
  before = "",
): Promise<number> {
  const pidFile = join(h.queue.home.home, `${id}.pid`);
  await h.enqueue(store, [{ id, command: `${before} echo $$ > ${pidFile}; exec sleep 120`, ...extra }]);
  return waitFor(() => (existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8")) : 0), {
    timeoutMs: 30_000,
    what: `${id} to start`,
  });
}

/**
 * The worker's store, held after its first result save until `resume()`: `saved` resolves
 * once that save is done. (`inner` is the store as it was, for backends that need no hold.)
 */
function afterResultSave(inner: Store): { store: Store; inner: Store; saved: Promise<void>; resume(): void } {
  let saved = () => {};
  const savedOnce = new Promise<void>((resolve) => {
    saved = resolve;
  });
  let resume = () => {};
  const resumed = new Promise<void>((resolve) => {
    resume = resolve;
  });
  const store = new Proxy(inner, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (property === "jobResultSave") {
        return async (...args: Parameters<Store["jobResultSave"]>) => {
          const result = await target.jobResultSave(...args);
          saved();
          await resumed;
          return result;
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { store, inner, saved: savedOnce, resume };
}

/**
 * Holds the store's lock on job `id` for `ms`: SQLite's write lock from another process,
 * or the job's row from another connection. Resolves once the lock is held; `released`
 * resolves when it is let go, after `ms` or at `release()` (which ends the SQLite holder's
 * process, its transaction rolled back).
 */
async function holdLock(
  queue: Queue,
  id: string,
  ms: number,
): Promise<{ released: Promise<void>; release: () => void }> {
  if (queue.path) {
    const script = `
      const { Database } = require("bun:sqlite");
      const db = new Database(process.env.DB_PATH);
      db.run("PRAGMA busy_timeout = 10000");
      db.run("BEGIN IMMEDIATE");
      db.run("UPDATE config SET value = value WHERE 0");
      console.log("locked");
      await Bun.sleep(Number(process.env.HOLD_MS));
      db.run("COMMIT");`;
    const child = Bun.spawn(["bun", "-e", script], {
      env: { ...process.env, DB_PATH: queue.path, HOLD_MS: String(ms) },
      stdout: "pipe",
      stderr: "inherit",
    });
    const reader = child.stdout.getReader();
    const { value } = await reader.read();
    if (!new TextDecoder().decode(value).includes("locked")) throw new Error("the lock holder did not lock");
    return { released: child.exited.then(() => {}), release: () => child.kill() };
  }
  const admin = queue.admin;
  if (!admin) throw new Error("no PostgreSQL connection");
  let locked = () => {};
  const isLocked = new Promise<void>((resolve) => {
    locked = resolve;
  });
  let release = () => {};
  const letGo = new Promise<void>((resolve) => {
    release = resolve;
    setTimeout(resolve, ms);
  });
  const released = admin.begin(async (tx) => {
    await tx.unsafe(`SELECT 1 FROM ${queue.schema}.jobs WHERE id = $1 FOR UPDATE`, [id]);
    locked();
    await letGo;
  });
  await isLocked;
  return { released: released.then(() => {}), release };
}

for (const backend of backends) {
  describe(`a locked store under a running job (${backend.name})`, () => {
    test("a lock held for longer than the lease: the job is not stopped and completes", async () => {
      // A lease of 4 s gives the lease watch's read 1 s to answer (a quarter of the lease):
      // on a busy host a new PostgreSQL connection can take longer than 2 s's 0.5 s.
      const { h, store } = await setUp(backend, "4");
      const job = gatedJob(h, "held");
      const worker = h.start(await h.open());
      await h.enqueue(store, [job.spec]);
      await waitFor(() => existsSync(job.started), { timeoutMs: 30_000, what: "the job to start" });
      const lock = await holdLock(h.queue, "held", 5_000);
      await lock.released;
      writeFileSync(job.go, "");
      expect(await h.settled(store, "held")).toBe("completed");
      expect((await store.attemptList({ jobId: "held" })).length).toBe(1);
      expect(worker.events.filter((event) => event.type === "lease-lost")).toEqual([]);
    });

    test("a result write that fails is retried while the lease holds, and the job completes", async () => {
      const { h, store } = await setUp(backend, "10");
      const job = gatedJob(h, "late");
      // SQLite: a busy timeout far shorter than the lock, so the completion fails outright.
      const held = afterResultSave(await h.open({ busyTimeoutMs: 200 }));
      const worker = h.start(h.queue.admin ? held.store : held.inner);
      await h.enqueue(store, [job.spec]);
      await waitFor(() => existsSync(job.started), { timeoutMs: 30_000, what: "the job to start" });
      let lock: Awaited<ReturnType<typeof holdLock>>;
      if (h.queue.admin) {
        // On PostgreSQL the job's result is saved first, on the same row: the lock is taken
        // between that save and the completion, so the completion is the write that waits.
        writeFileSync(job.go, "");
        await held.saved;
        lock = await holdLock(h.queue, "late", 30_000);
        held.resume();
      } else {
        // Held until the worker has failed and retried, not for a time the job may outlast.
        lock = await holdLock(h.queue, "late", 60_000);
        writeFileSync(job.go, "");
        await waitFor(() => worker.events.some((event) => event.type === "record-retry"), {
          what: "the worker to retry the result",
        });
        lock.release();
      }
      if (h.queue.admin) {
        // The completion waits behind the row lock; its connection is cut while it waits.
        const admin = h.queue.admin;
        const pid = await waitFor(
          async () => {
            const [row] = await admin`
              SELECT pid FROM pg_stat_activity
              WHERE wait_event_type = 'Lock' AND query LIKE '%state = ''completed''%'`;
            return row?.pid as number | undefined;
          },
          { timeoutMs: 30_000, what: "the completion to wait for the row lock" },
        );
        await admin`SELECT pg_terminate_backend(${pid}::int)`;
        await waitFor(() => worker.events.some((event) => event.type === "record-retry"), {
          what: "the worker to retry the result",
        });
        lock.release();
      }
      await lock.released.catch(() => {});
      expect(await h.settled(store, "late")).toBe("completed");
      expect(worker.events.some((event) => event.type === "record-retry")).toBe(true);
    });

    if (backend.name === "sqlite") {
      test("a store out of reach for longer than the lease: the worker stops the job, since another worker may run it by then", async () => {
        const { h, store } = await setUp(backend, "2");
        const worker = h.start(await h.open({ busyTimeoutMs: 200 }));
        const jobPid = await startLongJob(h, store, "long");
        // Another process holds the write lock: every renewal fails (after the busy timeout)
        // from now on, as when a network store becomes unreachable.
        const lock = await holdLock(h.queue, "long", 60_000);
        try {
          await leaseGivenUp(worker, "job long: its lease could not be renewed for 2s; stopping it", jobPid);
          // The worker itself goes on: the store may come back.
          expect(worker.events.some((event) => event.type === "stopped")).toBe(false);
        } finally {
          lock.release();
          await lock.released;
        }
      });

      test("a result that cannot be written before the lease runs out is given up, and the log says so", async () => {
        const { h, store } = await setUp(backend, "2");
        const job = gatedJob(h, "lost");
        const worker = h.start(await h.open({ busyTimeoutMs: 200 }));
        await h.enqueue(store, [job.spec]);
        await waitFor(() => existsSync(job.started), { timeoutMs: 30_000, what: "the job to start" });
        const lock = await holdLock(h.queue, "lost", 5_000);
        writeFileSync(job.go, "");
        await lock.released;
        await waitFor(
          () =>
            worker.events.some(
              (event) =>
                event.type === "job-finished" && event.jobId === "lost" && event.outcome === "abandoned",
            ),
          { timeoutMs: 30_000, what: "the worker to give the result up" },
        );
        const said = worker.events.filter((event) => event.type === "error").map((event) => event.message);
        expect(
          said.some((message) => message.includes("could not be recorded before its lease ran out")),
        ).toBe(true);
        // Rescued as a failed attempt: the job does not stay processing.
        expect(await h.settled(store, "lost")).toBe("dead");
      });
    }

    test("a renewal that hangs while another worker rescues the job: the run stops as the store answers", async () => {
      const { h, store } = await setUp(backend, "2");
      const stalled = stallableHeartbeats(await h.open());
      const worker = h.start(stalled.store);
      // The rescuer serves another queue, so only the first worker ever claims the job.
      h.start(await h.open(), { queues: ["elsewhere"] });
      stalled.stall();
      try {
        const jobPid = await startLongJob(h, store, "taken", { max_retries: 0 });
        await waitFor(async () => (await store.jobGet({ id: "taken" }))?.state === "dead", {
          timeoutMs: 30_000,
          what: "the other worker to rescue the job",
        });
        // The rescue kept the token and ended the job: no longer this attempt's, whatever the token says.
        await waitFor(() => !isProcessAlive(jobPid), {
          timeoutMs: 15_000,
          what: "the rescued run to be stopped",
        });
        // Stopped as the lease watch's read answered "moved on"; or, where that read (a new
        // connection on PostgreSQL) took longer than its quarter of the lease on a busy host,
        // as a lease it could not vouch for. Either way stopped, and said so.
        const stoppedFor = worker.events.flatMap((event) =>
          event.type === "lease-lost" && event.jobId === "taken"
            ? ["moved on"]
            : event.type === "error" && event.message.startsWith("job taken: its lease could not be renewed")
              ? ["unvouched"]
              : [],
        );
        expect(stoppedFor).toHaveLength(1);
      } finally {
        stalled.resume();
      }
    });

    test("a lock held for longer than the lease while the job reports progress: the job is not stopped", async () => {
      const { h, store } = await setUp(backend, "4"); // see the first test for why 4 s
      const worker = h.start(await h.open({ busyTimeoutMs: 15_000 }));
      const reporting = `while :; do echo 50 > "$QUEUECTL_PROGRESS"; sleep 0.1; done &`;
      const jobPid = await startLongJob(h, store, "busy", {}, reporting);
      await waitFor(async () => (await store.jobGet({ id: "busy" }))?.progress_pct === 50, {
        what: "the progress to be stored",
      });
      const lock = await holdLock(h.queue, "busy", 6_000);
      await lock.released;
      // A renewal due after the lock was released has gone through: the job outlived the lock.
      const since = performance.now();
      await waitFor(() => performance.now() - since > 5_000, {
        timeoutMs: 10_000,
        what: "a lease period to pass",
      });
      expect(isProcessAlive(jobPid)).toBe(true);
      expect(worker.events.filter((event) => event.type === "error")).toEqual([]);
      expect((await store.jobGet({ id: "busy" }))?.state).toBe("processing");
    });

    test("a store that goes silent (its queries hang rather than fail): the job is still stopped once its lease lapses", async () => {
      const { h, store } = await setUp(backend, "2");
      const silent = silenceableStore(await h.open());
      const worker = h.start(silent.store);
      const jobPid = await startLongJob(h, store, "cut-off");
      silent.stall();
      try {
        await leaseGivenUp(worker, "job cut-off: its lease could not be renewed", jobPid);
      } finally {
        silent.resume();
      }
    });
  });
}
