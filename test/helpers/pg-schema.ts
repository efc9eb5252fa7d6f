/**
 * A PostgreSQL schema of its own for one test file's describe block, on the server
 * QUEUECTL_TEST_PG_URL names, with a connection beside the stores' for the test's own
 * queries; the schema is dropped after the block, pass or fail.
 */

import { afterAll, beforeAll } from "bun:test";
import { join } from "node:path";
import { SQL } from "bun";
import { openStore } from "../../src/store/open.ts";
import type { Store } from "../../src/store/store.ts";
import type { TempHome } from "./cli.ts";

export interface PrivateSchema {
  schema: string;
  /** The server's URL with `?schema=`, for openPostgresStore. */
  url: string;
  admin: SQL;
}

/** Call inside the describe block; `prefix` names the schema (a random suffix follows). */
export function privateSchema(serverUrl: string, prefix: string): PrivateSchema {
  const schema = `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
  const url = `${serverUrl}${serverUrl.includes("?") ? "&" : "?"}schema=${schema}`;
  const admin = new SQL(serverUrl, { max: 1 });
  afterAll(async () => {
    await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.close();
  });
  return { schema, url, admin };
}

/** A store a file's tests run against: SQLite (a file the test picks), or `db` for PostgreSQL. */
export interface TestStore {
  name: "sqlite" | "postgres";
  db?: string;
}

/**
 * SQLite, and PostgreSQL in a private schema when QUEUECTL_TEST_PG_URL is set. Call at the
 * top of a test file; `suite` names it in the warning when PostgreSQL is skipped.
 */
export function testStores(suite: string, prefix: string): TestStore[] {
  const server = process.env.QUEUECTL_TEST_PG_URL;
  if (!server) {
    console.warn(`${suite}: PostgreSQL skipped; set QUEUECTL_TEST_PG_URL to run it on both backends`);
    return [{ name: "sqlite" }];
  }
  const { url } = privateSchema(server, prefix);
  // The queue is made up front, as the SQLite side's home database is made by any command:
  // read commands refuse a schema that holds no queue.
  beforeAll(async () => {
    await (await openStore({ url })).close();
  });
  return [{ name: "sqlite" }, { name: "postgres", db: url }];
}

/** The backend's store for `home` (its SQLite file, or the private schema), open for the duration of `work`. */
export async function withTestStore<T>(
  backend: TestStore,
  home: TempHome,
  work: (store: Store) => Promise<T>,
): Promise<T> {
  const store = await openStore({ url: backend.db ?? join(home.home, "jobs.db") });
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}
