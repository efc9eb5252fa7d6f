/** Shared set-up for flow tests: a real SQLite store in a temp folder and a manual "worker". */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveConfig } from "../../src/core/config.ts";
import { parseJobInput, prepareJobs } from "../../src/core/job-input.ts";
import { enqueuePrepared } from "../../src/flow/enqueue.ts";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import type { RunResult, Store } from "../../src/store/store.ts";

export function tempStore(): { store: SqliteStore; path: string; cleanup: () => Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), "queuectl-flow-"));
  const path = join(dir, "jobs.db");
  const store = new SqliteStore(path);
  return {
    store,
    path,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function enqueue(store: Store, jobs: unknown[], now = Date.now()) {
  const prepared = prepareJobs(parseJobInput(JSON.stringify(jobs), "test"), "test", resolveConfig({}), now);
  return enqueuePrepared(store, prepared, now);
}

const OK: RunResult = {
  exitCode: 0,
  signal: null,
  error: null,
  stdoutBytes: 0,
  stderrBytes: 0,
  logPath: null,
  outputTail: null,
};

/** Claims the next job and completes it (or fails it for good), as a worker would. */
export async function runNext(store: Store, outcome: "complete" | "dead" = "complete", now = Date.now()) {
  const job = await store.jobClaim({ workerId: "test", host: "test", now, leaseMs: 30_000 });
  if (!job) return null;
  if (outcome === "complete") await store.jobComplete({ id: job.id, token: job.token, now, result: OK });
  else
    await store.jobFail({
      id: job.id,
      token: job.token,
      now,
      state: "dead",
      nextRunAt: now,
      result: { ...OK, exitCode: 1, error: "exit 1" },
    });
  return job.id;
}

export async function stateOf(store: Store, id: string) {
  return (await store.jobGet({ id }))?.state;
}
