/**
 * The schema version this queuectl's PostgreSQL migrations end at, and the one cheap read
 * that tells whether a schema is already there. As on SQLite, the migrations themselves load
 * only when there is work for them, so a command against a current schema does not pay
 * start-up time for a dozen modules. migrations.ts refuses to load when its list ends
 * anywhere else, so the two cannot drift.
 */

import type { SQL } from "bun";

export const POSTGRES_SCHEMA_VERSION = 9;

/**
 * A schema's name as SQL text, quoted: a name the URL check allows may still be a word SQL
 * reserves (`?schema=user`, `order`), and a default schema from the search_path may hold
 * capitals.
 */
export function quotedSchema(schema: string): string {
  return `"${schema.replaceAll('"', '""')}"`;
}

/**
 * The version schema_migrations records, or null when the schema has no such table yet.
 * Reading a current schema needs no write: a read-only replica or role can still be read.
 */
export async function quickSchemaVersion(sql: SQL, schema: string): Promise<number | null> {
  const table = `${quotedSchema(schema)}.schema_migrations`;
  const [found] = await sql`SELECT to_regclass(${table}) IS NOT NULL AS present`;
  if (!found?.present) return null;
  const [row] = await sql.unsafe(`SELECT COALESCE(MAX(version), 0) AS v FROM ${table}`);
  return Number(row?.v);
}
