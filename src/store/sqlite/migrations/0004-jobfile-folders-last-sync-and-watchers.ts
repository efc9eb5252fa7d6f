/** SQLite schema version 4. Shipped: never edit it; add a new number instead. */

import type { Migration } from "../../migrate.ts";

export const migration: Migration = {
  version: 4,
  name: "jobfile folders: last sync and watchers",
  sql: `
      CREATE TABLE jobfile_folders (
        folder TEXT PRIMARY KEY,
        target TEXT NOT NULL,
        synced_at INTEGER NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        synced_by TEXT NOT NULL,
        files INTEGER NOT NULL,
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        canceled INTEGER NOT NULL,
        unchanged INTEGER NOT NULL,
        problems INTEGER NOT NULL,
        problem_list TEXT NOT NULL
      );
      -- One watcher per folder and host: the key is what refuses a second one.
      CREATE TABLE jobfile_watchers (
        folder TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at INTEGER NOT NULL,
        heartbeat_at INTEGER NOT NULL,
        last_error TEXT,
        last_error_at INTEGER,
        PRIMARY KEY (folder, host)
      );
    `,
};
