/** PostgreSQL schema version 10. Shipped: never edit it; add a new number instead. */

import type { Migration } from "../../migrate.ts";

export const migration: Migration = {
  version: 10,
  name: "claim index by queue",
  sql: `
      -- jobs_claim leads with priority, so a claim past a paused queue's backlog, or one at
      -- its limit, stepped over every waiting job that came first; a claim for some queues
      -- (worker --queue) found them through jobs_queue_state and sorted every waiting job of
      -- those queues. Such claims now walk each queue here and take the best of their heads
      -- (claim-route.ts); jobs waiting on others are left out.
      CREATE INDEX jobs_queue_claim ON jobs (queue, priority DESC, next_run_at, seq)
        WHERE state IN ('pending', 'failed') AND NOT blocked;
    `,
};
