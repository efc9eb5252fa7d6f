/** SQLite schema version 1. Shipped: never edit it; add a new number instead. */

import type { Migration } from "../../migrate.ts";

export const migration: Migration = {
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
};
