/**
 * The two store backends mirror each other: the same files (migrations included), the same
 * exported functions and classes in files of the same name, no import from one backend into
 * the other, and the same migration numbers and names. A concern that exists in one backend
 * only, or a query that moved in one and not the other, fails here by name.
 */

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { POSTGRES_MIGRATIONS } from "../../src/store/postgres/migrations.ts";
import { SQLITE_MIGRATIONS } from "../../src/store/sqlite/migrations.ts";

const STORE = join(import.meta.dir, "..", "..", "src", "store");
const BACKENDS = ["sqlite", "postgres"] as const;
type Backend = (typeof BACKENDS)[number];

/**
 * Exports only one backend needs, each for a reason the other backend does not have. Keep
 * this list short: anything else belongs in both backends, or in src/store/.
 */
const BACKEND_ONLY: Record<string, string> = {
  "postgres/connection.ts sideConnection":
    "a pool's connection may wait on a row lock; SQLite reads never wait for a writer",
  "postgres/schema-version.ts quotedSchema":
    "a schema's name is written into SQL text; a SQLite store has one schema, named by no one",
  "postgres/schema-version.ts migrationsTableIsOurs":
    "PostgreSQL reads a schema_migrations' columns from its catalog on their own; SQLite's readSchema reads them with the file's other tables in one query",
  "postgres/schema-version.ts notQueueSchema":
    "the refusal worded for a schema (SQLite's notQueueDatabase: for a file)",
  "sqlite/schema-version.ts readSchema":
    "what a file holds, read before its journal mode is set: a SQLite open writes to the file before it migrates, a PostgreSQL one only inside the migration",
  "sqlite/schema-version.ts schemaOnOpen":
    "readSchema's cheap path for a current file; PostgreSQL's quickSchemaVersion checks the table's columns itself",
  "sqlite/schema-version.ts assertCurrentSchema":
    "a SQLite file opened read-only cannot be migrated; a PostgreSQL role that may not write is told by the server",
  "sqlite/schema-version.ts notQueueDatabase":
    "the refusal worded for a file (PostgreSQL's notQueueSchema: for a schema)",
  "postgres/dependencies.ts lockDependenciesExclusive": "SQLite's single writer already serializes writers",
  "postgres/dependencies.ts lockDependenciesShared": "SQLite's single writer already serializes writers",
  "postgres/connection.ts pgText": "PostgreSQL text cannot hold NUL; SQLite stores it as it is",
  "postgres/changes.ts listenRetryWarning":
    "only Bun's PostgreSQL driver writes a LISTEN retry line; SQLite's change markers need no connection",
  "postgres/insert.ts insertNewJobs":
    "sends a batch as column arrays; SQLite runs prepared INSERTs in-process",
  "postgres/complete-many.ts anyLimitedQueue":
    "PostgreSQL's grouped claim skips limited queues, which need their row locked first; SQLite claims one by one",
  "sqlite/claim.ts walkedQueues":
    "SQLite's round claims one by one under its write lock and reads once which queues its claims walk; PostgreSQL's claim reads that in its own statement",
  "sqlite/insert.ts insertValues": "the bound values of SQLite's prepared INSERT, shared by its writers",
  "sqlite/connection.ts setAsideReplacedWal":
    "only a SQLite file can be replaced under an open connection and leave its WAL at the path",
  "sqlite/job-reads.ts placeholders":
    "SQLite binds an IN list one `?` per value; PostgreSQL binds the whole list as one array (`= ANY($n)`)",
};

/** Files only one backend needs, each for a reason the other backend does not have. */
const BACKEND_ONLY_FILES: Record<string, string> = {
  "sqlite/wal-checkpointer.ts":
    "SQLite checkpoints its WAL inside a client's commit; PostgreSQL's checkpointer is a server process",
  "sqlite/wal-checkpoint-thread.ts": "the thread behind sqlite/wal-checkpointer.ts",
  "sqlite/bulk-journal.ts":
    "a SQLite bulk write may skip the WAL's second copy of its pages; PostgreSQL writes its WAL whatever the client does",
  "sqlite/read-only-open.ts":
    "a SQLite file a user may only read is opened through its URI's mode=ro or immutable; PostgreSQL grants reading by role",
  "sqlite/wal-mode.ts":
    "a client turns a SQLite file to WAL mode as it opens it; PostgreSQL has no such mode",
};

function filesOf(backend: Backend): string[] {
  const root = join(STORE, backend);
  return (readdirSync(root, { recursive: true, withFileTypes: true }) as import("node:fs").Dirent[])
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)))
    .filter((file) => !(`${backend}/${file}` in BACKEND_ONLY_FILES))
    .sort();
}

/** Exported functions and classes, with the backend's own name (SqliteStore, openPostgresStore) made neutral. */
function exportsOf(backend: Backend, file: string): string[] {
  const text = readFileSync(join(STORE, backend, file), "utf8");
  return [...text.matchAll(/^export (?:async )?(?:function\*? |class )(\w+)/gm)]
    .map((match) => match[1] as string)
    .filter((name) => !(`${backend}/${file} ${name}` in BACKEND_ONLY))
    .map((name) => name.replace(/sqlite|postgres/gi, "Backend"))
    .sort();
}

function importsOf(backend: Backend, file: string): string[] {
  const path = join(STORE, backend, file);
  const text = readFileSync(path, "utf8");
  return [...text.matchAll(/(?:from\s+|import\()\s*"(\.[^"]+)"/g)].map((match) =>
    resolve(dirname(path), match[1] as string),
  );
}

function slug(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
}

describe("the store backends mirror each other", () => {
  test("the same file names, migrations included", () => {
    expect(filesOf("postgres")).toEqual(filesOf("sqlite"));
  });

  test("files of the same name export the same functions and classes", () => {
    const differences: string[] = [];
    for (const file of filesOf("sqlite").filter((name) => filesOf("postgres").includes(name))) {
      const sqlite = exportsOf("sqlite", file);
      const postgres = exportsOf("postgres", file);
      for (const name of sqlite)
        if (!postgres.includes(name)) differences.push(`${file}: ${name} only in sqlite`);
      for (const name of postgres)
        if (!sqlite.includes(name)) differences.push(`${file}: ${name} only in postgres`);
    }
    expect(differences).toEqual([]);
  });

  test("every backend-only export still exists", () => {
    const missing = Object.keys(BACKEND_ONLY).filter((entry) => {
      const [path, name] = entry.split(" ") as [string, string];
      const [backend, ...rest] = path.split("/") as [Backend, ...string[]];
      const text = readFileSync(join(STORE, backend, rest.join("/")), "utf8");
      return !new RegExp(`^export (?:async )?function ${name}\\b`, "m").test(text);
    });
    expect(missing).toEqual([]);
  });

  test("neither backend imports the other", () => {
    const crossings: string[] = [];
    for (const backend of BACKENDS) {
      const other = join(STORE, backend === "sqlite" ? "postgres" : "sqlite");
      for (const file of filesOf(backend)) {
        for (const target of importsOf(backend, file)) {
          if (target.startsWith(`${other}/`))
            crossings.push(`${backend}/${file} imports ${relative(STORE, target)}`);
        }
      }
    }
    expect(crossings).toEqual([]);
  });

  test("the same migration numbers and names, numbered from 1 without gaps", () => {
    const list = (migrations: readonly { version: number; name: string }[]) =>
      migrations.map(({ version, name }) => ({ version, name }));
    expect(list(POSTGRES_MIGRATIONS)).toEqual(list(SQLITE_MIGRATIONS));
    expect(SQLITE_MIGRATIONS.map((migration) => migration.version)).toEqual(
      SQLITE_MIGRATIONS.map((_, index) => index + 1),
    );
  });

  test("each migration file is named by its number and name", () => {
    const expected = SQLITE_MIGRATIONS.map(
      (migration) => `migrations/${String(migration.version).padStart(4, "0")}-${slug(migration.name)}.ts`,
    );
    for (const backend of BACKENDS) {
      expect(filesOf(backend).filter((file) => file.startsWith("migrations/"))).toEqual(expected);
    }
  });
});
