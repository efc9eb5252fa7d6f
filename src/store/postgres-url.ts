/**
 * Reading a postgres:// store URL, before any connection: the host and database must be
 * written out, only known parameters pass, and `?schema=NAME`, queuectl's own parameter, is
 * taken out (Bun.sql would send it to the server as a run-time setting, which the server
 * rejects) to become the connection's search_path. Every refusal is one line naming the
 * part at fault, never echoing a password.
 */

import { nearestName, UserError } from "../core/errors.ts";

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
