/**
 * PostgreSQL's numbered migrations (migrations/, the same numbers and names as SQLite's with
 * their own SQL) and the few statements the shared runner (../migrate.ts) needs. Each
 * migration runs in its own transaction under an advisory lock keyed by the schema, so two
 * hosts starting at once apply each migration exactly once.
 *
 * Where the SQL differs from SQLite, and why:
 * - timestamps are BIGINT ms (SQLite INTEGER is already 64-bit);
 * - spec, tags, queues and next_spec are jsonb, so tag filters are real JSON containment;
 * - `seq` is an identity column rather than AUTOINCREMENT; gaps are harmless, only order matters;
 * - flags are BOOLEAN instead of 0/1 integers (rows.ts reads both).
 */

import type { SQL } from "bun";
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
import {
  migrationsTableIsOurs,
  notQueueSchema,
  POSTGRES_SCHEMA_VERSION,
  quickSchemaVersion,
  quotedSchema,
} from "./schema-version.ts";

export const POSTGRES_MIGRATIONS = inVersionOrder(
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

if (schemaVersion(POSTGRES_MIGRATIONS) !== POSTGRES_SCHEMA_VERSION) {
  // An open that finds POSTGRES_SCHEMA_VERSION recorded skips this file: a stale number would
  // leave the newest migrations unapplied for good.
  throw new Error(
    `POSTGRES_SCHEMA_VERSION is ${POSTGRES_SCHEMA_VERSION} but the migrations end at ${schemaVersion(POSTGRES_MIGRATIONS)}`,
  );
}

export { POSTGRES_SCHEMA_VERSION };

async function recordedVersion(tx: SQL): Promise<number> {
  const [row] = await tx`SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations`;
  return Number(row.v);
}

async function prepare(tx: SQL, schema: string, location: string): Promise<number> {
  const quoted = quotedSchema(schema);
  // Created only when missing: CREATE SCHEMA IF NOT EXISTS asks for the right to create
  // schemas in the database even when the schema is there, so a role given only its own
  // schema by an administrator could not use it. The lock serializes concurrent creators.
  const [present] = await tx`SELECT 1 AS found FROM pg_namespace WHERE nspname = ${schema}`;
  if (!present) await tx.unsafe(`CREATE SCHEMA ${quoted}`);
  // As on SQLite: never migrate over someone else's tables (an application's `public`).
  // pg_class, not information_schema: that lists only tables this role has a right on.
  const [found] = await tx`
    SELECT COUNT(*) FILTER (WHERE c.relname <> 'schema_migrations') AS others,
           COUNT(*) FILTER (WHERE c.relname = 'schema_migrations') AS ours
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ${schema} AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`;
  if (Number(found?.others) > 0 && Number(found?.ours) === 0) throw notQueueSchema(schema, location);
  if ((await migrationsTableIsOurs(tx, schema)) === false) throw notQueueSchema(schema, location);
  await tx.unsafe(`CREATE TABLE IF NOT EXISTS ${quoted}.schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
  return recordedVersion(tx);
}

/** Creates the schema if needed and brings it up to date. */
export async function migrateSchema(sql: SQL, schema: string, location: string): Promise<void> {
  const lockKey = `queuectl.migrate.${schema}`;
  const locked = <T>(work: (tx: SQL) => Promise<T>): Promise<T> =>
    sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(hashtext(${lockKey}))`;
      return work(tx);
    }) as Promise<T>;
  const target: MigrationTarget<SQL> = {
    location,
    quickVersion: () => quickSchemaVersion(sql, schema, location),
    prepare: () => locked((tx) => prepare(tx, schema, location)),
    transaction: (work) => locked(async (tx) => work(tx)),
    recordedVersion: (tx) => recordedVersion(tx),
    execute: async (tx, text) => {
      await tx.unsafe(text);
    },
    record: async (tx, migration, appliedAt) => {
      await tx`INSERT INTO schema_migrations (version, name, applied_at)
               VALUES (${migration.version}, ${migration.name}, ${appliedAt})`;
    },
  };
  await migrate(target, POSTGRES_MIGRATIONS);
}
