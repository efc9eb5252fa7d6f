/**
 * Inserting new jobs on SQLite, inside the caller's IMMEDIATE transaction: prepared INSERTs
 * at in-process speed, a hundred rows per statement. `insertValues` is the column values of
 * a row, shared by plain enqueue, jobfile apply and schedule occurrences.
 */

import { type Database, SQLiteError, type Statement } from "bun:sqlite";
import { claimantIds } from "../../core/occurrence-id.ts";
import { newJobRow } from "../columns.ts";
import { duplicateIdError, scheduleClaimRefusal } from "../errors.ts";
import type { JobInsertParams, JobInsertStreamParams } from "../params.ts";
import type { NewJob, NewJobRow } from "../records.ts";
import { setDependencies } from "./dependencies.ts";

/** Jobs between two progress reports of a bulk insert. */
const PROGRESS_EVERY = 5000;

export function insertValues(job: NewJob, now: number): (string | number | null)[] {
  const values: (string | number | null)[] = new Array(INSERT_COLUMNS);
  writeInsertValues(values, 0, newJobRow(job), now);
  return values;
}

/** The number of values insertValues gives per row. */
const INSERT_COLUMNS = 12;

/** insertValues written into `values` from `offset`: a bulk insert fills one array per statement. */
function writeInsertValues(
  values: (string | number | null)[],
  offset: number,
  row: NewJobRow,
  now: number,
): void {
  values[offset] = row.id;
  values[offset + 1] = row.specText;
  values[offset + 2] = row.revision;
  values[offset + 3] = row.maxRetries;
  values[offset + 4] = row.priority;
  values[offset + 5] = row.queue;
  values[offset + 6] = row.tagsText;
  values[offset + 7] = now;
  values[offset + 8] = now;
  values[offset + 9] = row.nextRunAt;
  values[offset + 10] = row.source;
  values[offset + 11] = row.source === null ? 0 : 1;
}

/** A new job's id and what it runs after: all a bulk insert keeps of a job once it is written. */
type Dependencies = [id: string, after: readonly string[]];

const INSERT_SQL = `
  INSERT INTO jobs (id, spec, revision, state, max_retries, priority, queue, tags, created_at, updated_at,
                    next_run_at, source, declared)
  VALUES `;
const ROW_SQL = "(?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/**
 * Rows per INSERT statement: one statement per row spends more time crossing into SQLite
 * than writing the row (100,000 rows: about 420 ms one by one, 300 ms a hundred at a time).
 */
const ROWS_PER_STATEMENT = 100;

/** Values every row of a bulk insert usually has alike, bound once per statement as ?1 to ?7. */
const SHARED_COLUMNS = 7;
const SHARED_ROW_SQL = (row: number) => {
  const first = SHARED_COLUMNS + 1 + row * 3;
  return `(?${first}, ?${first + 1}, ?${first + 2}, 'pending', ?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?7 IS NOT NULL)`;
};
/** Built on first use, not at load: a one-job enqueue or a `status` never needs them. */
let rowsSql: { each: string; shared: string } | undefined;
function hundredRowsSql(): { each: string; shared: string } {
  rowsSql ??= {
    each: Array(ROWS_PER_STATEMENT).fill(ROW_SQL).join(", "),
    shared: Array.from({ length: ROWS_PER_STATEMENT }, (_, row) => SHARED_ROW_SQL(row)).join(", "),
  };
  return rowsSql;
}

/**
 * A hundred rows that agree on everything but id, spec and revision (a bulk enqueue nearly
 * always does) bind three values each rather than twelve: in process, 100,000 rows took 190
 * ms rather than 255, and `enqueue -f` of 100,000 jobs 835 ms rather than 884 (median of 20
 * interleaved runs). Writes the statement's values from `start` into `values`; false, with
 * `values` left half written, when the rows differ.
 */
function writeSharedValues(
  values: (string | number | null)[],
  rows: NewJobRow[],
  start: number,
  now: number,
): boolean {
  const first = rows[start] as NewJobRow;
  for (let index = 0; index < ROWS_PER_STATEMENT; index++) {
    const row = rows[start + index] as NewJobRow;
    if (
      row.maxRetries !== first.maxRetries ||
      row.nextRunAt !== first.nextRunAt ||
      row.source !== first.source ||
      row.priority !== first.priority ||
      row.queue !== first.queue ||
      row.tagsText !== first.tagsText
    )
      return false;
    const offset = SHARED_COLUMNS + index * 3;
    values[offset] = row.id;
    values[offset + 1] = row.specText;
    values[offset + 2] = row.revision;
  }
  values[0] = first.maxRetries;
  values[1] = first.priority;
  values[2] = first.queue;
  values[3] = first.tagsText;
  values[4] = now;
  values[5] = first.nextRunAt;
  values[6] = first.source;
  return true;
}

/**
 * Inserts new pending jobs inside the caller's transaction; the first id already stored, or
 * repeated, throws. Jobs with dependencies are returned rather than linked, because a batch
 * may list a pipeline in any order: `linkDependencies` runs once every row of the input exists.
 */
function insertJobRows(db: Database, jobs: NewJobRow[], now: number): Dependencies[] {
  const one = db.query(INSERT_SQL + ROW_SQL);
  const withDependencies: Dependencies[] = [];
  let start = 0;
  const shared: (string | number | null)[] = [];
  const values: (string | number | null)[] = [];
  for (; start + ROWS_PER_STATEMENT <= jobs.length; start += ROWS_PER_STATEMENT) {
    try {
      // Compiled only for a batch that needs it: preparing it costs a one-job enqueue noticeably.
      if (writeSharedValues(shared, jobs, start, now)) {
        db.query(INSERT_SQL + hundredRowsSql().shared).run(...shared);
      } else {
        for (let row = 0; row < ROWS_PER_STATEMENT; row++)
          writeInsertValues(values, row * INSERT_COLUMNS, jobs[start + row] as NewJobRow, now);
        db.query(INSERT_SQL + hundredRowsSql().each).run(...values);
      }
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      // The statement left nothing behind; row by row names the id.
      for (const job of jobs.slice(start, start + ROWS_PER_STATEMENT)) insertOne(one, job, now);
    }
  }
  for (const job of jobs.slice(start)) insertOne(one, job, now);
  for (const job of jobs) if (job.after) withDependencies.push([job.id, job.after]);
  return withDependencies;
}

function insertOne(statement: Statement, job: NewJobRow, now: number): void {
  try {
    const values: (string | number | null)[] = new Array(INSERT_COLUMNS);
    writeInsertValues(values, 0, job, now);
    statement.run(...values);
  } catch (error) {
    if (isUniqueViolation(error)) throw duplicateIdError(job.id);
    throw error;
  }
}

function isUniqueViolation(error: unknown): boolean {
  return error instanceof SQLiteError && String(error.code) === "SQLITE_CONSTRAINT_UNIQUE";
}

/**
 * A job may take neither a schedule's id nor one of its occurrence ids; like the unique key
 * on jobs.id, this is checked inside the insert's transaction, before any row of the batch.
 */
function refuseScheduleClaims(db: Database, jobs: NewJobRow[]): void {
  const ids = jobs.map((job) => job.id);
  const rows = db
    .query("SELECT id FROM schedules WHERE id IN (SELECT value FROM json_each(?))")
    .all(JSON.stringify(claimantIds(ids))) as { id: string }[];
  if (rows.length === 0) return;
  const refusal = scheduleClaimRefusal(ids, new Set(rows.map((row) => row.id)));
  if (refusal) throw refusal;
}

/**
 * Whether the store has any schedule. Without one no job can take a schedule's id, so a bulk
 * insert skips the check per batch (11 ms per 5,000 jobs). Read inside the insert's IMMEDIATE
 * transaction: no schedule can appear until it commits.
 */
function anySchedule(db: Database): boolean {
  return db.query("SELECT 1 FROM schedules LIMIT 1").get() !== null;
}

function linkDependencies(db: Database, jobs: Dependencies[], now: number): void {
  for (const [id, after] of jobs) setDependencies(db, id, after, now);
}

/**
 * All or nothing inside the caller's transaction; a duplicate id, or one a schedule claims,
 * throws a UserError naming it.
 */
export function insertJobs(db: Database, params: JobInsertParams): void {
  const withDependencies: Dependencies[] = [];
  const schedules = anySchedule(db);
  for (let start = 0; start < params.jobs.length; start += PROGRESS_EVERY) {
    // A batch's rows at a time: each holds its spec's JSON as well.
    const batch = params.jobs.slice(start, start + PROGRESS_EVERY).map((job) => newJobRow(job));
    if (schedules) refuseScheduleClaims(db, batch);
    withDependencies.push(...insertJobRows(db, batch, params.now));
    params.onProgress?.(start + batch.length);
  }
  linkDependencies(db, withDependencies, params.now);
  if (params.jobs.length === 0) params.onProgress?.(0);
}

/** insertJobs for input that streams in batches, inside the caller's held-open transaction. */
export async function insertJobStream(db: Database, params: JobInsertStreamParams): Promise<number> {
  const withDependencies: Dependencies[] = [];
  let done = 0;
  const schedules = anySchedule(db);
  for await (const batch of params.batches) {
    if (schedules) refuseScheduleClaims(db, batch);
    withDependencies.push(...insertJobRows(db, batch, params.now));
    done += batch.length;
    params.onProgress?.(done);
  }
  linkDependencies(db, withDependencies, params.now);
  return done;
}
