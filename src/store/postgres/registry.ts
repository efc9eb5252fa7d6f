/**
 * What every host shares besides jobs: the config and the worker registry. Same semantics
 * as the SQLite store; `stop_requested` is a BOOLEAN here (rows.ts reads both).
 */

import type { SQL } from "bun";
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

export async function configGetAll(sql: SQL): Promise<Record<string, string>> {
  const rows = (await sql`SELECT key, value FROM config`) as { key: string; value: string }[];
  return Object.fromEntries(rows.map((row) => [row.key, row.value]));
}

export async function configSet(tx: SQL, params: ConfigSetParams): Promise<void> {
  await tx`INSERT INTO config (key, value) VALUES (${params.key}, ${params.value})
           ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`;
}

/**
 * The server's clock in ms since the epoch. Heartbeats are written and judged on it, so a
 * host whose clock is off cannot make a live worker look lost, or a dead one alive.
 */
export async function storeNow(sql: SQL): Promise<number> {
  const [row] = await sql`SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint AS now`;
  return Number(row.now);
}

/** Registering again (a restarted worker reusing its id) starts with no stop request. */
export async function workerRegister(sql: SQL, params: WorkerRegisterParams): Promise<void> {
  const queues = params.queues ? JSON.stringify(params.queues) : null;
  await sql`
    INSERT INTO workers (id, host, pid, started_at, heartbeat_at, stop_requested, queues)
    VALUES (${params.id}, ${params.host}, ${params.pid}::int, ${params.now}::bigint,
            (extract(epoch from clock_timestamp()) * 1000)::bigint, FALSE, ${queues}::text::jsonb)
    ON CONFLICT (id) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid, started_at = EXCLUDED.started_at,
                                   heartbeat_at = EXCLUDED.heartbeat_at, stop_requested = FALSE,
                                   queues = EXCLUDED.queues`;
}

export async function workerHeartbeat(
  sql: SQL,
  params: WorkerHeartbeatParams,
): Promise<WorkerHeartbeatResult> {
  // `params.now` is the worker's clock; the server's is the one every host judges ages by.
  const { registration } = params;
  const [row] = registration
    ? await sql`
        INSERT INTO workers (id, host, pid, started_at, heartbeat_at, stop_requested, queues)
        VALUES (${params.id}, ${registration.host}, ${registration.pid}::int,
                (extract(epoch from clock_timestamp()) * 1000)::bigint,
                (extract(epoch from clock_timestamp()) * 1000)::bigint, FALSE,
                ${registration.queues ? JSON.stringify(registration.queues) : null}::text::jsonb)
        ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at
        RETURNING stop_requested`
    : await sql`
        UPDATE workers SET heartbeat_at = (extract(epoch from clock_timestamp()) * 1000)::bigint
        WHERE id = ${params.id} RETURNING stop_requested`;
  return { stopRequested: row ? Boolean(row.stop_requested) : false };
}

export async function workerRemove(sql: SQL, params: ById): Promise<void> {
  await sql`DELETE FROM workers WHERE id = ${params.id}`;
}

export async function workerList(sql: SQL): Promise<WorkerRecord[]> {
  // COLLATE "C" sorts host names bytewise, as SQLite does, whatever the database's locale.
  return ((await sql`SELECT * FROM workers ORDER BY host COLLATE "C", started_at`) as Row[]).map(rowToWorker);
}

/** Asks the workers on `host`, or on every host, to drain; returns how many were asked. */
export async function workerRequestStop(tx: SQL, params: WorkerStopParams): Promise<number> {
  const host = params.host ?? null;
  const result = await tx`
    UPDATE workers SET stop_requested = TRUE WHERE ${host}::text IS NULL OR host = ${host}::text`;
  return result.count;
}
