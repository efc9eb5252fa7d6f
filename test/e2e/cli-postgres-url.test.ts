/**
 * A PostgreSQL URL that is the user's mistake is refused as bad input (exit 2, one line, no
 * "this is a bug"), before anything is created: a schema name PostgreSQL reserves, a
 * parameter given twice, and parts Bun.sql would refuse with an internal-looking error (a
 * broken %-escape, a NUL, port 0). Against QUEUECTL_TEST_PG_URL when set, so a schema that
 * should not be created is looked for on a real server; else against a port nothing listens on.
 */

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { SQL } from "bun";
import { type CliResult, runCli, tempHome } from "../helpers/cli.ts";

setDefaultTimeout(60_000);

const SERVER = process.env.QUEUECTL_TEST_PG_URL || "postgres://queue:pw@127.0.0.1:1/jobs";
const suffix = crypto.randomUUID().replaceAll("-", "").slice(0, 10);
/** Two schemas a duplicated `?schema=` names; neither may come to exist. */
const FIRST = `qc_url_a_${suffix}`;
const SECOND = `qc_url_b_${suffix}`;

function withParams(params: string): string {
  return `${SERVER}${SERVER.includes("?") ? "&" : "?"}${params}`;
}

function expectBadInput(result: CliResult, ...parts: string[]): void {
  expect(result.stderr).not.toContain("this is a bug");
  expect(result.exitCode).toBe(2);
  expect(result.stderr).toStartWith("error: ");
  expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
  for (const part of parts) expect(result.stderr).toContain(part);
}

describe("a PostgreSQL URL that is the user's mistake", () => {
  const home = tempHome();
  afterAll(async () => {
    home.cleanup();
    if (!process.env.QUEUECTL_TEST_PG_URL) return;
    const admin = new SQL(process.env.QUEUECTL_TEST_PG_URL, { max: 1 });
    await admin.unsafe(`DROP SCHEMA IF EXISTS ${FIRST} CASCADE; DROP SCHEMA IF EXISTS ${SECOND} CASCADE`);
    await admin.close();
  });
  // From the temp home: a URL mistaken for a file path lands there, not in the tree.
  const status = (url: string) =>
    runCli(["status"], { env: { ...home.env, QUEUECTL_DB: url }, cwd: home.home });

  test("a schema name PostgreSQL reserves is refused like any unusable name, saying why", async () => {
    for (const name of ["pg_explore", "pg_catalog"]) {
      expectBadInput(
        await status(withParams(`schema=${name}`)),
        `"${name}" is not a usable schema name`,
        "PostgreSQL reserves names starting with pg_",
      );
    }
    expectBadInput(await status(withParams("schema=information_schema")), "is not a usable schema name");
  });

  test("a parameter given twice is refused, and neither schema is created", async () => {
    expectBadInput(
      await status(withParams(`schema=${FIRST}&schema=${SECOND}`)),
      "schema is given more than once in the database URL",
      "keep one schema=",
    );
    expectBadInput(
      await status(withParams("sslmode=disable&sslmode=require")),
      "sslmode is given more than once",
    );
    if (!process.env.QUEUECTL_TEST_PG_URL) return;
    const admin = new SQL(process.env.QUEUECTL_TEST_PG_URL, { max: 1 });
    try {
      const rows = await admin`SELECT nspname FROM pg_namespace WHERE nspname IN (${FIRST}, ${SECOND})`;
      expect(rows).toEqual([]);
    } finally {
      await admin.close();
    }
  });

  test("a broken %-escape, a NUL or port 0 names the part of the URL, never the password", async () => {
    const cases: [string, string][] = [
      ["postgres://po%zz@127.0.0.1:5432/jobs", "the user name in the PostgreSQL URL has a broken %-escape"],
      ["postgres://queue:s3cret%zz@127.0.0.1:5432/jobs", "the password in the PostgreSQL URL has a broken"],
      ["postgres://queue:s3cret%00@127.0.0.1:5432/jobs", "the password in the PostgreSQL URL holds a NUL"],
      ["postgres://queue@127.0.0.1:5432/jo%00bs", "the database name in the PostgreSQL URL holds a NUL"],
      ["postgres://queue@127.0.0.1:0/jobs", "port 0"],
    ];
    for (const [url, part] of cases) {
      const result = await status(url);
      expectBadInput(result, part);
      expect(result.stderr).not.toContain("s3cret");
    }
  });

  test("an unreachable server is a one-line runtime error that names host and database, never the password", async () => {
    const home = tempHome();
    try {
      const result = await runCli(["export"], {
        env: { ...home.env, QUEUECTL_DB: "postgres://queuectl:s3cret-pw@127.0.0.1:1/somedb" },
      });
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(/^error: cannot reach PostgreSQL at 127\.0\.0\.1:1\/somedb .*\n$/);
      expect(result.stderr).not.toContain("s3cret-pw");
    } finally {
      home.cleanup();
    }
  });

  test.skipIf(!process.env.QUEUECTL_TEST_PG_URL)(
    "sslmode=require against a server without SSL names sslmode as the fix",
    async () => {
      const result = await runCli(["status"], {
        env: { ...home.env, QUEUECTL_DB: withParams(`schema=qc_url_ssl_${suffix}&sslmode=require`) },
      });
      expect(result.exitCode).toBe(1);
      expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(result.stderr).toContain("does not accept SSL connections");
      expect(result.stderr).toContain("use sslmode=prefer");
    },
  );

  test.skipIf(!process.env.QUEUECTL_TEST_PG_URL)(
    "a read-only command on a schema with no queue: exit 2, and the schema is not made",
    async () => {
      const typo = `qc_url_typo_${suffix}`;
      for (const command of [["status"], ["export"], ["list"], ["kill", "a"], ["dlq", "retry", "--all"]]) {
        const result = await runCli(command, {
          env: { ...home.env, QUEUECTL_DB: withParams(`schema=${typo}`) },
        });
        expectBadInput(result, `there is no queue in schema "${typo}"`);
      }
      const admin = new SQL(process.env.QUEUECTL_TEST_PG_URL as string, { max: 1 });
      try {
        expect(await admin`SELECT nspname FROM pg_namespace WHERE nspname = ${typo}`).toEqual([]);
      } finally {
        await admin.close();
      }
    },
  );
});
