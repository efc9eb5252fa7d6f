/**
 * What every worker shares besides jobs: the config and the worker registry. Same
 * semantics as PostgreSQL's registry.ts; here every process reads this host's clock, so
 * the heartbeat a worker writes is already on the store's clock.
 */

import type { Database } from "bun:sqlite";
import type {
  ById,
  ConfigSetParams,
  WorkerHeartbeatParams,
  WorkerHeartbeatResult,
  WorkerRegisterParams,
  WorkerStopParams,
} from "../params.ts";
import type { WorkerRecord } from "../records.ts";
import { rowToWorker } from "../rows.ts";

type Row = Record<string, unknown>;

export function configGetAll(db: Database): Record<string, string> {
  const rows = db.query("SELECT key, value FROM config").all() as { key: string; value: string }[];
  return Object.fromEntries(rows.map((row) => [row.key, row.value]));
}

export function configSet(db: Database, params: ConfigSetParams): void {
  db.query(
    "INSERT INTO config (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
  ).run(params.key, params.value);
}

/** Registering again (a restarted worker reusing its id) starts with no stop request. */
export function workerRegister(db: Database, params: WorkerRegisterParams): void {
  db.query(`INSERT OR REPLACE INTO workers (id, host, pid, started_at, heartbeat_at, stop_requested, queues)
            VALUES (?, ?, ?, ?, ?, 0, ?)`).run(
    params.id,
    params.host,
    params.pid,
    params.now,
    params.now,
    params.queues ? JSON.stringify(params.queues) : null,
  );
}

export function workerHeartbeat(db: Database, params: WorkerHeartbeatParams): WorkerHeartbeatResult {
  const { registration } = params;
  const row = (
    registration
      ? db
          .query(`INSERT INTO workers (id, host, pid, started_at, heartbeat_at, stop_requested, queues)
                  VALUES (?1, ?2, ?3, ?4, ?4, 0, ?5)
                  ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at
                  RETURNING stop_requested`)
          .get(
            params.id,
            registration.host,
            registration.pid,
            params.now,
            registration.queues ? JSON.stringify(registration.queues) : null,
          )
      : db
          .query("UPDATE workers SET heartbeat_at = ? WHERE id = ? RETURNING stop_requested")
          .get(params.now, params.id)
  ) as Row | null;
  return { stopRequested: row ? Boolean(row.stop_requested) : false };
}

export function workerRemove(db: Database, params: ById): void {
  db.query("DELETE FROM workers WHERE id = ?").run(params.id);
}

/** One file on one host: every process reads this host's clock. */
export function storeNow(): number {
  return Date.now();
}

export function workerList(db: Database): WorkerRecord[] {
  return (db.query("SELECT * FROM workers ORDER BY host, started_at").all() as Row[]).map(rowToWorker);
}

/** Asks the workers on `host`, or on every host, to drain; returns how many were asked. */
export function workerRequestStop(db: Database, params: WorkerStopParams): number {
  return db
    .query("UPDATE workers SET stop_requested = 1 WHERE ?1 IS NULL OR host = ?1")
    .run(params.host ?? null).changes;
}
