/**
 * The PostgreSQL connection: reading a postgres:// URL, opening the pool (migrating the
 * schema when needed), its write transactions, and its failures turned into one-line
 * messages. `?schema=NAME` is queuectl's own parameter: Bun.sql would send it to the server
 * as a run-time setting, which the server rejects, so it is taken out here and becomes the
 * connection's search_path instead.
 */

import { SQL } from "bun";
import { nearestName, runtimeError, UserError } from "../../core/errors.ts";
import { POSTGRES_SCHEMA_VERSION, quickSchemaVersion } from "./schema-version.ts";

export interface PostgresTarget {
  /** The URL handed to Bun.sql, without `schema`. */
  url: string;
  /** `postgres://user@host:port/db?schema=…`, for messages; never holds the password. */
  location: string;
  /** `?schema=` when given; otherwise the server's default search_path decides. */
  schema: string | null;
  host: string;
  database: string;
  user: string;
  /** Only ever used to scrub messages. */
  password: string;
}

/** Lowercase only, so the name never needs quoting in search_path; short enough for a NOTIFY channel. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,49}$/;
const SCHEMA_HINT = "use lowercase letters, digits and _, at most 50 characters, e.g. ?schema=queuectl";

/**
 * Why a schema name the pattern allows is still no place for a queue: the server refuses to
 * create a `pg_` schema (and a queue there would sit among its catalogs), and
 * information_schema is the SQL standard's catalog, full of the server's views.
 */
function reservedSchema(name: string): string | null {
  if (name.startsWith("pg_")) return "PostgreSQL reserves names starting with pg_ for itself";
  if (name === "information_schema") return "it is PostgreSQL's own catalog";
  return null;
}

const KNOWN_PARAMETERS = new Set(["schema", "sslmode"]);
const SSL_MODES = ["disable", "prefer", "require", "verify-ca", "verify-full"];
const USAGE = "use postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=NAME][&sslmode=MODE]";

/**
 * The parameters queuectl reads: unknown ones and repeated ones are refused, since Bun.sql
 * and URLSearchParams.get would each pick a different one of two values in silence.
 */
function checkParameters(params: URLSearchParams): void {
  const seen = new Set<string>();
  for (const key of params.keys()) {
    if (!KNOWN_PARAMETERS.has(key)) {
      const nearest = nearestName(key, [...KNOWN_PARAMETERS]);
      throw new UserError(
        `unknown parameter "${key}" in the PostgreSQL URL`,
        `${nearest ? `did you mean \`${nearest}\`? ` : ""}known: ${[...KNOWN_PARAMETERS].join(", ")}`,
      );
    }
    if (seen.has(key)) {
      throw new UserError(
        `${key} is given more than once in the database URL`,
        `keep one ${key}=…, e.g. ${key === "schema" ? "?schema=queuectl" : "?sslmode=require"}`,
      );
    }
    seen.add(key);
  }
}

/**
 * One %-decoded part of the URL. Bun.sql refuses a NUL in it with an internal-looking error,
 * and a stray `%` fails to decode; both are the URL's, so both are said as such. The text
 * itself is never echoed: the part may be the password.
 */
function urlPart(raw: string, part: string): string {
  let text: string;
  try {
    text = decodeURIComponent(raw);
  } catch {
    throw new UserError(
      `the ${part} in the PostgreSQL URL has a broken %-escape`,
      "write a literal % as %25, and other special characters as %XX",
    );
  }
  if (text.includes("\0"))
    throw new UserError(`the ${part} in the PostgreSQL URL holds a NUL byte (%00)`, "remove it");
  return text;
}

/** Whether a `/`, `?` or `#` comes before the URL's last `@`: unescaped in a password, it ends the host early. */
function credentialsNeedEscaping(raw: string): boolean {
  const rest = raw.replace(/^[a-z]+:\/\//i, "");
  const at = rest.lastIndexOf("@");
  return at > 0 && /[/?#]/.test(rest.slice(0, at));
}

export function parsePostgresUrl(raw: string): PostgresTarget {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    if (credentialsNeedEscaping(raw)) {
      throw new UserError(
        "the PostgreSQL URL (--db or QUEUECTL_DB) is not a valid URL: its user name or password holds a /, ? or #",
        "write those characters %-encoded in the URL (/ as %2F, ? as %3F, # as %23)",
      );
    }
    throw new UserError(
      "the PostgreSQL URL (--db or QUEUECTL_DB) is not a valid URL",
      "use postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=NAME]",
    );
  }
  // A bare postgres:// would fall back to libpq-style defaults and quietly create a queue in
  // a database nobody named; the host and the database must be written out.
  if (url.hostname === "" || url.pathname.replace(/^\//, "") === "") {
    throw new UserError("the PostgreSQL URL must name a host and a database", USAGE);
  }
  if (url.port === "0")
    throw new UserError("port 0 in the PostgreSQL URL is no port", "use 1 to 65535, e.g. :5432");
  checkParameters(url.searchParams);
  const sslmode = url.searchParams.get("sslmode");
  if (sslmode !== null && !SSL_MODES.includes(sslmode)) {
    throw new UserError(`sslmode "${sslmode}" is not known`, `use one of ${SSL_MODES.join(", ")}`);
  }
  const schema = url.searchParams.get("schema");
  url.searchParams.delete("schema");
  const unusable = (hint: string) =>
    new UserError(`"${schema}" is not a usable schema name (in ?schema= of the store URL)`, hint);
  if (schema !== null && !SCHEMA_NAME.test(schema)) throw unusable(SCHEMA_HINT);
  const reserved = schema === null ? null : reservedSchema(schema);
  if (reserved !== null) throw unusable(`${reserved}; pick another name, e.g. ?schema=queuectl`);
  const host = urlPart(url.hostname, "host") || url.searchParams.get("host") || "localhost";
  const port = url.port || "5432";
  const user = urlPart(url.username, "user name") || process.env.PGUSER || process.env.USER || "postgres";
  const database = urlPart(url.pathname.replace(/^\//, ""), "database name") || user;
  return {
    url: url.toString(),
    location: `postgres://${user}@${host}:${port}/${database}${schema ? `?schema=${schema}` : ""}`,
    schema,
    host: `${host}:${port}`,
    database,
    user,
    password: urlPart(url.password, "password"),
  };
}

interface PostgresErrorLike {
  code?: string;
  errno?: string;
  message?: string;
}

function scrub(target: PostgresTarget, text: string): string {
  return target.password === "" ? text : text.replaceAll(target.password, "***");
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
      "grant the user CREATE on the database, or pick another ?schema=",
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
    return runtimeError(
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

/** Opens the pool and brings the schema up to date; a failure closes the pool again. */
export async function openConnection(
  url: string,
  connections: number = DEFAULT_CONNECTIONS,
  mustExist = false,
  limits: SessionLimits = NO_SESSION_LIMITS,
): Promise<PostgresConnection> {
  const target = parsePostgresUrl(url);
  const sql = client(target.url, connections, target.schema, limits);
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
  return client(connection.target.url, 1, connection.schema, connection.limits);
}

/**
 * A Bun.sql client as this store opens every one: `schema` null leaves the server's
 * search_path. `limits` go to the server as session settings: with an idle-in-transaction
 * limit a process frozen or cut off in the middle of a transaction does not keep its rows
 * locked until TCP gives up on it, hours later; with a lock timeout a command that meets a
 * row held that long fails with one line instead of waiting without a word.
 */
function client(url: string, connections: number, schema: string | null, limits: SessionLimits): SQL {
  const settings: Record<string, string> = {};
  if (limits.idleInTransactionMs !== null)
    settings.idle_in_transaction_session_timeout = String(limits.idleInTransactionMs);
  if (limits.lockTimeoutMs !== null) settings.lock_timeout = String(limits.lockTimeoutMs);
  return new SQL(url, {
    max: connections,
    connectionTimeout: 10,
    idleTimeout: 60,
    connection: { application_name: "queuectl", ...(schema ? { search_path: schema } : {}), ...settings },
  });
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
      const working = Promise.resolve().then(() => work(tx, notify));
      let result: T;
      try {
        [, result] = await Promise.all([begun, working]);
      } catch (error) {
        // Whatever the work still has in flight goes out before the ROLLBACK, not after it.
        await Promise.allSettled([begun, working]);
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
