/** Contract: migrations on open, several processes opening at once, and a newer schema refused. */

import { expect, test } from "bun:test";
import { UserError } from "../../src/core/errors.ts";
import type { StoreBackend, WithStore } from "./contract-helpers.ts";
import { newJob, T0 } from "./contract-helpers.ts";

export function schemaContract(withStore: WithStore, backend: StoreBackend): void {
  test(
    "re-opening keeps the data; opening from several connections at once migrates once",
    withStore(async ({ store, another }) => {
      await store.jobInsertMany({ jobs: [newJob("kept")], now: T0 });
      const again = await another();
      expect((await again.jobGet({ id: "kept" }))?.id).toBe("kept");

      const fresh = await backend.create();
      const opened = await Promise.all([fresh.open(), fresh.open(), fresh.open(), fresh.open()]);
      try {
        await opened[0]?.jobInsertMany({ jobs: [newJob("x")], now: T0 });
        for (const store of opened) expect((await store.jobGet({ id: "x" }))?.id).toBe("x");
      } finally {
        await Promise.all(opened.map((store) => store.close()));
      }
    }),
  );

  test(
    "a database with a newer schema is refused with a clear runtime error",
    withStore(async ({ location }) => {
      await location.exec(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from the future', 0)",
      );
      const opening = location.open();
      await expect(opening).rejects.toBeInstanceOf(UserError);
      await expect(opening).rejects.toThrow(/schema version 999, newer than this queuectl understands/);
      const error = await opening.catch((e: UserError) => e);
      expect((error as UserError).exitCode).toBe(1);
    }),
  );

  test("a database that holds someone else's tables is refused and left untouched", async () => {
    const foreign = await backend.create();
    await foreign.exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)");
    const opening = foreign.open();
    await expect(opening).rejects.toBeInstanceOf(UserError);
    await expect(opening).rejects.toThrow(/not a queuectl/);
    // Bad input, as a --db naming a file that is no database at all.
    expect(((await opening.catch((e: UserError) => e)) as UserError).exitCode).toBe(2);
    await foreign.exec("INSERT INTO customers (id, name) VALUES (1, 'still here')");
    await expect(foreign.exec("SELECT version FROM schema_migrations")).rejects.toThrow();
  });

  test("another tool's schema_migrations (Rails) is refused as not a queue, never read as a newer one", async () => {
    const rails = await backend.create();
    await rails.exec("CREATE TABLE schema_migrations (version VARCHAR(255) PRIMARY KEY)");
    await rails.exec("INSERT INTO schema_migrations (version) VALUES ('20240101000000')");
    await rails.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)");
    const opening = rails.open();
    await expect(opening).rejects.toThrow(/not a queuectl/);
    expect(((await opening.catch((e: UserError) => e)) as UserError).exitCode).toBe(2);
    // Left as it was: no queue table was added beside theirs.
    await expect(rails.exec("SELECT id FROM jobs")).rejects.toThrow();
    // golang-migrate's table has a version too, and a small one.
    const migrate = await backend.create();
    await migrate.exec(
      "CREATE TABLE schema_migrations (version BIGINT NOT NULL PRIMARY KEY, dirty BOOLEAN NOT NULL)",
    );
    await migrate.exec("INSERT INTO schema_migrations (version, dirty) VALUES (10, false)");
    await expect(migrate.open()).rejects.toThrow(/not a queuectl/);
  });
}
