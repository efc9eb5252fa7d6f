/**
 * The PostgreSQL connection: opening the pool for a store URL (../postgres-url.ts), migrating
 * the schema when needed, its write transactions, and its failures turned into one-line messages.
 */

import { SQL } from "bun";
import { runtimeError, StoreUnreachableError, UserError } from "../../core/errors.ts";
import { type PostgresTarget, parsePostgresUrl } from "../postgres-url.ts";
import { POSTGRES_SCHEMA_VERSION, quickSchemaVersion } from "./schema-version.ts";

interface PostgresErrorLike {
  code?: string;
  errno?: string;
  message?: string;
}

function scrub(target: PostgresTarget, text: string): string {
  return target.password === "" ? text : text.replaceAll(target.password, "***");
}

/** A name as it is typed into SQL, quoted: `user` and `order` are names a schema may have. */
function sqlName(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * What to grant, read from what the server refused: a schema the user may not enter, tables
 * it may not read or write, or a database it may not make the queue's schema in.
 */
function permissionHint(target: PostgresTarget, reason: string): string {
  const schema = sqlName(target.schema ?? "public");
  const user = sqlName(target.user);
  if (/permission denied for schema/.test(reason))
    return `grant the user USAGE and CREATE on it (GRANT USAGE, CREATE ON SCHEMA ${schema} TO ${user}), or pick another ?schema=`;
  if (/must be owner of/.test(reason))
    return `run it once as the role that owns the queue's tables, which upgrades them, or make ${user} their owner (ALTER TABLE … OWNER TO ${user})`;
  if (/permission denied for (table|sequence|relation)/.test(reason))
    return `grant the user the queue's tables (GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${user}; GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${schema} TO ${user}), or use the role that made the queue`;
  return `grant the user CREATE on the database, which a new queue makes its schema with (GRANT CREATE ON DATABASE ${sqlName(target.database)} TO ${user}), or create the schema for it (CREATE SCHEMA ${schema} AUTHORIZATION ${user})`;
}

/**
 * Environment failures (server down, login refused, missing database) become a
 * runtimeError naming host and database; anything else is returned unchanged.
 */
export function describeFailure(target: PostgresTarget, error: unknown): Error {
  if (error instanceof UserError || !(error instanceof Error)) {
    return error instanceof Error ? error : new Error(String(error));
  }
  const { code = "", errno = "" } = error as PostgresErrorLike;
  const reason = scrub(target, error.message.split("\n")[0] ?? "");
  const where = `PostgreSQL at ${target.host}/${target.database}`;
  // reserved_name: parsePostgresUrl refuses the names known to be reserved, so this is a
  // server that reserves more; still the URL's name, not a fault of queuectl.
  if (errno === "42939") {
    return new UserError(
      `${where} refuses the schema name "${target.schema ?? "(default)"}" (${reason})`,
      "pick another ?schema=, e.g. ?schema=queuectl",
    );
  }
  if (errno.startsWith("28") || /AUTH|SASL|PASSWORD|CHANNEL_BINDING/.test(code)) {
    return runtimeError(
      `${where} refused the login of user "${target.user}" (${reason})`,
      "check the user and password in the store URL (--db or QUEUECTL_DB)",
    );
  }
  if (errno === "3D000") {
    return runtimeError(`${where}: the database does not exist`, `create it (createdb ${target.database})`);
  }
  // undefined_table in a schema whose version says the table is there: dropped by hand.
  if (errno === "42P01") {
    return runtimeError(
      `${where}: the queue's schema ${target.schema ?? "(default)"} lacks a table it should hold (${reason})`,
      "it was changed by hand: restore the queue from an export (queuectl import) into a fresh ?schema=",
    );
  }
  // lock_not_available: the session's lock_timeout passed while another transaction held a row.
  if (errno === "55P03") {
    return runtimeError(
      `${where}: a row this command needs stayed locked by another transaction (${reason})`,
      "retry; if it persists, look for a hung queuectl process or a transaction left open (pg_stat_activity)",
    );
  }
  // A read-only transaction: a hot standby, or a role or database set to read only.
  if (errno === "25006") {
    return runtimeError(
      `${where} is read-only (${reason})`,
      "this command changes the queue; status, list, show, logs and export still work; point the store URL (--db or QUEUECTL_DB) at the primary server or a role that may write",
    );
  }
  if (errno === "42501" || errno === "3F000") {
    return runtimeError(
      `${where}: cannot use the schema ${target.schema ?? "(default)"} (${reason})`,
      permissionHint(target, reason),
    );
  }
  // sslmode=require (or verify-…) against a server without SSL: the URL asks for what it cannot have.
  if (/does not support SSL/i.test(reason)) {
    return runtimeError(
      `${where} does not accept SSL connections, which the store URL's sslmode requires`,
      "use sslmode=prefer (or disable) in the store URL, or enable SSL on the server",
    );
  }
  if (
    errno.startsWith("08") ||
    errno.startsWith("57P") ||
    errno === "53300" ||
    /CONNECTION|TIMEOUT|TLS|SSL|SOCKET/.test(code)
  ) {
    return new StoreUnreachableError(
      `cannot reach ${where} (${reason})`,
      "check that the server is running and that the store URL (--db or QUEUECTL_DB) names the right host and port",
    );
  }
  return error;
}

/**
 * Connections in a process's pool when the caller names no number: one, since a command runs
 * one statement at a time. Bun's pool opens every connection it may use at the first query,
 * and each costs the server a backend process (about 30 ms of its CPU), so a command that
 * asked for four paid for three it never used. Long-running processes ask for more (see
 * OpenOptions.connections); the LISTEN connection comes on top.
 */
const DEFAULT_CONNECTIONS = 1;

export interface PostgresConnection {
  sql: SQL;
  target: PostgresTarget;
  /** The schema holding the tables (`?schema=`, else the server's current_schema()). */
  schema: string;
  /** The server-side time limits of this process's sessions (see client). */
  limits: SessionLimits;
}

/** Time limits the server enforces on a process's sessions; null for the server's default (none). */
export interface SessionLimits {
  /** A transaction whose client sends nothing this long (ms) is ended, and its locks released. */
  idleInTransactionMs: number | null;
  /** A statement that waits this long (ms) for a lock fails, as a SQLite write does after its busy timeout. */
  lockTimeoutMs: number | null;
}

export const NO_SESSION_LIMITS: SessionLimits = { idleInTransactionMs: null, lockTimeoutMs: null };

/** How a schema is opened: the meanings of open.ts's options of the same names. */
export interface OpeningRules {
  /** Refuse a schema that holds no queue instead of making one. Default false. */
  mustExist?: boolean;
  /** Default NO_SESSION_LIMITS. */
  limits?: SessionLimits;
  /** Runs before a queue is made in a schema that has none. Default none. */
  beforeCreate?: () => unknown;
}

/** Opens the pool and brings the schema up to date; a failure closes the pool again. */
export async function openConnection(
  url: string,
  connections: number = DEFAULT_CONNECTIONS,
  { mustExist = false, limits = NO_SESSION_LIMITS, beforeCreate }: OpeningRules = {},
): Promise<PostgresConnection> {
  const target = parsePostgresUrl(url);
  const sql = client(target.url, connections, target.schema);
  try {
    let schema = target.schema;
    if (schema === null) {
      const [row] = await sql`SELECT current_schema() AS schema`;
      if (!row?.schema) {
        throw new UserError(
          `${target.location}: the search_path names no existing schema to keep the queue in`,
          "add ?schema=queuectl to the store URL (--db or QUEUECTL_DB)",
        );
      }
      schema = String(row.schema);
    }
    const version = await quickSchemaVersion(sql, schema, target.location);
    // A command that only reads refuses a schema with no queue rather than make one (open.ts).
    if (version === null && mustExist) {
      throw new UserError(
        `there is no queue in schema "${schema}" at ${target.location}`,
        "check ?schema= in --db or QUEUECTL_DB; a queue's schema is made by its first enqueue, add, sync or worker",
      );
    }
    if (version === null) await beforeCreate?.();
    if (version !== POSTGRES_SCHEMA_VERSION) {
      // Loaded here, not at the top: see schema-version.ts.
      const { migrateSchema } = await import("./migrations.ts");
      await migrateSchema(sql, schema, target.location);
    }
    return { sql, target, schema, limits };
  } catch (error) {
    await sql.close({ timeout: 0 }).catch(() => {});
    throw describeFailure(target, error);
  }
}

/**
 * A client of one connection beside the pool, opened on first use, for a read that must not
 * queue behind the pool's statements (a pooled connection may wait on a row lock, and Bun
 * may line a query up behind it). The caller closes it.
 */
export function sideConnection(connection: PostgresConnection): SQL {
  return client(connection.target.url, 1, connection.schema);
}

/** A Bun.sql client as this store opens every one: `schema` null leaves the server's search_path. */
function client(url: string, connections: number, schema: string | null): SQL {
  return new SQL(url, {
    max: connections,
    connectionTimeout: 10,
    idleTimeout: 60,
    connection: { application_name: "queuectl", ...(schema ? { search_path: schema } : {}) },
  });
}

/**
 * The session limits, set for one transaction (SET LOCAL, sent right after BEGIN in the same
 * round trip): an idle-in-transaction limit ends a transaction whose process froze or was cut
 * off, so its rows are not locked until TCP gives up on it, hours later; a lock timeout makes
 * a command that meets a row held that long fail with one line instead of waiting without a
 * word. Per transaction, not at connect: a pooler (PgBouncer) refuses unknown start-up
 * settings, and in transaction pooling a session setting would reach other clients.
 */
function limitTransaction(tx: SQL, limits: SessionLimits): Promise<unknown> {
  const settings: [string, number][] = [];
  if (limits.idleInTransactionMs !== null)
    settings.push(["idle_in_transaction_session_timeout", limits.idleInTransactionMs]);
  if (limits.lockTimeoutMs !== null) settings.push(["lock_timeout", limits.lockTimeoutMs]);
  return Promise.all(
    settings.map(([name, ms]) => tx`SELECT set_config(${name}, ${String(ms)}, true)`.execute()),
  );
}

/** Runs `work`, turning a connection failure into a one-line message. */
export async function withFailures<T>(target: PostgresTarget, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw describeFailure(target, error);
  }
}

/**
 * One transaction; `notify` wakes idle workers on every host once it commits.
 *
 * Pipelined: BEGIN goes out with the work's first statements, and the NOTIFY with COMMIT,
 * so a transaction of one statement costs one round trip plus the commit's, where
 * `sql.begin` waits for BEGIN and each NOTIFY on their own. The server runs a connection's
 * messages in order, so every statement still runs inside the transaction, and once one
 * fails it refuses the rest until ROLLBACK.
 */
export function writeTransaction<T>(
  connection: PostgresConnection,
  channel: string,
  work: (tx: SQL, notify: () => Promise<void>) => Promise<T>,
): Promise<T> {
  return withFailures(connection.target, async () => {
    const tx = await connection.sql.reserve();
    try {
      let notifying = false;
      const notify = () => {
        notifying = true;
        return Promise.resolve();
      };
      // A Bun.sql query goes out when first awaited, not when written: BEGIN is sent by
      // hand, before the work writes its first statement.
      const begun = tx`BEGIN`.execute();
      const limited = limitTransaction(tx, connection.limits);
      const working = Promise.resolve().then(() => work(tx, notify));
      let result: T;
      try {
        [, , result] = await Promise.all([begun, limited, working]);
      } catch (error) {
        // Whatever the work still has in flight goes out before the ROLLBACK, not after it.
        await Promise.allSettled([begun, limited, working]);
        await tx`ROLLBACK`.catch(() => {});
        throw error;
      }
      const [, committed] = await Promise.all([notifying ? tx.notify(channel) : undefined, tx`COMMIT`]);
      // The server answers COMMIT in a failed transaction with ROLLBACK, not with an error.
      if (committed.command !== "COMMIT") {
        throw new Error("the transaction was rolled back by the server: a statement in it had failed");
      }
      return result;
    } finally {
      tx.release();
    }
  });
}

/**
 * A write whose input streams in. Bun.sql's transactions are asynchronous already, so this
 * is writeTransaction; SQLite has to hold its transaction open by hand for the same thing.
 */
export function streamTransaction<T>(
  connection: PostgresConnection,
  channel: string,
  work: (tx: SQL, notify: () => Promise<void>) => Promise<T>,
): Promise<T> {
  return writeTransaction(connection, channel, work);
}

/**
 * PostgreSQL text cannot hold NUL, which SQLite stores happily; a job's output may well
 * contain one, and refusing to record the outcome over it would leave the job stuck.
 */
export function pgText(text: string | null): string | null {
  return text === null ? null : text.replaceAll("\0", "\uFFFD");
}
