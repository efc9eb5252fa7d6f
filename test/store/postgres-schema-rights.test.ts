/**
 * Where a PostgreSQL queue may live, as a database administrator sets it up: a schema made
 * ahead for a role that may not create schemas, a schema holding tables the role cannot
 * see, schema names that SQL reserves as words, and each right a role lacks named with the
 * GRANT that gives it.
 */

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { SQL } from "bun";
import { UserError } from "../../src/core/errors.ts";
import { openStore } from "../../src/store/open.ts";

setDefaultTimeout(60_000);

const server = process.env.QUEUECTL_TEST_PG_URL;

/** The server URL as another role (trust authentication: no password), with `?schema=`. */
function urlAs(role: string, schema: string): string {
  const url = new URL(server as string);
  url.username = role;
  url.password = "";
  url.searchParams.set("schema", schema);
  return url.toString();
}

describe.skipIf(!server)("a PostgreSQL queue in a schema an administrator set up", () => {
  const tag = crypto.randomUUID().replaceAll("-", "").slice(0, 10);
  const admin = new SQL(server as string, { max: 1 });
  const role = `qc_role_${tag}`;
  const schemas = [
    `qc_given_${tag}`,
    `qc_hidden_${tag}`,
    `qc_rails_${tag}`,
    `qc_migrate_${tag}`,
    `qc_damaged_${tag}`,
    `qc_closed_${tag}`,
    `qc_unmade_${tag}`,
    `qc_owned_${tag}`,
  ];
  afterAll(async () => {
    for (const schema of [...schemas, "user", "order"].map((name) => `"${name}"`)) {
      await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
    await admin.unsafe(`DROP ROLE IF EXISTS ${role}`);
    await admin.close();
  });

  test("a role that may not create schemas uses the one made for it", async () => {
    const [given] = schemas as [string];
    const [{ db }] = await admin`SELECT current_database() AS db`;
    await admin.unsafe(`CREATE ROLE ${role} LOGIN`);
    const [rights] = await admin`SELECT has_database_privilege(${role}, ${db}, 'CREATE') AS create`;
    expect(rights.create).toBe(false);
    await admin.unsafe(`CREATE SCHEMA ${given} AUTHORIZATION ${role}`);
    const store = await openStore({ url: urlAs(role, given) });
    try {
      await store.jobInsertMany({
        jobs: [
          { spec: { id: "a", command: "true" }, revision: "r", maxRetries: 0, nextRunAt: 0, source: null },
        ],
        now: 1,
      });
      expect((await store.jobGet({ id: "a" }))?.state).toBe("pending");
    } finally {
      await store.close();
    }
  });

  test("a schema holding a table the role cannot see is still no place for a queue", async () => {
    const hidden = schemas[1] as string;
    await admin.unsafe(`CREATE ROLE ${role} LOGIN`).catch(() => {});
    await admin.unsafe(`CREATE SCHEMA ${hidden}`);
    await admin.unsafe(`CREATE TABLE ${hidden}.appointments (id int)`);
    await admin.unsafe(`GRANT USAGE, CREATE ON SCHEMA ${hidden} TO ${role}`);
    const opening = openStore({ url: urlAs(role, hidden) });
    await expect(opening).rejects.toThrow(`the schema ${hidden}`);
    await expect(opening).rejects.toThrow("holds other tables and is not a queuectl schema");
    const [{ count }] = await admin`
      SELECT COUNT(*)::int AS count FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ${hidden} AND c.relkind = 'r'`;
    expect(count).toBe(1);
  });

  test("an application's schema with a schema_migrations of its own is refused as bad input, never migrated", async () => {
    const [, , rails, golangMigrate] = schemas as [string, string, string, string];
    // As Rails and golang-migrate keep theirs: a version as text, and a version with a dirty flag.
    await admin.unsafe(`CREATE SCHEMA ${rails}`);
    await admin.unsafe(`CREATE TABLE ${rails}.users (id int)`);
    await admin.unsafe(`CREATE TABLE ${rails}.schema_migrations (version varchar PRIMARY KEY)`);
    await admin.unsafe(`INSERT INTO ${rails}.schema_migrations VALUES ('20240101000000')`);
    await admin.unsafe(`CREATE SCHEMA ${golangMigrate}`);
    await admin.unsafe(`CREATE TABLE ${golangMigrate}.orders (id int)`);
    await admin.unsafe(
      `CREATE TABLE ${golangMigrate}.schema_migrations (version bigint NOT NULL, dirty boolean NOT NULL)`,
    );
    await admin.unsafe(`INSERT INTO ${golangMigrate}.schema_migrations VALUES (3, false)`);
    for (const schema of [rails, golangMigrate]) {
      const url = new URL(server as string);
      url.searchParams.set("schema", schema);
      const error = await openStore({ url: url.toString() }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(UserError);
      expect((error as UserError).message).toContain(`the schema ${schema}`);
      expect((error as UserError).message).toContain("holds other tables and is not a queuectl schema");
      const [{ count }] = await admin`
        SELECT COUNT(*)::int AS count FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ${schema} AND c.relkind = 'r'`;
      expect(count).toBe(2);
    }
  });

  test("a queue schema with a table dropped by hand is reported as damaged, not as a bug", async () => {
    const damaged = schemas[4] as string;
    const url = new URL(server as string);
    url.searchParams.set("schema", damaged);
    await (await openStore({ url: url.toString() })).close();
    await admin.unsafe(`DROP TABLE ${damaged}.attempts`);
    const store = await openStore({ url: url.toString() });
    try {
      const error = await store.attemptList({ jobId: "x" }).catch((caught: unknown) => caught);
      expect((error as Error).message).toContain(
        `the queue's schema ${damaged} lacks a table it should hold`,
      );
      expect((error as Error).message).not.toContain("bug");
    } finally {
      await store.close();
    }
  });

  test("schema names that SQL reserves as words hold a queue like any other", async () => {
    for (const name of ["user", "order"]) {
      const url = new URL(server as string);
      url.searchParams.set("schema", name);
      const store = await openStore({ url: url.toString() });
      try {
        await store.jobInsertMany({
          jobs: [
            { spec: { id: name, command: "true" }, revision: "r", maxRetries: 0, nextRunAt: 0, source: null },
          ],
          now: 1,
        });
        expect((await store.jobGet({ id: name }))?.state).toBe("pending");
      } finally {
        await store.close();
      }
      // Opened again: the version is read from the quoted name too.
      const again = await openStore({ url: url.toString(), mustExist: true });
      expect((await again.jobGet({ id: name }))?.id).toBe(name);
      await again.close();
    }
  });

  test("a refusal names the right the role lacks, with the GRANT that gives it", async () => {
    const [closed, unmade] = schemas.slice(5) as [string, string];
    await admin.unsafe(`CREATE ROLE ${role} LOGIN`).catch(() => {});
    const url = new URL(server as string);
    url.searchParams.set("schema", closed);
    const store = await openStore({ url: url.toString() });
    await store.close();
    const refusal = async (schema: string) => {
      const error = await openStore({ url: urlAs(role, schema) })
        .then((opened) => opened.jobCounts().finally(() => opened.close()))
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(Error);
      return `${(error as Error).message} — ${(error as UserError).hint}`;
    };
    // A schema the role may not enter.
    expect(await refusal(closed)).toContain(`GRANT USAGE, CREATE ON SCHEMA "${closed}" TO "${role}"`);
    // It may enter, but not read the tables.
    await admin.unsafe(`GRANT USAGE ON SCHEMA ${closed} TO ${role}`);
    expect(await refusal(closed)).toContain(
      `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "${closed}"`,
    );
    // A new queue's schema, in a database where the role may not create one.
    const [{ db }] = await admin`SELECT current_database() AS db`;
    expect(await refusal(unmade)).toContain(`CREATE SCHEMA "${unmade}" AUTHORIZATION "${role}"`);
    expect(await refusal(unmade)).toContain(`GRANT CREATE ON DATABASE "${db}" TO "${role}"`);
  });

  test("a role granted a queue's tables but not their ownership cannot upgrade it, and is told so", async () => {
    const owned = schemas[7] as string;
    await admin.unsafe(`CREATE ROLE ${role} LOGIN`).catch(() => {});
    const url = new URL(server as string);
    url.searchParams.set("schema", owned);
    await (await openStore({ url: url.toString() })).close();
    // As if written by the release before the last migration: that migration is still to run.
    await admin.unsafe(`DROP INDEX ${owned}.jobs_queue_claim`);
    await admin.unsafe(
      `DELETE FROM ${owned}.schema_migrations WHERE version = (SELECT MAX(version) FROM ${owned}.schema_migrations)`,
    );
    await admin.unsafe(`GRANT USAGE, CREATE ON SCHEMA ${owned} TO ${role}`);
    await admin.unsafe(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${owned} TO ${role}`);
    const error = await openStore({ url: urlAs(role, owned) }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toContain("must be owner of");
    expect((error as UserError).hint).toContain("run it once as the role that owns the queue's tables");
  });
});
