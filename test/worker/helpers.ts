/**
 * Helpers for tests that drive real worker processes: a foreground `worker run` whose
 * output the test can wait on, direct store access to the test's SQLite file, and a
 * cleanup that kills every worker the test left behind (by pid, never by name).
 */

import { afterEach, beforeEach } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { canonicalConfigKey, parseConfigValue } from "../../src/core/config.ts";
import type { Job } from "../../src/core/job.ts";
import { openStore } from "../../src/store/open.ts";
import type { Store } from "../../src/store/store.ts";
import { isProcessAlive } from "../../src/worker/process-info.ts";
import { CLI_PATH, type CliResult, runCli, type TempHome, tempHome, waitFor } from "../helpers/cli.ts";

export async function withStore<T>(home: TempHome, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore({ url: join(home.home, "jobs.db") });
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

export function getJob(home: TempHome, id: string): Promise<Job | null> {
  return withStore(home, (store) => store.jobGet({ id }));
}

export async function jobState(home: TempHome, id: string): Promise<string | undefined> {
  return (await getJob(home, id))?.state;
}

export function ok(result: CliResult): string {
  if (result.exitCode !== 0) throw new Error(`exit ${result.exitCode}: ${result.stderr}`);
  return result.stdout;
}

export async function enqueue(home: TempHome, spec: Record<string, unknown>): Promise<void> {
  ok(await runCli(["enqueue", JSON.stringify(spec)], { env: home.env }));
}

/**
 * `queuectl config set key value`, as the command does it (same key names, same parsing),
 * without a CLI process: the command itself is tested in cli-commands.test.ts.
 */
export async function config(home: TempHome, key: string, value: string): Promise<void> {
  const canonical = canonicalConfigKey(key);
  const stored = parseConfigValue(canonical, value);
  await withStore(home, (store) => store.configSet({ key: canonical, value: stored }));
}

/** Lines a file holds (an execution log the jobs append to), or [] before it exists. */
export function lines(path: string): string[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8").split("\n").filter(Boolean);
}

/** A foreground `queuectl worker run` whose output accumulates for `waitForOutput`. */
export class ForegroundWorker {
  readonly process: Bun.Subprocess<"ignore", "pipe", "pipe">;
  output = "";

  constructor(home: TempHome, args: string[] = [], env: Record<string, string> = {}) {
    this.process = Bun.spawn(["bun", CLI_PATH, "worker", "run", ...args], {
      env: { ...home.env, ...env },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    this.collect(this.process.stdout);
    this.collect(this.process.stderr);
  }

  get pid(): number {
    return this.process.pid;
  }

  async waitForOutput(fragment: string, timeoutMs = 20_000): Promise<void> {
    await waitFor(() => this.output.includes(fragment), {
      timeoutMs,
      what: () => `worker output "${fragment}" (its output: ${this.output})`,
    });
  }

  private async collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of stream) this.output += decoder.decode(chunk, { stream: true });
  }
}

/** Kills whatever workers a test left running against its store, then waits for them to go. */
export async function killWorkers(home: TempHome, extra: number[] = []): Promise<void> {
  let pids = [...extra];
  const pidfile = join(home.home, "watch.pid");
  if (existsSync(pidfile))
    pids = pids.concat(readFileSync(pidfile, "utf8").split("\n").filter(Boolean).map(Number));
  if (existsSync(join(home.home, "jobs.db"))) {
    pids = pids.concat((await withStore(home, (store) => store.workerList())).map((worker) => worker.pid));
  }
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  await waitFor(() => pids.every((pid) => !isProcessAlive(pid)), {
    timeoutMs: 10_000,
    what: "workers to exit",
  });
}

/**
 * The set-up every worker test file shares: a fresh QUEUECTL_HOME per test, and the
 * foreground workers it started, killed and cleaned up after each test.
 */
export function workerTestContext() {
  let current: TempHome | undefined;
  let spawned: ForegroundWorker[] = [];
  beforeEach(() => {
    current = tempHome();
    spawned = [];
  });
  afterEach(async () => {
    if (!current) return;
    await killWorkers(
      current,
      spawned.map((worker) => worker.pid),
    );
    current.cleanup();
  });
  const context = {
    get home(): TempHome {
      if (!current) throw new Error("workerTestContext is only usable inside a test");
      return current;
    },
    /** Workers the test started some other way, killed with the rest after it. */
    get spawned(): ForegroundWorker[] {
      return spawned;
    },
    cli: (...args: string[]) => runCli(args, { env: context.home.env }),
    foreground(args: string[] = [], env: Record<string, string> = {}): ForegroundWorker {
      const worker = new ForegroundWorker(context.home, args, env);
      spawned.push(worker);
      return worker;
    },
  };
  return context;
}
