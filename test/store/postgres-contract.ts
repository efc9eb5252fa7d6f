/**
 * The store contract on PostgreSQL, against QUEUECTL_TEST_PG_URL, in three test files
 * (postgres.test.ts, postgres-2.test.ts, postgres-3.test.ts) so its waits on the server
 * spread over several test processes. Every test gets its own schema under one random
 * prefix per file, and all of them are dropped afterwards. Without the variable the suite
 * is skipped, loudly; with it set, an unreachable server fails.
 */

import { SQL } from "bun";
import { openPostgresStore } from "../../src/store/postgres/backend.ts";
import { type ContractPart, storeContract } from "./contract.ts";

/**
 * A suite run creates and drops a few hundred schemas, leaving some hundred thousand dead
 * rows in the system catalog. Where autovacuum is off (as on the server these tests run
 * against), nothing reclaims them, and every later DDL and connection slows down run after
 * run: a fresh schema cost twice as much after a day of runs. A role that may not vacuum the
 * catalog only gets a warning.
 */
async function vacuumCatalog(admin: SQL): Promise<void> {
  await admin.unsafe(
    "VACUUM pg_catalog.pg_attribute, pg_catalog.pg_class, pg_catalog.pg_depend, pg_catalog.pg_type, pg_catalog.pg_index, pg_catalog.pg_constraint, pg_catalog.pg_attrdef",
  );
}

export function postgresContract(part: ContractPart): void {
  const url = process.env.QUEUECTL_TEST_PG_URL;

  if (!url) {
    console.warn(
      "skipping the PostgreSQL store contract: set QUEUECTL_TEST_PG_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run it",
    );
  } else {
    const prefix = `qc_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
    const schemas: string[] = [];
    const admin = new SQL(url, { max: 2 });
    const withSchema = (schema: string) => `${url}${url.includes("?") ? "&" : "?"}schema=${schema}`;

    storeContract(
      {
        name: "postgres",
        // Four stores at a time leave connections to spare on a server other test files share.
        testsAtOnce: 4,
        async create() {
          const schema = `${prefix}_${schemas.length + 1}`;
          schemas.push(schema);
          return {
            open: () => openPostgresStore(withSchema(schema)),
            async exec(statement) {
              await admin.begin(async (tx) => {
                await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
                await tx.unsafe(`SET LOCAL search_path TO ${schema}`);
                await tx.unsafe(statement);
              });
            },
          };
        },
        async cleanup() {
          for (const schema of schemas) await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
          await vacuumCatalog(admin);
          await admin.close();
        },
      },
      part,
    );
  }
}
