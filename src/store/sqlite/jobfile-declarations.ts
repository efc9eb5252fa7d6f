/** Which of some ids exist, and how they are declared; jobfile planning uses it to spot ad hoc ids. */

import type { Database } from "bun:sqlite";
import type { JobDeclaration } from "../store.ts";

type Row = Record<string, unknown>;

export function jobDeclarations(db: Database, ids: string[]): JobDeclaration[] {
  if (ids.length === 0) return [];
  // One statement for any number of ids: json_each avoids SQLite's bound-parameter limit.
  const rows = db
    .query("SELECT id, source, next_revision FROM jobs WHERE id IN (SELECT value FROM json_each(?))")
    .all(JSON.stringify(ids)) as Row[];
  return rows.map((row) => ({
    id: String(row.id),
    source: row.source === null ? null : String(row.source),
    nextRevision: row.next_revision === null ? null : String(row.next_revision),
  }));
}
