/** PostgreSQL schema version 9. Shipped: never edit it; add a new number instead. */

import type { Migration } from "../../migrate.ts";

export const migration: Migration = {
  version: 9,
  name: "fewer job indexes",
  sql: `
      -- Every claim and every completion moved an entry in it, on the worker's hot path; the
      -- running jobs (state = 'processing') are few, and jobs_state finds them for rescue.
      -- jobs_queue_state stays here, unlike on SQLite: a claim limited to some queues
      -- (worker --queue, or a queue with a limit) finds its few jobs through it instead of
      -- walking every pending job of the other queues.
      DROP INDEX jobs_lease;
    `,
};
