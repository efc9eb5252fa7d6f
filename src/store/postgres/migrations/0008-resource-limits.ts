/** PostgreSQL schema version 8. Shipped: never edit it; add a new number instead. */

import type { Migration } from "../../migrate.ts";

export const migration: Migration = {
  version: 8,
  name: "resource limits",
  sql: `
      -- A queue's default limits as JSON ({"memory":"256M",...}); null for none.
      ALTER TABLE queues ADD COLUMN limits TEXT;
      -- What limited the attempt and how, e.g. "memory 256 MB (cgroup v1)"; null for none.
      ALTER TABLE attempts ADD COLUMN limits TEXT;
    `,
};
