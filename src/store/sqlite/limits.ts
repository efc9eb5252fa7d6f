/** Resource limits: queue defaults and what applied to each attempt, for the SQLite backend. */

import type { Database } from "bun:sqlite";
import { limitsText, type ResourceLimits } from "../../core/resource-limits.ts";
import { queueLimitsFromRows } from "../limits-rows.ts";
import type { AttemptLimitsSetParams, QueueLimitsSetParams } from "../params.ts";

export function queueLimitsSet(db: Database, params: QueueLimitsSetParams): void {
  db.query("INSERT OR IGNORE INTO queues (name) VALUES (?)").run(params.name);
  db.query("UPDATE queues SET limits = ? WHERE name = ?").run(
    params.limits ? limitsText(params.limits) : null,
    params.name,
  );
}

export function queueLimitsList(db: Database): Record<string, ResourceLimits> {
  return queueLimitsFromRows(db.query("SELECT name, limits FROM queues WHERE limits IS NOT NULL").all());
}

export function attemptLimitsSet(db: Database, params: AttemptLimitsSetParams): void {
  db.query("UPDATE attempts SET limits = ? WHERE job_id = ? AND token = ?").run(
    params.limits,
    params.jobId,
    params.token,
  );
}
