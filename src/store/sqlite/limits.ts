/** Resource limits: queue defaults and what applied to each attempt, for the SQLite backend. */

import type { Database } from "bun:sqlite";
import { limitsText, parseLimitsText, type ResourceLimits } from "../../core/resource-limits.ts";

type Row = Record<string, unknown>;

export function queueLimitsSet(db: Database, params: { name: string; limits: ResourceLimits | null }): void {
  db.query("INSERT OR IGNORE INTO queues (name) VALUES (?)").run(params.name);
  db.query("UPDATE queues SET limits = ? WHERE name = ?").run(
    params.limits ? limitsText(params.limits) : null,
    params.name,
  );
}

export function queueLimitsList(db: Database): Record<string, ResourceLimits> {
  const rows = db.query("SELECT name, limits FROM queues WHERE limits IS NOT NULL").all() as Row[];
  return queueLimitsFromRows(rows);
}

/** Stored text that no longer parses counts as no limits, as a bad config value falls back. */
export function queueLimitsFromRows(rows: Row[]): Record<string, ResourceLimits> {
  const result: Record<string, ResourceLimits> = {};
  for (const row of rows) {
    try {
      const limits = parseLimitsText(String(row.limits));
      if (limits) result[String(row.name)] = limits;
    } catch {
      // Skipped, see above.
    }
  }
  return result;
}

export function attemptLimitsSet(
  db: Database,
  params: { jobId: string; token: number; limits: string },
): void {
  db.query("UPDATE attempts SET limits = ? WHERE job_id = ? AND token = ?").run(
    params.limits,
    params.jobId,
    params.token,
  );
}
