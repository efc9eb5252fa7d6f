/** Shared pieces of the store contract suite: the backend harness and job builders. */

import type { JobSpec } from "../../src/core/spec.ts";
import { POSTGRES_MIGRATIONS } from "../../src/store/postgres/migrations.ts";
import { SQLITE_MIGRATIONS } from "../../src/store/sqlite/migrations.ts";
import type { NewJob, RunResult, Store } from "../../src/store/store.ts";

/** One empty store location; `open` may be called many times, like several processes or hosts. */
export interface StoreLocation {
  open(): Promise<Store>;
  /** Runs raw SQL against the location, for tests that must write a state directly. */
  exec(statement: string): Promise<void>;
}

export interface StoreBackend {
  name: string;
  /** A fresh, empty location; every test gets its own. */
  create(): Promise<StoreLocation>;
  /**
   * Tests run concurrently, each on its own location, at most this many at once. Default 1.
   * Worth it where tests wait on a server far more than they compute (PostgreSQL); bun:sqlite
   * works synchronously, so SQLite tests would only take turns on the event loop.
   */
  testsAtOnce?: number;
  /** Removes everything `create` made; runs once after the suite. */
  cleanup(): Promise<void>;
}

/** Opens a fresh location and closes every store a test opened, pass or fail. */
export interface Fixture {
  store: Store;
  location: StoreLocation;
  /** Another connection to the same location (a second worker process or host). */
  another(): Promise<Store>;
  /** A store at a new, empty location of the same backend: the target of an import. */
  fresh(): Promise<Store>;
}

export type WithStore = (test: (fixture: Fixture) => Promise<void>) => () => Promise<void>;

export const T0 = 1_700_000_000_000;

export function newJob(
  id: string,
  extra: Partial<JobSpec> & { nextRunAt?: number; source?: string } = {},
): NewJob {
  const { nextRunAt, source, ...spec } = extra;
  return {
    spec: { id, command: `echo ${id}`, ...spec },
    revision: `rev-${id}-${JSON.stringify(spec).length}`,
    maxRetries: spec.max_retries ?? 3,
    nextRunAt: nextRunAt ?? T0,
    source: source ?? null,
  };
}

export function runResult(exitCode: number | null, extra: Partial<RunResult> = {}): RunResult {
  return {
    exitCode,
    signal: null,
    error: exitCode === 0 ? null : `exit ${exitCode}`,
    stdoutBytes: 12,
    stderrBytes: 3,
    logPath: "logs/x",
    outputTail: "hello",
    ...extra,
  };
}

/** SQL that builds a store's schema as a release at `version` left it, for upgrade tests. */
export function schemaAtVersion(backend: StoreBackend, version: number): string {
  const migrations = backend.name === "postgres" ? POSTGRES_MIGRATIONS : SQLITE_MIGRATIONS;
  return `
    CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL);
    ${migrations
      .filter((migration) => migration.version <= version)
      .map((m) => `${m.sql};\nINSERT INTO schema_migrations VALUES (${m.version}, '${m.name}', 0);`)
      .join("\n")}`;
}
