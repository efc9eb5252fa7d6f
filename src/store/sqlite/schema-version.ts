/**
 * The schema version this queuectl's SQLite migrations end at, and the one cheap read that
 * tells whether a file is already there. Nearly every open finds it current, so the
 * migrations themselves (a dozen modules) load only when there is work for them: `enqueue`
 * and `status`, which scripts call in loops, pay start-up time for every module they load.
 * migrations.ts refuses to load when its list ends anywhere else, so the two cannot drift.
 */

import type { Database } from "bun:sqlite";
import { runtimeError, UserError } from "../../core/errors.ts";
import { FOREIGN_MIGRATIONS_TABLE, isOurMigrationsTable } from "../migrations-table.ts";

export const SQLITE_SCHEMA_VERSION = 10;

/**
 * The version schema_migrations records, or null when it cannot be read (a new file, or one
 * that is not queuectl's): opening an up-to-date store costs this one query.
 */
export function quickSchemaVersion(db: Database): number | null {
  try {
    // Naming the columns only queuectl's table has: another tool's schema_migrations (Rails,
    // Ecto, golang-migrate, dbmate have none of them) fails here and is looked at by readSchema.
    return (
      db.query("SELECT MAX(version) AS v, COUNT(name), COUNT(applied_at) FROM schema_migrations").get() as {
        v: number | null;
      }
    ).v;
  } catch {
    return null;
  }
}

/** What a database file holds, read before anything is written to it. */
export type FoundSchema =
  | { kind: "queue"; version: number }
  | { kind: "empty" }
  | { kind: "foreign"; reason: string };

/**
 * Reads what the file holds without writing to it: opening must leave another program's
 * database (a mistyped `--db`) exactly as it was, journal mode included. A file that is no
 * SQLite database at all throws SQLite's own error here.
 */
export function readSchema(db: Database): FoundSchema {
  const facts = db
    .query(
      `SELECT (SELECT group_concat(name, ',') FROM pragma_table_info('schema_migrations')) AS columns,
              (SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%') AS tables`,
    )
    .get() as { columns: string | null; tables: number };
  if (facts.columns === null) {
    return facts.tables === 0
      ? { kind: "empty" }
      : { kind: "foreign", reason: "it has tables and no schema_migrations" };
  }
  if (!isOurMigrationsTable(facts.columns.split(",")))
    return { kind: "foreign", reason: FOREIGN_MIGRATIONS_TABLE };
  return { kind: "queue", version: quickSchemaVersion(db) ?? 0 };
}

/** A database that belongs to another program: bad input, like a file that is no database. */
export function notQueueDatabase(location: string, reason: string): UserError {
  return new UserError(
    `${location} is an SQLite database, but not a queuectl one (${reason})`,
    "point QUEUECTL_DB or --db at a new file, or at a queuectl database; it was left as it was",
  );
}

/** What an opening read-write connection finds: a current queue by one cheap read (nearly every open), anything else looked at. */
export function schemaOnOpen(db: Database): FoundSchema {
  return quickSchemaVersion(db) === SQLITE_SCHEMA_VERSION
    ? { kind: "queue", version: SQLITE_SCHEMA_VERSION }
    : readSchema(db);
}

/** A read-only file cannot be migrated; reading it with other tables than expected would mislead. */
export function assertCurrentSchema(db: Database, location: string): void {
  const schema = readSchema(db);
  if (schema.kind === "foreign") throw notQueueDatabase(location, schema.reason);
  const found = schema.kind === "queue" ? schema.version : 0;
  if (found === SQLITE_SCHEMA_VERSION) return;
  throw runtimeError(
    `the database ${location} is read-only and has schema version ${found}, not the ${SQLITE_SCHEMA_VERSION} this queuectl reads`,
    found < SQLITE_SCHEMA_VERSION
      ? "open it once where it can be written, so that it is upgraded"
      : "upgrade queuectl",
  );
}
