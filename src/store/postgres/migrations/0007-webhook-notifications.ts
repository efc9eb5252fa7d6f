/** PostgreSQL schema version 7. Shipped: never edit it; add a new number instead. */

import type { Migration } from "../../migrate.ts";

export const migration: Migration = {
  version: 7,
  name: "webhook notifications",
  sql: `
      -- A queue's webhook receivers, a JSON list of {url, events} (src/core/notify.ts); NULL for none.
      ALTER TABLE queues ADD COLUMN notify JSONB;
      -- The outbox: one row per event and URL, written in the transaction that changed the job,
      -- so a worker killed right after a job ends still has its deliveries sent by another.
      CREATE TABLE webhook_deliveries (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        job_id TEXT NOT NULL,
        token INTEGER NOT NULL,
        event TEXT NOT NULL,
        url TEXT NOT NULL,
        -- The exact bytes sent and signed, fixed when the event happened.
        body TEXT NOT NULL,
        -- pending, delivered, or gave_up once retries ran out.
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        -- When a pending row is due; a claim moves it to the end of its lease, so a sender that
        -- died mid-send leaves a row that falls due again by itself.
        next_attempt_at BIGINT NOT NULL,
        -- The claim allowed to record the result; NULL while no one holds the row.
        claimed_by TEXT,
        delivered_at BIGINT,
        last_status INTEGER,
        last_error TEXT
      );
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
      CREATE INDEX webhook_deliveries_job ON webhook_deliveries (job_id, id);
    `,
};
