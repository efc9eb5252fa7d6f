/** Queue limits as both backends read them back from their rows. */

import { parseLimitsText, type ResourceLimits } from "../core/resource-limits.ts";

type Row = Record<string, unknown>;

/** Stored text that no longer parses counts as no limits, as a bad config value falls back. */
export function queueLimitsFromRows(rows: unknown[]): Record<string, ResourceLimits> {
  const result: Record<string, ResourceLimits> = {};
  for (const row of rows as Row[]) {
    try {
      const limits = parseLimitsText(String(row.limits));
      if (limits) result[String(row.name)] = limits;
    } catch {
      // Skipped, see above.
    }
  }
  return result;
}
