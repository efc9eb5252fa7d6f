/**
 * `worker start` is all or nothing: a worker (or the watcher) that fails at start makes it
 * stop, and wait for, every process it started before it reports the failure, so nothing
 * is left running that `worker stop` could miss. `--count` has an upper bound. Real
 * processes, a real SQLite write lock to hold workers before they register.
 */

import { Database } from "bun:sqlite";
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InterruptedError } from "../../src/core/errors.ts";
import { isProcessAlive } from "../../src/worker/process-info.ts";
import { MAX_WORKER_COUNT, startWorkers } from "../../src/worker/supervisor.ts";
import { CLI_PATH, type CliResult, refused, runCli, runCliProcess, waitFor } from "../helpers/cli.ts";
import { withStore, workerTestContext } from "../worker/helpers.ts";
import { wrappedStore } from "../worker/in-process.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const context = workerTestContext();

/** Pids of the workers started under this home, from their log files' names. */
function workerPids(): number[] {
  const dir = join(context.home.home, "workers");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => /^worker-(\d+)\.log$/.exec(name)?.[1])
    .filter((pid): pid is string => pid !== undefined)
    .map(Number);
}

/** Kills what a failed test left, registered or not: cleanup only finds registered workers. */
function killAll(pids: number[]): void {
  for (const pid of pids.filter((pid) => pid > 0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone, as it should be.
    }
  }
}

/**
 * Runs `worker start --count 3` while this test holds the store's write lock, so that its
 * workers are launched but none can register until `release`; `body` runs once all three
 * were spawned. Whatever is left running is killed after.
 */
async function withStartHeldBack(
  body: (
    starting: Promise<CliResult>,
    release: () => void,
    signal: (name: NodeJS.Signals) => void,
  ) => Promise<void>,
): Promise<void> {
  await withStore(context.home, (store) => store.jobCounts());
  const lock = new Database(join(context.home.home, "jobs.db"));
  lock.run("BEGIN IMMEDIATE");
  let locked = true;
  const release = () => {
    if (locked) lock.run("ROLLBACK");
    locked = false;
  };
  try {
    const child = Bun.spawn(["bun", CLI_PATH, "worker", "start", "--count", "3"], {
      env: context.home.env,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const starting = Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]).then(([stdout, stderr, exitCode]) => ({ stdout, stderr, exitCode }));
    await waitFor(() => workerPids().length === 3, { timeoutMs: 20_000, what: "3 workers to be spawned" });
    await body(starting, release, (name) => child.kill(name));
  } finally {
    release();
    lock.close();
    killAll(workerPids());
  }
}

describe("worker start", () => {
  test(`--count above ${MAX_WORKER_COUNT} is refused before anything starts`, async () => {
    const result = await runCli(["worker", "start", "--count", String(MAX_WORKER_COUNT + 1)], {
      env: context.home.env,
    });
    try {
      refused(result, `--count must be at most ${MAX_WORKER_COUNT}, got ${MAX_WORKER_COUNT + 1}`);
      expect(workerPids()).toEqual([]);
    } finally {
      killAll(workerPids());
    }
  });

  test("a worker that dies at start: the others are stopped and waited for, and the error says so", async () => {
    // Held back so that no worker can register until one of them has died.
    await withStartHeldBack(async (starting, release) => {
      const [victim, ...others] = workerPids() as [number, ...number[]];
      process.kill(victim, "SIGKILL");
      release();
      const result = await starting;
      expect(result.exitCode).toBe(1);
      expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(result.stderr).toContain(`error: worker ${victim} was killed by SIGKILL at start`);
      expect(result.stderr).toContain("stopped the 2 worker(s) it had started, none is left running");
      // Waited for: gone by the time the command returned.
      for (const pid of others) expect({ pid, alive: isProcessAlive(pid) }).toEqual({ pid, alive: false });
      expect(await withStore(context.home, (store) => store.workerList())).toEqual([]);
    });
  });

  for (const [name, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    test(`${name} while the workers start: the start is undone, and the command exits ${code}`, async () => {
      // Held back so that the workers are launched but cannot register before the signal comes.
      await withStartHeldBack(async (starting, release, signal) => {
        signal(name);
        release();
        const result = await starting;
        expect(result.exitCode).toBe(code);
        expect(result.stderr.trimEnd().split("\n")).toEqual([
          `error: worker start was interrupted by ${name}; stopped the 3 process(es) it had started, none is left running — run \`queuectl worker start\` again to start the workers`,
        ]);
        for (const pid of workerPids())
          expect({ pid, alive: isProcessAlive(pid) }).toEqual({ pid, alive: false });
        expect(await withStore(context.home, (store) => store.workerList())).toEqual([]);
      });
    });
  }

  test("a signal that lands during the start's last read of the store still undoes it", async () => {
    // In process, so the read can be held while the signal lands: the start's own handler
    // takes it (SIGHUP here), as it would during a slow PostgreSQL round trip.
    const saved = { home: process.env.QUEUECTL_HOME, db: process.env.QUEUECTL_DB };
    process.env.QUEUECTL_HOME = context.home.home;
    delete process.env.QUEUECTL_DB;
    let pids: number[] = [];
    try {
      await withStore(context.home, async (inner) => {
        let signalled = false;
        const store = wrappedStore(inner, (name, method) =>
          name === "workerList"
            ? async () => {
                const rows = (await method()) as unknown[];
                if (rows.length === 2 && !signalled) {
                  signalled = true;
                  // Resolves as the signal is dispatched, to the start's handler too.
                  const landed = new Promise((resolve) => process.once("SIGHUP", resolve));
                  process.kill(process.pid, "SIGHUP");
                  await landed;
                }
                return rows;
              }
            : null,
        );
        const params = { home: context.home.home, count: 2, concurrency: 1, prefetch: null, queues: null };
        const error = await startWorkers(store, { ...params, watchDir: null, dbUrl: undefined }).catch(
          (caught: unknown) => caught,
        );
        pids = workerPids();
        expect(signalled).toBe(true);
        expect(error).toBeInstanceOf(InterruptedError);
        expect((error as InterruptedError).exitCode).toBe(129);
        expect((error as InterruptedError).message).toBe(
          "worker start was interrupted by SIGHUP; stopped the 2 process(es) it had started, none is left running",
        );
        for (const pid of pids) expect({ pid, alive: isProcessAlive(pid) }).toEqual({ pid, alive: false });
        expect(await inner.workerList()).toEqual([]);
      });
    } finally {
      killAll(pids);
      process.env.QUEUECTL_HOME = saved.home;
      if (saved.db !== undefined) process.env.QUEUECTL_DB = saved.db;
    }
  });

  test("a worker stop while a start is still starting workers leaves none of them running", async () => {
    // Held back so that the workers are launched but cannot register before the stop comes.
    await withStartHeldBack(async (starting, release) => {
      const records = () =>
        readdirSync(join(context.home.home, "workers")).filter((name) => name.startsWith("starting-"));
      await waitFor(() => records().length === 1, { what: "the start's record of its workers" });
      const stopping = runCliProcess(["worker", "stop"], { env: context.home.env });
      await waitFor(() => records().length === 0, { timeoutMs: 20_000, what: "the stop to take the record" });
      release();
      const [started, stopped] = await Promise.all([starting, stopping]);
      expect(stopped.exitCode).toBe(0);
      expect(stopped.stdout).toContain("Stopped 3 worker(s)");
      // Whichever came first, the two commands agree: nothing of that start is left running.
      if (started.exitCode !== 0) expect(started.stderr).toContain("was stopped by `queuectl worker stop`");
      for (const pid of workerPids())
        expect({ pid, alive: isProcessAlive(pid) }).toEqual({ pid, alive: false });
      expect(await withStore(context.home, (store) => store.workerList())).toEqual([]);
    });
  });

  test("a watcher that fails at start takes the workers started with it down too", async () => {
    try {
      // A folder that passes worker start's own checks, with settings the watcher refuses.
      const folder = join(context.home.home, "bad-settings");
      mkdirSync(folder, { mode: 0o700 });
      writeFileSync(join(folder, ".queuectl.yaml"), 'namespace: "[x]"\n');
      const result = await runCli(["worker", "start", "--count", "2", "--watch", folder], {
        env: context.home.env,
      });
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toContain("the watcher exited at start");
      expect(result.stderr).toContain('namespace "[x]" is not a valid name');
      expect(result.stderr).toContain("stopped the 2 worker(s) it had started, none is left running");
      const pids = workerPids();
      expect(pids).toHaveLength(2);
      for (const pid of pids) expect({ pid, alive: isProcessAlive(pid) }).toEqual({ pid, alive: false });
      expect(await withStore(context.home, (store) => store.workerList())).toEqual([]);
    } finally {
      killAll(workerPids());
    }
  });

  test("--db reaches the workers and the watcher through their environment, never their command line", async () => {
    // What ps shows every local user: a PostgreSQL URL there would show its password.
    const db = join(context.home.home, "named.db");
    const folder = join(context.home.home, "jobs");
    mkdirSync(folder, { mode: 0o700 });
    writeFileSync(join(folder, "hello.yaml"), "command: echo hi\n");
    try {
      const result = await runCli(["--db", db, "worker", "start", "--count", "2", "--watch", folder], {
        env: context.home.env,
      });
      expect(result.exitCode).toBe(0);
      const pids = [
        ...workerPids(),
        ...readFileSync(join(context.home.home, "watch.pid"), "utf8")
          .split(/\s+/)
          .filter(Boolean)
          .map(Number),
      ];
      expect(pids).toHaveLength(3);
      for (const pid of pids) {
        const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8");
        expect({ pid, db: argv.includes(db) || argv.includes("--db") }).toEqual({ pid, db: false });
        expect(readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")).toContain(`QUEUECTL_DB=${db}`);
      }
      // And they serve that store: the jobfile's job runs there.
      await waitFor(
        async () =>
          (await runCli(["--db", db, "show", "hello"], { env: context.home.env })).stdout.includes(
            "completed",
          ),
        {
          what: "the watched job to run in the named store",
        },
      );
    } finally {
      await runCli(["--db", db, "worker", "stop"], { env: context.home.env });
      killAll(workerPids());
    }
  });

  test("--watch of a folder others can write: refused as watch refuses it, taken with --allow-shared-folder", async () => {
    const folder = join(context.home.home, "shared");
    mkdirSync(folder, { mode: 0o700 });
    chmodSync(folder, 0o777);
    writeFileSync(join(folder, "hello.yaml"), "command: echo hi\n", { mode: 0o600 });
    try {
      const refusedStart = await runCli(["worker", "start", "--watch", folder], { env: context.home.env });
      expect(refusedStart.exitCode).toBe(2);
      expect(refusedStart.stderr).toContain("--allow-shared-folder");
      // Without --watch it would do nothing: refused, not taken silently.
      const noFolder = await runCli(["worker", "start", "--allow-shared-folder"], { env: context.home.env });
      expect(noFolder.exitCode).toBe(2);
      expect(noFolder.stderr).toContain(
        "--allow-shared-folder applies only to a folder watched with --watch",
      );
      expect(workerPids()).toEqual([]);
      const started = await runCli(["worker", "start", "--watch", folder, "--allow-shared-folder"], {
        env: context.home.env,
      });
      expect(started.exitCode).toBe(0);
      await waitFor(
        async () => (await runCli(["show", "hello"], { env: context.home.env })).stdout.includes("completed"),
        {
          what: "the shared folder's job to run",
        },
      );
    } finally {
      await runCli(["worker", "stop"], { env: context.home.env });
      killAll(workerPids());
    }
  });
});
