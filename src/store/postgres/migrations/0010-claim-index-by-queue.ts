/** PostgreSQL schema version 10. Shipped: never edit it; add a new number instead. */

import type { Migration } from "../../migrate.ts";

export const migration: Migration = {
  version: 10,
  name: "claim index by queue",
  sql: `
      -- jobs_claim led with priority, so a claim past a paused queue's backlog, or one at its
      -- limit, stepped over every waiting job that came first; a claim for some queues
      -- (worker --queue) found them through jobs_queue_state and sorted every waiting job of
      -- those queues. Led by queue, each served queue's next jobs are one short index walk
      -- (claim.ts), and jobs waiting on others are left out. jobs_queue_state goes, as on
      -- SQLite in version 9: a count by queue reads the table, and claims no longer need it.
      DROP INDEX jobs_claim;
      DROP INDEX jobs_queue_state;
      CREATE INDEX jobs_queue_claim ON jobs (queue, priority DESC, next_run_at, seq)
        WHERE state IN ('pending', 'failed') AND NOT blocked;
    `,
};
