/** PostgreSQL schema version 6. Shipped: never edit it; add a new number instead. */

import type { Migration } from "../../migrate.ts";

export const migration: Migration = {
  version: 6,
  name: "job progress and results",
  sql: `
      -- What the running attempt last wrote to $QUEUECTL_PROGRESS; kept after the job ends.
      ALTER TABLE jobs ADD COLUMN progress_pct INTEGER;
      ALTER TABLE jobs ADD COLUMN progress_message TEXT;
      -- The JSON the last finished attempt wrote to $QUEUECTL_RESULT. TEXT rather than jsonb, as on
      -- SQLite: the result comes back exactly as the job wrote it (key order, number forms).
      ALTER TABLE jobs ADD COLUMN result TEXT;
    `,
};
