/** PostgreSQL schema version 5. Shipped: never edit it; add a new number instead. */

import type { Migration } from "../../migrate.ts";

export const migration: Migration = {
  version: 5,
  name: "kill requests",
  sql: `
      -- 'cancel' or 'retry' while a \`kill\` waits for the job's worker to stop it; cleared by a claim.
      ALTER TABLE jobs ADD COLUMN kill_requested TEXT;
    `,
};
