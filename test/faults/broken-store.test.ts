/**
 * The store breaking under running workers: its file deleted, its disk turned read-only,
 * its disk full, or the file made read-only by its owner. Each time, whoever touches the
 * store gets a clear one-line error, workers wait instead of spinning, and nothing that
 * was already stored is lost.
 *
 * (A store out of reach for longer than the lease is in locked-store.test.ts, in process.)
 *
 * The disk scenarios need a real file system that can fail: a loop-mounted ext4 image
 * (root only). `trigger_fs_error` makes ext4 record an error and, mounted with
 * errors=remount-ro, turn read-only under open files, as a failing disk does. Root also
 * bypasses file permissions, so the chmod scenario runs its processes as `nobody`.
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type CliResult, runCli, type TempHome, tempHome, waitFor } from "../helpers/cli.ts";
import { ok } from "../worker/helpers.ts";
import {
  AS_NOBODY,
  cliAsNobody,
  countJobs,
  integrityCheck,
  jobStates,
  mountScratchFs,
  nobodyCanRunTheCli,
  type ScratchFs,
  scratchFsAvailable,
  WorkerProcess,
} from "./helpers.ts";

setDefaultTimeout(120_000);

let home: TempHome;
let workers: WorkerProcess[];
let scratch: ScratchFs | null;
beforeEach(() => {
  home = tempHome();
  workers = [];
  scratch = null;
});
afterEach(async () => {
  for (const worker of workers) await worker.kill();
  scratch?.unmount();
  home.cleanup();
});

/** Points the test's QUEUECTL_HOME at `dir` (created 0700 by the CLI itself). */
function useHome(dir: string): Record<string, string> {
  return { ...home.env, QUEUECTL_HOME: dir };
}

const cli = (env: Record<string, string>, ...args: string[]) => runCli(args, { env });

/** Exit 1 with exactly one `error: … — …` line, no stack, and nothing on stdout. */
function runtimeFailure(result: CliResult, pattern: RegExp): void {
  expect({ exitCode: result.exitCode, stdout: result.stdout }).toEqual({ exitCode: 1, stdout: "" });
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: .+ — .+/);
  expect(lines[0]).toMatch(pattern);
  expect(result.stderr).not.toContain("this is a bug");
}

/** Every line a worker wrote to stderr is a timestamped one-line error; at least one matches. */
function clearWorkerErrors(worker: WorkerProcess, pattern: RegExp): void {
  const lines = worker.stderr.trimEnd().split("\n");
  // Worker events carry a timestamp; the final line of a worker that gives up is the CLI's own.
  for (const line of lines) expect(line).toMatch(/^(\d{4}-\d\d-\d\dT\S+Z )?error: \S/);
  expect(lines.some((line) => pattern.test(line))).toBe(true);
  expect(worker.stderr).not.toContain("    at ");
}

async function enqueueMany(env: Record<string, string>, prefix: string, count: number, command: string) {
  const file = join(home.home, `${prefix}.ndjson`);
  const lines = Array.from({ length: count }, (_, i) => JSON.stringify({ id: `${prefix}-${i}`, command }));
  writeFileSync(file, lines.join("\n"));
  return cli(env, "enqueue", "-f", file);
}

describe("the database file deleted under running workers", () => {
  test("each worker reports it in one line and exits 1 instead of running on unseen; a new file starts empty", async () => {
    const env = useHome(join(home.home, "q"));
    const db = join(home.home, "q", "jobs.db");
    ok(await cli(env, "config", "set", "poll-interval", "0.2"));
    ok(await enqueueMany(env, "early", 4, "true"));
    for (let i = 0; i < 2; i++) workers.push(new WorkerProcess(env));
    await waitFor(() => countJobs(db, "state = 'completed'") === 4, {
      timeoutMs: 30_000,
      what: "early jobs",
    });
    // On a busy machine one worker can run all four jobs before the other has opened the
    // file; opened after the deletion, it would rightly see a new, empty database.
    for (const worker of workers) await worker.waitFor("stdout", / started \(pid /);

    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${db}${suffix}`, { force: true });
    for (const worker of workers) await worker.waitFor("stderr", /was deleted or replaced/);
    // Gone, with a clear reason and a non-zero exit, rather than running jobs nobody can see.
    for (const worker of workers) {
      await waitFor(() => worker.process.exitCode !== null, {
        timeoutMs: 20_000,
        what: "the worker to exit",
      });
      expect(worker.process.exitCode).toBe(1);
    }
    for (const worker of workers) clearWorkerErrors(worker, /was deleted or replaced/);

    // A command run now opens a fresh, empty database: the old one is gone, by the user's hand.
    ok(await cli(env, "enqueue", '{"id":"after","command":"true"}'));
    expect(jobStates(db)).toEqual({ after: "pending" });
  });
});

describe.skipIf(!scratchFsAvailable())("a failing disk (loop-mounted ext4; needs root)", () => {
  test("the disk turns read-only under running workers: clear errors, no spinning, every enqueued job survives", async () => {
    scratch = mountScratchFs(join(home.home, "disk"), 16);
    const env = useHome(join(scratch.dir, "q"));
    const db = join(scratch.dir, "q", "jobs.db");
    ok(await cli(env, "config", "set", "poll-interval", "0.2"));
    ok(await enqueueMany(env, "stored", 40, "sleep 0.2"));
    for (let i = 0; i < 2; i++) workers.push(new WorkerProcess(env));
    await waitFor(() => countJobs(db, "state = 'completed'") >= 2, {
      timeoutMs: 30_000,
      what: "some jobs to run",
    });
    // One worker can run the first jobs alone; a worker that opened the file only after the
    // fault would rightly refuse to start, and be gone before its CPU is sampled.
    for (const worker of workers) await worker.waitFor("stdout", / started \(pid /);

    scratch.failReadOnly();
    runtimeFailure(await cli(env, "enqueue", '{"id":"late","command":"true"}'), /jobs\.db is read-only/);
    // Reading still works, and shows every stored job.
    const listed = JSON.parse(ok(await cli(env, "list", "--json"))) as { id: string }[];
    expect(listed.filter((job) => job.id.startsWith("stored-"))).toHaveLength(40);
    for (const worker of workers) await worker.waitFor("stderr", /error: /);
    for (const worker of workers) expect(await worker.cpuShare()).toBeLessThan(0.5);
    for (const worker of workers)
      clearWorkerErrors(worker, /cannot write the database .*jobs\.db|jobs\.db is read-only/);

    for (const worker of workers) await worker.kill();
    scratch.remountAfterRepair();
    // Enqueues were synced to disk (synchronous FULL); a worker's last results may not have
    // been (NORMAL), which only means those jobs run again.
    expect(integrityCheck(db)).toBe("ok");
    expect(countJobs(db, "id LIKE 'stored-%'")).toBe(40);
    expect(countJobs(db, "id = 'late'")).toBe(0);
  });

  test("the disk fills up: a bulk enqueue fails whole and clearly, workers wait, and finish once space is freed", async () => {
    scratch = mountScratchFs(join(home.home, "disk"), 16);
    const env = useHome(join(scratch.dir, "q"));
    const db = join(scratch.dir, "q", "jobs.db");
    ok(await cli(env, "config", "set", "poll-interval", "0.2"));
    ok(await cli(env, "config", "set", "backoff-base", "1"));
    ok(await cli(env, "config", "set", "lease", "2s"));
    ok(await enqueueMany(env, "stored", 30, "sleep 0.2; head -c 20000 /dev/zero | tr '\\0' x"));
    for (let i = 0; i < 2; i++) workers.push(new WorkerProcess(env));
    await waitFor(() => countJobs(db, "state = 'completed'") >= 2, {
      timeoutMs: 30_000,
      what: "some jobs to run",
    });
    // As above: both workers must have started before the disk fills.
    for (const worker of workers) await worker.waitFor("stdout", / started \(pid /);

    const filler = scratch.fill();
    // Far more than any free space left in the WAL: the write needs new blocks, and gets none.
    runtimeFailure(
      await enqueueMany(env, "late", 5000, "true"),
      /cannot write the database .*jobs\.db: database or disk is full/,
    );
    expect(countJobs(db, "id LIKE 'late-%'")).toBe(0);
    for (const worker of workers) expect(await worker.cpuShare()).toBeLessThan(0.5);
    for (const worker of workers) await worker.waitFor("stderr", /database or disk is full/);
    for (const worker of workers)
      clearWorkerErrors(worker, /cannot write the database .*jobs\.db: database or disk is full/);

    rmSync(filler);
    // Once there is room again, every stored job completes (a result that could not be
    // written is rescued when its lease runs out and the job runs again).
    await waitFor(() => countJobs(db, "state = 'completed'") === 30, {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: `every stored job to complete (${JSON.stringify(jobStates(db))})`,
    });
    ok(await enqueueMany(env, "late", 5000, "true"));
    expect(integrityCheck(db)).toBe("ok");
  });
});

describe.skipIf(!nobodyCanRunTheCli())(
  "the database made read-only by chmod (processes run as nobody)",
  () => {
    test("a running worker keeps its open file; a new write fails clearly; the file stays read-only", async () => {
      const base = join(home.home, "q");
      mkdirSync(base, { mode: 0o700 });
      chownSync(base, 65534, 65534);
      chownSync(home.home, 65534, 65534);
      const env = useHome(base);
      const nobody = cliAsNobody(env);
      const db = join(base, "jobs.db");
      expect(nobody("config", "set", "poll-interval", "0.2").exitCode).toBe(0);
      expect(nobody("enqueue", '{"id":"first","command":"true"}').exitCode).toBe(0);
      workers.push(new WorkerProcess(env, { prefix: AS_NOBODY }));
      await waitFor(() => jobStates(db).first === "completed", { timeoutMs: 30_000, what: "first job" });

      chmodSync(db, 0o400);
      runtimeFailure(nobody("enqueue", '{"id":"second","command":"true"}'), /jobs\.db is read-only/);
      // queuectl tightens loose permissions but never loosens them again.
      expect(statSync(db).mode & 0o777).toBe(0o400);
      runtimeFailure(nobody("enqueue", '{"id":"second","command":"true"}'), /jobs\.db is read-only/);
      expect(nobody("list", "--json").exitCode).toBe(0);
      // POSIX checks permissions when a file is opened: the running worker is unaffected.
      expect(await (workers[0] as WorkerProcess).cpuShare()).toBeLessThan(0.5);
      expect(workers[0]?.stderr).toBe("");
      chmodSync(db, 0o600);
      expect(nobody("enqueue", '{"id":"second","command":"true"}').exitCode).toBe(0);
      await waitFor(() => jobStates(db).second === "completed", { timeoutMs: 30_000, what: "second job" });
    });
  },
);
