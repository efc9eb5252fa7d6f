/**
 * Jobfile test helpers: a temp home with a private jobs folder, a real store (an SQLite
 * file in it, or a PostgreSQL schema of its own), running jobs "by hand" through the store
 * (claim, then complete or fail), and a long-running CLI process whose stdout lines can be
 * awaited.
 */

import { afterEach, describe } from "bun:test";
import { chmodSync, mkdirSync, realpathSync, renameSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { SQL } from "bun";
import type { Job } from "../../src/core/job.ts";
import { type JobSpec, specRevision } from "../../src/core/spec.ts";
import { type SyncOptions, syncJobsFolder } from "../../src/jobfiles/sync.ts";
import { openStore } from "../../src/store/open.ts";
import type { RunResult, Store } from "../../src/store/store.ts";
import { CLI_PATH, type TempHome, tempHome, waitFor } from "../helpers/cli.ts";

export type Backend = "sqlite" | "postgres";

const PG_URL = process.env.QUEUECTL_TEST_PG_URL;

/**
 * The backends a behaviour suite runs on: SQLite always, PostgreSQL when
 * QUEUECTL_TEST_PG_URL is set (said loudly when it is not).
 */
export function testBackends(suite: string): Backend[] {
  if (PG_URL) return ["sqlite", "postgres"];
  console.warn(`${suite}: PostgreSQL skipped; set QUEUECTL_TEST_PG_URL to run it there too`);
  return ["sqlite"];
}

/** What a test of a backend suite works with: set up by `setUp()`, cleaned up after the test. */
export interface BackendTest {
  backend: Backend;
  fixture: JobsFixture;
  /** A store on the fixture's location. */
  store: Store;
  /** A fresh jobs folder and store on this suite's backend. */
  setUp(): Promise<void>;
}

/** Registers `suite` once per backend; each test calls `t.setUp()` for its folder and store. */
export function forEachBackend(name: string, suite: (t: BackendTest) => void): void {
  for (const backend of testBackends(name)) {
    describe(backend, () => {
      const t = { backend } as BackendTest;
      t.setUp = async () => {
        t.fixture = jobsFixture(backend);
        t.store = await t.fixture.store();
      };
      afterEach(() => t.fixture?.cleanup());
      suite(t);
    });
  }
}

export interface JobsFixture extends TempHome {
  /** The jobs folder (mode 0700). */
  dir: string;
  /** Its real path: what job sources start with. */
  root: string;
  /** The store's location: an SQLite file, or a PostgreSQL URL with its own schema. */
  dbPath: string;
  write(rel: string, text: string): string;
  remove(rel: string): void;
  rename(from: string, to: string): void;
  /** Sets a file's times a minute back, as if it had been written long before a watcher looks. */
  backdate(...rels: string[]): void;
  store(): Promise<Store>;
}

export function jobsFixture(backend: Backend = "sqlite"): JobsFixture {
  const schema = `qc_jobfiles_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const dbPath =
    backend === "postgres" && PG_URL ? `${PG_URL}${PG_URL.includes("?") ? "&" : "?"}schema=${schema}` : "";
  const home = tempHome(dbPath ? { QUEUECTL_DB: dbPath } : {});
  const dir = join(home.home, "jobs");
  mkdirSync(dir, { mode: 0o700 });
  chmodSync(dir, 0o700);
  const location = dbPath || join(home.home, "jobs.db");
  const stores: Store[] = [];
  return {
    ...home,
    dir,
    root: realpathSync(dir),
    dbPath: location,
    write(rel, text) {
      const path = join(dir, rel);
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      writeFileSync(path, text, { mode: 0o600 });
      return path;
    },
    remove(rel) {
      rmSync(join(dir, rel), { recursive: true, force: true });
    },
    rename(from, to) {
      renameSync(join(dir, from), join(dir, to));
    },
    backdate(...rels) {
      const past = new Date(Date.now() - 60_000);
      for (const rel of rels) utimesSync(join(dir, rel), past, past);
    },
    async store() {
      const store = await openStore({ url: location });
      stores.push(store);
      return store;
    },
    cleanup() {
      const closed = Promise.all(stores.map((store) => store.close().catch(() => {})));
      home.cleanup();
      if (backend === "postgres" && PG_URL) {
        return closed.then(async () => {
          const admin = new SQL(PG_URL, { max: 1 });
          await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
          await admin.close();
        });
      }
      return closed.then(() => {});
    },
  };
}

export function sync(store: Store, dir: string, extra: Partial<SyncOptions> = {}) {
  return syncJobsFolder({ store, dir, now: Date.now(), ...extra });
}

/** What a sync that changed no job reports as applied. */
export const NOTHING_APPLIED = {
  create: [],
  replace: [],
  defer: [],
  dropDeferred: [],
  showCompleted: [],
  skipCompleted: [],
  redeclare: [],
  cancel: [],
  forget: [],
  rearmed: [],
  canceledDependents: [],
};

export const SUCCESS: RunResult = {
  exitCode: 0,
  signal: null,
  error: null,
  stdoutBytes: 0,
  stderrBytes: 0,
  logPath: null,
  outputTail: null,
};

export const FAILURE: RunResult = { ...SUCCESS, exitCode: 1, error: "exit code 1" };

/** Claims every runnable job (delays included) the way a worker would, leaving them `processing`. */
export async function claimAll(store: Store): Promise<Job[]> {
  const claimed: Job[] = [];
  for (;;) {
    const job = await store.jobClaim({
      workerId: "test-worker",
      host: "test-host",
      now: Date.now() + 86_400_000,
      leaseMs: 600_000,
    });
    if (!job) return claimed;
    claimed.push(job);
  }
}

/** Runs every runnable job to completion through the store, without a worker. Returns their ids. */
export async function completeAll(store: Store): Promise<string[]> {
  const claimed = await claimAll(store);
  for (const job of claimed) {
    await store.jobComplete({ id: job.id, token: job.token, now: Date.now(), result: SUCCESS });
  }
  return claimed.map((job) => job.id).sort();
}

/** The ids claimAll claims, in claim order. */
export async function claimIds(store: Store): Promise<string[]> {
  return (await claimAll(store)).map((job) => job.id);
}

/** Completes `id`, already claimed, with the token it holds. */
export async function completeClaimed(store: Store, id: string): Promise<void> {
  await store.jobComplete({ id, token: (await jobOf(store, id)).token, now: Date.now(), result: SUCCESS });
}

/** Queues `spec` as `enqueue` would: a job of no jobfile. */
export async function queueByHand(store: Store, spec: JobSpec): Promise<void> {
  const now = Date.now();
  await store.jobInsertMany({
    jobs: [{ spec, revision: specRevision(spec), maxRetries: 3, nextRunAt: now, source: null }],
    now,
  });
}

export async function jobOf(store: Store, id: string): Promise<Job> {
  const job = await store.jobGet({ id });
  if (!job) throw new Error(`no job ${id}`);
  return job;
}

/** A running `queuectl …` process whose stdout and stderr lines are collected as they come. */
export interface LiveCli {
  proc: ReturnType<typeof Bun.spawn>;
  stdoutLines: string[];
  stderrLines: string[];
  /** JSON objects from stdout lines (for `--json` output). */
  json<T = Record<string, unknown>>(): T[];
  waitForLine(match: (line: string) => boolean, what: string, timeoutMs?: number): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number>;
}

function collect(stream: ReadableStream<Uint8Array>, lines: string[]): void {
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of stream) {
      buffer += decoder.decode(chunk, { stream: true });
      const parts = buffer.split("\n");
      buffer = parts.pop() ?? "";
      lines.push(...parts);
    }
    if (buffer) lines.push(buffer);
  })();
}

/** Starts `queuectl …args` in `cwd` (default: the test's own folder). */
export function startCli(args: string[], env: Record<string, string>, cwd?: string): LiveCli {
  const proc = Bun.spawn(["bun", CLI_PATH, ...args], {
    env,
    cwd,
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  const stdoutLines: string[] = [];
  const stderrLines: string[] = [];
  collect(proc.stdout as ReadableStream<Uint8Array>, stdoutLines);
  collect(proc.stderr as ReadableStream<Uint8Array>, stderrLines);
  return {
    proc,
    stdoutLines,
    stderrLines,
    json<T>() {
      return stdoutLines.filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as T);
    },
    waitForLine(match, what, timeoutMs = 20_000) {
      return waitFor(
        () => {
          if (proc.exitCode !== null && !stdoutLines.some(match)) {
            throw new Error(`queuectl ${args.join(" ")} exited ${proc.exitCode}: ${stderrLines.join("\n")}`);
          }
          return stdoutLines.find(match);
        },
        { timeoutMs, what },
      );
    },
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null) proc.kill(signal);
      return await proc.exited;
    },
  };
}
