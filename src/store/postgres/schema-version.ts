/**
 * The schema version this queuectl's PostgreSQL migrations end at, and the one cheap read
 * that tells whether a schema is already there. As on SQLite, the migrations themselves load
 * only when there is work for them, so a command against a current schema does not pay
 * start-up time for a dozen modules. migrations.ts refuses to load when its list ends
 * anywhere else, so the two cannot drift.
 */

import type { SQL } from "bun";
import { UserError } from "../../core/errors.ts";
import { isOurMigrationsTable } from "../migrations-table.ts";

export const POSTGRES_SCHEMA_VERSION = 10;

/**
 * A schema's name as SQL text, quoted: a name the URL check allows may still be a word SQL
 * reserves (`?schema=user`, `order`), and a default schema from the search_path may hold
 * capitals.
 */
export function quotedSchema(schema: string): string {
  return `"${schema.replaceAll('"', '""')}"`;
}

/**
 * Whether the schema's `schema_migrations` is queuectl's (migrations-table.ts). Null when
 * there is no such table. pg_attribute, not information_schema, which lists only what this role may use.
 */
export async function migrationsTableIsOurs(sql: SQL, schema: string): Promise<boolean | null> {
  const table = `${quotedSchema(schema)}.schema_migrations`;
  const [found] = await sql`
    SELECT to_regclass(${table}) IS NOT NULL AS present,
           (SELECT string_agg(a.attname::text, ',' ORDER BY a.attname) FROM pg_attribute a
            WHERE a.attrelid = to_regclass(${table}) AND a.attnum > 0 AND NOT a.attisdropped) AS columns`;
  if (!found?.present) return null;
  return isOurMigrationsTable(String(found.columns ?? "").split(","));
}

/** An application's schema named as the queue's: refused, never migrated over. */
export function notQueueSchema(schema: string, location: string): UserError {
  return new UserError(
    `the schema ${schema} of ${location} holds other tables and is not a queuectl schema`,
    "keep the queue in a schema of its own: add ?schema=queuectl to the store URL (--db or QUEUECTL_DB)",
  );
}

/**
 * The version schema_migrations records, or null when the schema has no such table yet.
 * Reading a current schema needs no write: a read-only replica or role can still be read.
 */
export async function quickSchemaVersion(sql: SQL, schema: string, location: string): Promise<number | null> {
  const ours = await migrationsTableIsOurs(sql, schema);
  if (ours === null) return null;
  if (!ours) throw notQueueSchema(schema, location);
  const [row] = await sql.unsafe(
    `SELECT COALESCE(MAX(version), 0) AS v FROM ${quotedSchema(schema)}.schema_migrations`,
  );
  return Number(row?.v);
}
