/**
 * PostgreSQL runs of rows 1, 5, 6 and 10: each gets a schema of its own
 * (`?schema=bench_<random>`), dropped afterwards, so a benchmark never sees or leaves rows
 * in anyone else's queue on the same server.
 */

import { randomBytes } from "node:crypto";
import { SQL } from "bun";
import type { BenchRow } from "./harness.ts";

export function pgBaseUrl(): string | null {
  const url = process.env.QUEUECTL_TEST_PG_URL;
  return url && url.trim() !== "" ? url.trim() : null;
}

/** Runs `work` with a URL pointing at a fresh schema, and drops that schema afterwards. */
export async function withPgSchema<T>(baseUrl: string, work: (url: string) => Promise<T>): Promise<T> {
  const schema = `bench_${randomBytes(4).toString("hex")}`;
  const url = new URL(baseUrl);
  url.searchParams.set("schema", schema);
  try {
    return await work(url.toString());
  } finally {
    const sql = new SQL(baseUrl, { max: 1 });
    try {
      await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    } finally {
      await sql.close({ timeout: 0 });
    }
  }
}

/** The row printed in place of a PostgreSQL run when QUEUECTL_TEST_PG_URL is unset. */
export function pgSkipped(row: number, what: string, goal: string): BenchRow {
  return {
    row,
    what: `${what}, PostgreSQL`,
    value: "skipped",
    baseline: "—",
    ratio: null,
    goal,
    met: null,
    note: "QUEUECTL_TEST_PG_URL is not set",
  };
}
