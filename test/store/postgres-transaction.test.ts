/**
 * PostgreSQL write transactions are pipelined by hand (BEGIN goes out with the work's first
 * statements, the NOTIFY with COMMIT), so what `sql.begin` guaranteed is checked here:
 * BEGIN reaches the server before any statement of the work, a failure anywhere leaves
 * nothing behind and is reported (also when the work swallowed it), the connection goes
 * back to the pool clean, and the wake-up is sent only by a transaction that commits.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  openConnection,
  type PostgresConnection,
  writeTransaction,
} from "../../src/store/postgres/connection.ts";
import { privateSchema } from "../helpers/pg-schema.ts";

setDefaultTimeout(60_000);

const PG_URL = process.env.QUEUECTL_TEST_PG_URL;
const CHANNEL = "qc_transaction_test";

describe.skipIf(!PG_URL)("PostgreSQL write transactions", () => {
  const { url, schema, admin } = privateSchema(PG_URL ?? "", "qc_transaction");

  async function withConnection(check: (connection: PostgresConnection) => Promise<void>): Promise<void> {
    // One connection in the pool: a transaction left open would be seen by the next write.
    const connection = await openConnection(url, 1);
    try {
      await connection.sql.unsafe("CREATE TABLE IF NOT EXISTS probe (n INT PRIMARY KEY)");
      await connection.sql.unsafe("TRUNCATE probe");
      await check(connection);
    } finally {
      await connection.sql.close({ timeout: 0 });
    }
  }

  const count = async () => {
    const [row] = await admin.unsafe(`SELECT COUNT(*)::int AS n FROM ${schema}.probe`);
    return Number(row.n);
  };

  test("a statement that fails after another rolls both back, and the connection writes again", async () => {
    await withConnection(async (connection) => {
      const failing = writeTransaction(connection, CHANNEL, async (tx) => {
        // Awaited one by one, as most writes do: had BEGIN gone out after the first
        // statement, that row would have committed on its own.
        await tx`INSERT INTO probe VALUES (1)`;
        await tx`INSERT INTO probe VALUES (1)`;
      });
      await expect(failing).rejects.toThrow(/duplicate key/);
      expect(await count()).toBe(0);
      await writeTransaction(connection, CHANNEL, async (tx) => {
        await tx`INSERT INTO probe VALUES (2)`;
      });
      expect(await count()).toBe(1);
    });
  });

  test("statements sent together run in order inside the transaction", async () => {
    await withConnection(async (connection) => {
      const failing = writeTransaction(connection, CHANNEL, async (tx) => {
        await Promise.all([tx`INSERT INTO probe VALUES (3)`, tx`INSERT INTO probe VALUES (3)`]);
      });
      await expect(failing).rejects.toThrow(/duplicate key/);
      expect(await count()).toBe(0);
      const inside = await writeTransaction(connection, CHANNEL, async (tx) => {
        const [, [row]] = await Promise.all([
          tx`INSERT INTO probe VALUES (4)`,
          tx`SELECT txid_current_if_assigned() IS NOT NULL AS open`,
        ]);
        return Boolean(row.open);
      });
      expect(inside).toBe(true);
      expect(await count()).toBe(1);
    });
  });

  test("an error thrown by the work itself rolls back what it wrote", async () => {
    await withConnection(async (connection) => {
      const failing = writeTransaction(connection, CHANNEL, async (tx) => {
        await tx`INSERT INTO probe VALUES (5)`;
        throw new Error("the work gave up");
      });
      await expect(failing).rejects.toThrow("the work gave up");
      expect(await count()).toBe(0);
      const [row] = await connection.sql`SELECT txid_current_if_assigned() IS NULL AS idle`;
      expect(row.idle).toBe(true);
    });
  });

  test("a work that swallows a failed statement is told the transaction was rolled back", async () => {
    await withConnection(async (connection) => {
      const swallowing = writeTransaction(connection, CHANNEL, async (tx) => {
        await tx`INSERT INTO probe VALUES (8)`;
        await tx`INSERT INTO probe VALUES (8)`.catch(() => {});
        return "done";
      });
      await expect(swallowing).rejects.toThrow(/rolled back/);
      expect(await count()).toBe(0);
    });
  });

  test("the wake-up is sent by a committed transaction and not by a rolled-back one", async () => {
    await withConnection(async (connection) => {
      const heard: string[] = [];
      const listener = await admin.listen(CHANNEL, (payload) => heard.push(payload));
      try {
        await expect(
          writeTransaction(connection, CHANNEL, async (tx, notify) => {
            await notify();
            await tx`INSERT INTO probe VALUES (6)`;
            await tx`INSERT INTO probe VALUES (6)`;
          }),
        ).rejects.toThrow(/duplicate key/);
        await writeTransaction(connection, CHANNEL, async (tx, notify) => {
          await tx`INSERT INTO probe VALUES (7)`;
          await notify();
        });
        const deadline = Date.now() + 10_000;
        while (heard.length === 0 && Date.now() < deadline) await Bun.sleep(10);
        expect(heard.length).toBe(1);
        expect(await count()).toBe(1);
      } finally {
        await listener.unlisten();
      }
    });
  });
});
