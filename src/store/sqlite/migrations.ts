/**
 * Numbered SQLite migrations. Immutable once shipped: add a new number, never edit one.
 * The PostgreSQL backend has the same numbers with its own SQL.
 */

import type { Database } from "bun:sqlite";
import { runtimeError } from "../../core/errors.ts";

export const SQLITE_MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: "jobs, attempts, config, workers",
    sql: `
      CREATE TABLE jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        spec TEXT NOT NULL,
        revision TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        max_retries INTEGER NOT NULL,
        priority INTEGER NOT NULL DEFAULT 0,
        queue TEXT NOT NULL DEFAULT 'default',
        tags TEXT NOT NULL DEFAULT '[]',
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        next_run_at INTEGER NOT NULL,
        started_at INTEGER,
        finished_at INTEGER,
        worker_id TEXT,
        lease_until INTEGER,
        token INTEGER NOT NULL DEFAULT 0,
        exit_code INTEGER,
        last_error TEXT,
        source TEXT,
        declared INTEGER NOT NULL DEFAULT 0,
        next_spec TEXT,
        next_revision TEXT,
        next_max_retries INTEGER
      );
      -- Matches the claim's ORDER BY exactly, so a claim walks the index instead of sorting.
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
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        exit_code INTEGER,
        signal TEXT,
        error TEXT,
        stdout_bytes INTEGER NOT NULL DEFAULT 0,
        stderr_bytes INTEGER NOT NULL DEFAULT 0,
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
        started_at INTEGER NOT NULL,
        heartbeat_at INTEGER NOT NULL,
        stop_requested INTEGER NOT NULL DEFAULT 0,
        queues TEXT
      );
    `,
  },
  {
    version: 2,
    name: "dependencies, named queues, schedules",
    sql: `
      ALTER TABLE jobs ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE jobs ADD COLUMN canceled_by TEXT;
      ALTER TABLE jobs ADD COLUMN schedule_id TEXT;
      CREATE TABLE job_deps (
        job_id TEXT NOT NULL,
        depends_on TEXT NOT NULL,
        PRIMARY KEY (job_id, depends_on)
      );
      CREATE INDEX job_deps_depends_on ON job_deps (depends_on);
      -- The claim index now leaves out jobs still waiting for a dependency.
      DROP INDEX jobs_claim;
      CREATE INDEX jobs_claim ON jobs (priority DESC, next_run_at, seq)
        WHERE state IN ('pending', 'failed') AND blocked = 0;
      CREATE INDEX jobs_queue_state ON jobs (queue, state);
      CREATE INDEX jobs_canceled_by ON jobs (canceled_by) WHERE canceled_by IS NOT NULL;
      CREATE INDEX jobs_schedule ON jobs (schedule_id, state) WHERE schedule_id IS NOT NULL;
      CREATE TABLE queues (
        name TEXT PRIMARY KEY,
        concurrency INTEGER,
        paused INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE schedules (
        id TEXT PRIMARY KEY,
        spec TEXT NOT NULL,
        revision TEXT NOT NULL,
        source TEXT,
        next_at INTEGER,
        last_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
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
      ALTER TABLE completed_revisions ADD COLUMN completed_at INTEGER;
      -- The revision each attempt ran; NULL for attempts recorded before this migration.
      ALTER TABLE attempts ADD COLUMN revision TEXT;
      -- The one completion date still known: the current revision of a completed job.
      UPDATE completed_revisions SET completed_at = (
        SELECT finished_at FROM jobs
        WHERE jobs.id = completed_revisions.job_id AND jobs.revision = completed_revisions.revision
          AND jobs.state = 'completed');
      `,
  },
  {
    version: 4,
    name: "jobfile folders: last sync and watchers",
    sql: `
      CREATE TABLE jobfile_folders (
        folder TEXT PRIMARY KEY,
        target TEXT NOT NULL,
        synced_at INTEGER NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        synced_by TEXT NOT NULL,
        files INTEGER NOT NULL,
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        canceled INTEGER NOT NULL,
        unchanged INTEGER NOT NULL,
        problems INTEGER NOT NULL,
        problem_list TEXT NOT NULL
      );
      -- One watcher per folder and host: the key is what refuses a second one.
      CREATE TABLE jobfile_watchers (
        folder TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        heartbeat_at INTEGER NOT NULL,
        last_error TEXT,
        last_error_at INTEGER,
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

export const SQLITE_SCHEMA_VERSION = Math.max(...SQLITE_MIGRATIONS.map((m) => m.version));

/**
 * The version schema_migrations records, or null when it cannot be read (a new file, or one
 * that is not queuectl's). Opening an up-to-date store, which is nearly every open, costs
 * this one query; anything else takes the full checks below.
 */
function recordedVersion(db: Database): number | null {
  try {
    return (db.query("SELECT MAX(version) AS v FROM schema_migrations").get() as { v: number | null }).v;
  } catch {
    return null;
  }
}

/**
 * Brings the schema up to date. Each migration runs in its own IMMEDIATE transaction and
 * re-checks the recorded version inside it, so two processes migrating at once is safe.
 */
export function migrateSqlite(db: Database, location: string): void {
  if (recordedVersion(db) === SQLITE_SCHEMA_VERSION) return;
  const tables = db
    .query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    .all() as {
    name: string;
  }[];
  if (tables.length > 0 && !tables.some((table) => table.name === "schema_migrations")) {
    throw runtimeError(
      `${location} is an SQLite database, but not a queuectl one (it has tables and no schema_migrations)`,
      "point QUEUECTL_DB or --db at a new file, or at a queuectl database",
    );
  }
  db.run(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
  const currentVersion = (): number =>
    (db.query("SELECT MAX(version) AS v FROM schema_migrations").get() as { v: number | null }).v ?? 0;
  const found = currentVersion();
  if (found > SQLITE_SCHEMA_VERSION) {
    throw runtimeError(
      `the database ${location} has schema version ${found}, newer than this queuectl understands (${SQLITE_SCHEMA_VERSION})`,
      "upgrade queuectl, or point QUEUECTL_DB at another database",
    );
  }
  for (const migration of SQLITE_MIGRATIONS) {
    if (migration.version <= found) continue;
    db.transaction(() => {
      if (currentVersion() >= migration.version) return;
      db.run(migration.sql);
      db.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(
        migration.version,
        migration.name,
        Date.now(),
      );
    }).immediate();
  }
}
