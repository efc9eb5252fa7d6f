/** Resource limits: queue defaults and what applied to each attempt, as sqlite/limits.ts does them. */

import type { SQL } from "bun";
import { limitsText, type ResourceLimits } from "../../core/resource-limits.ts";
import { queueLimitsFromRows } from "../limits-rows.ts";
import type { AttemptLimitsSetParams, QueueLimitsSetParams } from "../params.ts";

export async function queueLimitsSet(tx: SQL, params: QueueLimitsSetParams): Promise<void> {
  await tx`INSERT INTO queues (name) VALUES (${params.name}) ON CONFLICT DO NOTHING`;
  await tx`UPDATE queues SET limits = ${params.limits ? limitsText(params.limits) : null}::text
           WHERE name = ${params.name}`;
}

export async function queueLimitsList(sql: SQL): Promise<Record<string, ResourceLimits>> {
  return queueLimitsFromRows(await sql`SELECT name, limits FROM queues WHERE limits IS NOT NULL`);
}

export async function attemptLimitsSet(tx: SQL, params: AttemptLimitsSetParams): Promise<void> {
  await tx`UPDATE attempts SET limits = ${params.limits}::text
           WHERE job_id = ${params.jobId} AND token = ${params.token}::int`;
}
