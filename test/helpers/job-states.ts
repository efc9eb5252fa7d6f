/**
 * Jobs brought to every state without a worker: the test claims and finishes them through
 * the store, exactly as a worker would, on the SQLite file the CLI under test uses. Set-up
 * through the store instead of a CLI call per step keeps the CLI tests about the CLI.
 */

import { expect } from "bun:test";
import { join } from "node:path";
import type { Job } from "../../src/core/job.ts";
import { moveJob } from "../../src/flow/moves.ts";
import { openStore } from "../../src/store/open.ts";
import type { RunResult, Store } from "../../src/store/store.ts";
import { enqueueSpecs } from "./enqueue.ts";

/** A job as `list --json` and `show --json` print it; only the fields tests read are named. */
export interface JobJson {
  id: string;
  state: string;
  attempts: number;
  max_retries: number;
  exit_code: number | null;
  last_error: string | null;
  [key: string]: unknown;
}

export const ids = (jobs: JobJson[]) => jobs.map((job) => job.id);

export type Outcome = "completed" | "failed" | "dead" | "processing";

/** The store of one queuectl home, opened for one piece of work and closed again. */
export interface HomeStore {
  with<T>(work: (store: Store) => Promise<T>): Promise<T>;
  /** Enqueues as `queuectl enqueue '<json>'` does, without a process. */
  enqueue(spec: Record<string, unknown>): Promise<void>;
  /** Every job as the store holds it: refused commands must leave this as it was. */
  snapshot(): Promise<Job[]>;
  /**
   * Claims the next job (which must be `id`) and records one outcome: `completed`, `failed`
   * (claimable again after `retryInMs`, default an hour), `dead`, or left `processing`.
   */
  run(id: string, outcome: Outcome, retryInMs?: number): Promise<void>;
  /** One job in each state: c completed, f failed, d dead, r processing, p pending, x canceled. */
  everyState(): Promise<void>;
}

const exited = (exitCode: number): RunResult => ({
  exitCode,
  signal: null,
  error: exitCode === 0 ? null : `exited with code ${exitCode}`,
  stdoutBytes: 3,
  stderrBytes: 0,
  logPath: null,
  outputTail: null,
});

export function homeStore(home: string): HomeStore {
  const withStore = async <T>(work: (store: Store) => Promise<T>): Promise<T> => {
    const store = await openStore({ url: join(home, "jobs.db") });
    try {
      return await work(store);
    } finally {
      await store.close();
    }
  };
  const enqueue = async (spec: Record<string, unknown>) => {
    await withStore((store) => enqueueSpecs(store, [spec]));
  };
  const run = (id: string, outcome: Outcome, retryInMs = 3_600_000) =>
    withStore(async (store) => {
      const now = Date.now();
      const job = await store.jobClaim({ workerId: "test-worker", host: "test-host", now, leaseMs: 60_000 });
      expect(job?.id).toBe(id);
      if (!job || outcome === "processing") return;
      if (outcome === "completed") {
        expect(await store.jobComplete({ id, token: job.token, now: now + 1, result: exited(0) })).toBe(true);
        return;
      }
      const nextRunAt = outcome === "failed" ? now + retryInMs : now + 1;
      const params = { id, token: job.token, now: now + 1, state: outcome, nextRunAt, result: exited(1) };
      expect(await store.jobFail(params)).toMatchObject({ state: outcome, because: null });
    });
  return {
    with: withStore,
    enqueue,
    snapshot: () => withStore((store) => store.jobList({})),
    run,
    async everyState() {
      for (const id of ["c", "f", "d", "r", "p", "x"]) {
        await enqueue({ id, command: `echo ${id}`, tags: id === "c" || id === "p" ? ["nightly"] : [] });
      }
      await run("c", "completed");
      await run("f", "failed");
      await run("d", "dead");
      await run("r", "processing");
      await withStore((store) => moveJob(store, "x", "cancel", Date.now()));
    },
  };
}
