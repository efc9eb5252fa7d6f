/**
 * The schema version this queuectl's SQLite migrations end at, and the one cheap read that
 * tells whether a file is already there. Nearly every open finds it current, so the
 * migrations themselves (a dozen modules) load only when there is work for them: `enqueue`
 * and `status`, which scripts call in loops, pay start-up time for every module they load.
 * migrations.ts refuses to load when its list ends anywhere else, so the two cannot drift.
 */

import type { Database } from "bun:sqlite";

export const SQLITE_SCHEMA_VERSION = 10;

/**
 * The version schema_migrations records, or null when it cannot be read (a new file, or one
 * that is not queuectl's): opening an up-to-date store costs this one query.
 */
export function quickSchemaVersion(db: Database): number | null {
  try {
    return (db.query("SELECT MAX(version) AS v FROM schema_migrations").get() as { v: number | null }).v;
  } catch {
    return null;
  }
}
