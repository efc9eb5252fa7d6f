/** PostgreSQL schema version 2. Shipped: never edit it; add a new number instead. */

import type { Migration } from "../../migrate.ts";

export const migration: Migration = {
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
};
