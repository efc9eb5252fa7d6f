/**
 * The facts core/attempt-outcome.ts decides on, gathered per attempt in SQL that SQLite and
 * PostgreSQL both run as written, so the two backends count alike.
 */

import { countOutcomes, type ErrorKind, ATTEMPT_ERROR_TEXTS as TEXTS } from "../core/attempt-outcome.ts";

type Row = Record<string, unknown>;

/** Our own constants, never user input, so they are written into the SQL. */
function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** substr rather than LIKE: the texts may hold `_` or `%`, which LIKE would read as wildcards. */
function startsWith(column: string, prefix: string): string {
  return `substr(${column}, 1, ${prefix.length}) = ${literal(prefix)}`;
}

const NOTE = startsWith("a.error", TEXTS.notePrefix);
const KILLED = `(a.error = ${literal(TEXTS.killed)} OR ${startsWith("a.error", TEXTS.rescuedKillPrefix)} OR ${startsWith("a.error", TEXTS.stoppingKillPrefix)})`;
const KINDS: Record<Exclude<ErrorKind, "other">, string> = {
  none: "a.error IS NULL",
  note: NOTE,
  killed: KILLED,
  released: `a.error IN (${TEXTS.released.map(literal).join(", ")})`,
};

/** A finished attempt that completed its job: exit 0, its error at most a note. */
export const SUCCEEDED_SQL = `COALESCE(a.exit_code = 0 AND (a.error IS NULL OR ${NOTE}), FALSE)`;

/** Attempts (`a`, joined to their job `j`) grouped by queue and facts, with how many share them. */
export const OUTCOME_FACTS_SQL = `
  SELECT queue, finished, exit_zero, error_kind, last_try, retry, COUNT(*) AS n
  FROM (
    SELECT j.queue AS queue,
           a.finished_at IS NOT NULL AS finished,
           COALESCE(a.exit_code = 0, FALSE) AS exit_zero,
           CASE ${Object.entries(KINDS)
             .map(([kind, condition]) => `WHEN ${condition} THEN '${kind}'`)
             .join(" ")} ELSE 'other' END AS error_kind,
           a.attempt > j.max_retries AS last_try,
           a.attempt > 1 AS retry
    FROM attempts a JOIN jobs j ON j.id = a.job_id) facts
  GROUP BY queue, finished, exit_zero, error_kind, last_try, retry`;

/** SQLite answers booleans as 0 and 1, PostgreSQL as true and false. */
function flag(value: unknown): boolean {
  return value === true || Number(value) === 1;
}

/** OUTCOME_FACTS_SQL's rows as the counts per queue that rowsToMetrics reads. */
export function outcomeRows(rows: Row[]): Row[] {
  const facts = rows.map((row) => ({
    queue: String(row.queue),
    finished: flag(row.finished),
    exitZero: flag(row.exit_zero),
    errorKind: String(row.error_kind) as ErrorKind,
    lastTry: flag(row.last_try),
    retry: flag(row.retry),
    n: Number(row.n),
  }));
  return countOutcomes(facts).map((counts) => ({ ...counts }));
}
