/** SQLite schema version 9. Shipped: never edit it; add a new number instead. */

import type { Migration } from "../../migrate.ts";

export const migration: Migration = {
  version: 9,
  name: "fewer job indexes",
  sql: `
      -- Every claim and every completion moved an entry in each of these, on the worker's
      -- hot path. What they served is answered as well without them: the running jobs
      -- (state = 'processing') are few and jobs_state finds them, lease or queue alike; a
      -- count by queue (\`list --queue\`, \`queue list\`, \`show\`, /metrics) reads the table.
      -- Claims walk jobs_claim (claim.ts), so they never used jobs_queue_state here.
      DROP INDEX jobs_queue_state;
      DROP INDEX jobs_lease;
    `,
};
