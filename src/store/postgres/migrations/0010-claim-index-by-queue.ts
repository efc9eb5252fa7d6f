/** PostgreSQL schema version 10. Shipped: never edit it; add a new number instead. */

import type { Migration } from "../../migrate.ts";

export const migration: Migration = {
  version: 10,
  name: "claim index by queue",
  sql: `
      -- jobs_claim leads with priority, so a claim past a paused queue's backlog, or one at
      -- its limit, stepped over every waiting job that came first; a claim for some queues
      -- (worker --queue) found them through jobs_queue_state and sorted every waiting job of
      -- those queues. Such claims now walk each served queue in jobs_queue_claim, which
      -- leaves out jobs waiting on others (claim.ts, complete-many.ts). jobs_claim stays for
      -- a claim over every queue when none is paused or limited: one walk, and a claim adds
      -- no entry to either index (the row it writes is no longer waiting). jobs_queue_state
      -- goes, as on SQLite in version 9: a count by queue reads the table.
      DROP INDEX jobs_queue_state;
      CREATE INDEX jobs_queue_claim ON jobs (queue, priority DESC, next_run_at, seq)
        WHERE state IN ('pending', 'failed') AND NOT blocked;
    `,
};
