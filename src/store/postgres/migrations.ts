/**
 * Numbered PostgreSQL migrations, the same numbers as the SQLite ones with their own SQL.
 * Immutable once shipped: add a new number, never edit one.
 *
 * Where the SQL differs from SQLite, and why:
 * - timestamps are BIGINT ms (SQLite INTEGER is already 64-bit);
 * - spec, tags, queues and next_spec are jsonb, so tag filters are real JSON containment;
 * - `seq` is an identity column rather than AUTOINCREMENT; gaps are harmless, only order matters;
 * - flags are BOOLEAN instead of 0/1 integers (rows.ts reads both).
 */

import type { SQL } from "bun";
import { runtimeError } from "../../core/errors.ts";

export const POSTGRES_MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: "jobs, attempts, config, workers",
    sql: `
      CREATE TABLE jobs (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        spec JSONB NOT NULL,
        revision TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        max_retries INTEGER NOT NULL,
        priority INTEGER NOT NULL DEFAULT 0,
        queue TEXT NOT NULL DEFAULT 'default',
        tags JSONB NOT NULL DEFAULT '[]',
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        next_run_at BIGINT NOT NULL,
        started_at BIGINT,
        finished_at BIGINT,
        worker_id TEXT,
        lease_until BIGINT,
        token INTEGER NOT NULL DEFAULT 0,
        exit_code INTEGER,
        last_error TEXT,
        source TEXT,
        declared BOOLEAN NOT NULL DEFAULT FALSE,
        next_spec JSONB,
        next_revision TEXT,
        next_max_retries INTEGER
      );
      -- Matches the claim's ORDER BY exactly, so FOR UPDATE SKIP LOCKED walks the index instead of sorting.
      CREATE INDEX jobs_claim ON jobs (priority DESC, next_run_at, seq) WHERE state IN ('pending', 'failed');
      CREATE INDEX jobs_state ON jobs (state, seq);
      CREATE INDEX jobs_lease ON jobs (lease_until) WHERE state = 'processing';
      CREATE INDEX jobs_source ON jobs (source) WHERE source IS NOT NULL;
      CREATE TABLE attempts (
        job_id TEXT NOT NULL,
        token INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        worker_id TEXT NOT NULL,
        host TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        finished_at BIGINT,
        exit_code INTEGER,
        signal TEXT,
        error TEXT,
        stdout_bytes BIGINT NOT NULL DEFAULT 0,
        stderr_bytes BIGINT NOT NULL DEFAULT 0,
        log_path TEXT,
        output_tail TEXT,
        PRIMARY KEY (job_id, token)
      );
      CREATE TABLE completed_revisions (
        job_id TEXT NOT NULL,
        revision TEXT NOT NULL,
        PRIMARY KEY (job_id, revision)
      );
      CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at BIGINT NOT NULL,
        heartbeat_at BIGINT NOT NULL,
        stop_requested BOOLEAN NOT NULL DEFAULT FALSE,
        queues JSONB
      );
    `,
  },
  {
    version: 2,
    name: "dependencies, named queues, schedules",
    sql: `
      ALTER TABLE jobs ADD COLUMN blocked BOOLEAN NOT NULL DEFAULT FALSE;
      ALTER TABLE jobs ADD COLUMN canceled_by TEXT;
      ALTER TABLE jobs ADD COLUMN schedule_id TEXT;
      CREATE TABLE job_deps (
        job_id TEXT NOT NULL,
        depends_on TEXT NOT NULL,
        PRIMARY KEY (job_id, depends_on)
      );
      CREATE INDEX job_deps_depends_on ON job_deps (depends_on);
      -- The claim index now leaves out jobs still waiting for a dependency; the claim says
      -- "NOT blocked" in exactly this form so the planner can match the partial index.
      DROP INDEX jobs_claim;
      CREATE INDEX jobs_claim ON jobs (priority DESC, next_run_at, seq)
        WHERE state IN ('pending', 'failed') AND NOT blocked;
      CREATE INDEX jobs_queue_state ON jobs (queue, state);
      CREATE INDEX jobs_canceled_by ON jobs (canceled_by) WHERE canceled_by IS NOT NULL;
      CREATE INDEX jobs_schedule ON jobs (schedule_id, state) WHERE schedule_id IS NOT NULL;
      CREATE TABLE queues (
        name TEXT PRIMARY KEY,
        concurrency INTEGER,
        paused BOOLEAN NOT NULL DEFAULT FALSE
      );
      CREATE TABLE schedules (
        id TEXT PRIMARY KEY,
        spec JSONB NOT NULL,
        revision TEXT NOT NULL,
        source TEXT,
        next_at BIGINT,
        last_at BIGINT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: "jobfile owners, completion dates, attempt revisions",
    sql: `
      -- The jobs folder (its real path) that declared the job; NULL for ad hoc jobs and for
      -- rows declared before owners were recorded (the planner then reads ownership off source).
      ALTER TABLE jobs ADD COLUMN owner TEXT;
      ALTER TABLE completed_revisions ADD COLUMN completed_at BIGINT;
      -- The revision each attempt ran; NULL for attempts recorded before this migration.
      ALTER TABLE attempts ADD COLUMN revision TEXT;
      -- The one completion date still known: the current revision of a completed job.
      UPDATE completed_revisions SET completed_at = jobs.finished_at
      FROM jobs
      WHERE jobs.id = completed_revisions.job_id AND jobs.revision = completed_revisions.revision
        AND jobs.state = 'completed';
      `,
  },
  {
    version: 4,
    name: "jobfile folders: last sync and watchers",
    sql: `
      CREATE TABLE jobfile_folders (
        folder TEXT PRIMARY KEY,
        target TEXT NOT NULL,
        synced_at BIGINT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        synced_by TEXT NOT NULL,
        files INTEGER NOT NULL,
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        canceled INTEGER NOT NULL,
        unchanged INTEGER NOT NULL,
        problems INTEGER NOT NULL,
        problem_list JSONB NOT NULL
      );
      -- One watcher per folder and host: the key is what refuses a second one.
      CREATE TABLE jobfile_watchers (
        folder TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at BIGINT NOT NULL,
        heartbeat_at BIGINT NOT NULL,
        last_error TEXT,
        last_error_at BIGINT,
        PRIMARY KEY (folder, host)
      );
    `,
  },
  {
    version: 5,
    name: "kill requests",
    sql: `
      -- 'cancel' or 'retry' while a \`kill\` waits for the job's worker to stop it; cleared by a claim.
      ALTER TABLE jobs ADD COLUMN kill_requested TEXT;
    `,
  },
  // 8, not 6: migrations 6 and 7 are taken on other branches; numbers are settled at merge.
  {
    version: 8,
    name: "resource limits",
    sql: `
      -- A queue's default limits as JSON ({"memory":"256M",...}); null for none.
      ALTER TABLE queues ADD COLUMN limits TEXT;
      -- What limited the attempt and how, e.g. "memory 256 MB (cgroup v1)"; null for none.
      ALTER TABLE attempts ADD COLUMN limits TEXT;
    `,
  },
];

export const POSTGRES_SCHEMA_VERSION = Math.max(...POSTGRES_MIGRATIONS.map((m) => m.version));

/**
 * Creates the schema if needed and brings it up to date. Each migration runs in its own
 * transaction under an advisory lock keyed by the schema, and re-checks the recorded
 * version inside it, so two hosts starting at once apply each migration exactly once.
 */
export async function migratePostgres(sql: SQL, schema: string, location: string): Promise<void> {
  const lockKey = `queuectl.migrate.${schema}`;
  const currentVersion = async (tx: SQL): Promise<number> => {
    const [row] = await tx`SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations`;
    return Number(row.v);
  };
  const found = await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(hashtext(${lockKey}))`;
    // Concurrent CREATE ... IF NOT EXISTS can still collide in the catalog; the lock serializes them.
    await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    // As on SQLite: never migrate over someone else's tables (an application's `public`).
    const [found] = await tx`
      SELECT COUNT(*) FILTER (WHERE table_name <> 'schema_migrations') AS others,
             COUNT(*) FILTER (WHERE table_name = 'schema_migrations') AS ours
      FROM information_schema.tables WHERE table_schema = ${schema}`;
    if (Number(found?.others) > 0 && Number(found?.ours) === 0) {
      throw runtimeError(
        `the schema ${schema} of ${location} holds other tables and is not a queuectl schema`,
        "keep the queue in a schema of its own: add ?schema=queuectl to QUEUECTL_DB",
      );
    }
    await tx.unsafe(`CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`);
    return currentVersion(tx);
  });
  if (found > POSTGRES_SCHEMA_VERSION) {
    throw runtimeError(
      `the database ${location} has schema version ${found}, newer than this queuectl understands (${POSTGRES_SCHEMA_VERSION})`,
      "upgrade queuectl, or point QUEUECTL_DB at another database",
    );
  }
  for (const migration of POSTGRES_MIGRATIONS) {
    if (migration.version <= found) continue;
    await sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(hashtext(${lockKey}))`;
      if ((await currentVersion(tx)) >= migration.version) return;
      await tx.unsafe(migration.sql);
      await tx`INSERT INTO schema_migrations (version, name, applied_at)
               VALUES (${migration.version}, ${migration.name}, ${Date.now()})`;
    });
  }
}
