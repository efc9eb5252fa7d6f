/** PostgreSQL schema version 3. Shipped: never edit it; add a new number instead. */

import type { Migration } from "../../migrate.ts";

export const migration: Migration = {
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
};
