/**
 * Shared set-up for flow tests: every suite runs on each store backend (a real SQLite file in
 * a temp folder, and PostgreSQL in a schema of its own per test when QUEUECTL_TEST_PG_URL is
 * set), with a manual "worker" driving the store.
 */

import { afterAll, afterEach, describe } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import { resolveConfig } from "../../src/core/config.ts";
import { UserError } from "../../src/core/errors.ts";
import { parseJobInput, prepareJobs } from "../../src/core/job-input.ts";
import { enqueuePrepared } from "../../src/flow/enqueue.ts";
import { openPostgresStore } from "../../src/store/postgres/backend.ts";
import { SqliteStore } from "../../src/store/sqlite/backend.ts";
import type { RunResult, Store } from "../../src/store/store.ts";

export interface FlowBackend {
  name: "sqlite" | "postgres";
  /**
   * A fresh, empty store for this test; closed and removed after it. `connections` sizes a
   * PostgreSQL pool as a command does (default: one); SQLite has no pool.
   */
  store(connections?: number): Promise<Store>;
  /** Another connection to the store this test opened last (a second host or watcher). */
  another(): Promise<Store>;
}

interface Location {
  open(connections?: number): Promise<Store>;
}

function sqliteLocations(): { create(): Location; cleanup(): void } {
  // Made at the first store: when a -t filter matches none of a backend's tests, bun skips
  // its afterAll, and a folder made at import was left behind in the temporary folder.
  let root: string | null = null;
  let count = 0;
  return {
    create() {
      root ??= mkdtempSync(join(tmpdir(), "queuectl-flow-"));
      const path = join(root, `store-${++count}.db`);
      return { open: async () => new SqliteStore(path) };
    },
    cleanup: () => {
      if (root !== null) rmSync(root, { recursive: true, force: true });
    },
  };
}

function postgresLocations(url: string): { create(): Location; cleanup(): Promise<void> } {
  const prefix = `qc_flow_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
  const schemas: string[] = [];
  return {
    create() {
      const schema = `${prefix}_${schemas.length + 1}`;
      schemas.push(schema);
      return {
        open: (connections?: number) =>
          openPostgresStore(`${url}${url.includes("?") ? "&" : "?"}schema=${schema}`, connections),
      };
    },
    async cleanup() {
      const admin = new SQL(url, { max: 1 });
      try {
        for (const schema of schemas) await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await admin.close();
      }
    },
  };
}

/**
 * Registers `suite` once per backend, each inside a describe named after it. Without
 * QUEUECTL_TEST_PG_URL only SQLite runs, and the file says so.
 */
export function forEachBackend(suite: (backend: FlowBackend) => void): void {
  const url = process.env.QUEUECTL_TEST_PG_URL;
  const backends: [
    FlowBackend["name"],
    ReturnType<typeof sqliteLocations> | ReturnType<typeof postgresLocations>,
  ][] = [["sqlite", sqliteLocations()]];
  if (url) backends.push(["postgres", postgresLocations(url)]);
  else console.warn("flow tests run on SQLite only: set QUEUECTL_TEST_PG_URL to run them on PostgreSQL too");
  for (const [name, locations] of backends) {
    describe(name, () => {
      let current: Location | null = null;
      const opened: Store[] = [];
      const open = async (connections?: number) => {
        if (!current) throw new Error("call backend.store() first");
        const store = await current.open(connections);
        opened.push(store);
        return store;
      };
      afterEach(async () => {
        await Promise.all(opened.splice(0).map((store) => store.close()));
        current = null;
      });
      afterAll(() => locations.cleanup());
      suite({
        name,
        store: (connections?: number) => {
          current = locations.create();
          return open(connections);
        },
        another: () => open(),
      });
    });
  }
}

export async function enqueue(store: Store, jobs: unknown[], now = Date.now()) {
  const prepared = prepareJobs(parseJobInput(JSON.stringify(jobs), "test"), "test", resolveConfig({}), now);
  return enqueuePrepared(store, prepared, now);
}

/** A clean exit with no output, as a worker reports it. */
export const OK: RunResult = {
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

/** The refusal as the CLI prints it, or a failure when `work` succeeds or fails otherwise. */
export async function refusal(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (error) {
    if (error instanceof UserError && error.exitCode === 2) return `${error.message} — ${error.hint}`;
    throw error;
  }
  throw new Error("expected a refusal, but it was accepted");
}
