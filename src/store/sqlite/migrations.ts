/**
 * SQLite's numbered migrations (migrations/, the same numbers and names as PostgreSQL's) and
 * the few statements the shared runner (../migrate.ts) needs. Each migration runs in its own
 * IMMEDIATE transaction, which is what keeps two processes from migrating at once.
 */

import type { Database } from "bun:sqlite";
import { inVersionOrder, type MigrationTarget, migrate, schemaVersion } from "../migrate.ts";
import { migration as m0001 } from "./migrations/0001-jobs-attempts-config-workers.ts";
import { migration as m0002 } from "./migrations/0002-dependencies-named-queues-schedules.ts";
import { migration as m0003 } from "./migrations/0003-jobfile-owners-completion-dates-attempt-revisions.ts";
import { migration as m0004 } from "./migrations/0004-jobfile-folders-last-sync-and-watchers.ts";
import { migration as m0005 } from "./migrations/0005-kill-requests.ts";
import { migration as m0006 } from "./migrations/0006-job-progress-and-results.ts";
import { migration as m0007 } from "./migrations/0007-webhook-notifications.ts";
import { migration as m0008 } from "./migrations/0008-resource-limits.ts";
import { migration as m0009 } from "./migrations/0009-fewer-job-indexes.ts";
import { migration as m0010 } from "./migrations/0010-claim-index-by-queue.ts";
import { notQueueDatabase, quickSchemaVersion, readSchema, SQLITE_SCHEMA_VERSION } from "./schema-version.ts";

export const SQLITE_MIGRATIONS = inVersionOrder(
  m0001,
  m0002,
  m0003,
  m0004,
  m0005,
  m0006,
  m0007,
  m0008,
  m0009,
  m0010,
);

if (schemaVersion(SQLITE_MIGRATIONS) !== SQLITE_SCHEMA_VERSION) {
  // An open that finds SQLITE_SCHEMA_VERSION recorded skips this file: a stale number would
  // leave the newest migrations unapplied for good.
  throw new Error(
    `SQLITE_SCHEMA_VERSION is ${SQLITE_SCHEMA_VERSION} but the migrations end at ${schemaVersion(SQLITE_MIGRATIONS)}`,
  );
}

export { SQLITE_SCHEMA_VERSION };

function recordedVersion(db: Database): number {
  return (db.query("SELECT MAX(version) AS v FROM schema_migrations").get() as { v: number | null }).v ?? 0;
}

function prepare(db: Database, location: string): number {
  const found = readSchema(db);
  if (found.kind === "foreign") throw notQueueDatabase(location, found.reason);
  db.run(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  return recordedVersion(db);
}

/** Brings the schema up to date, synchronously. */
export function migrateSchema(db: Database, location: string): void {
  const target: MigrationTarget<Database> = {
    location,
    quickVersion: () => quickSchemaVersion(db),
    prepare: () => prepare(db, location),
    transaction: (work) => db.transaction(() => work(db)).immediate(),
    recordedVersion: (tx) => recordedVersion(tx),
    execute: (tx, sql) => {
      tx.run(sql);
    },
    record: (tx, migration, appliedAt) => {
      tx.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(
        migration.version,
        migration.name,
        appliedAt,
      );
    },
  };
  migrate(target, SQLITE_MIGRATIONS);
}
