/** The store contract on SQLite: a fresh temp file for every test. */

import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../src/store/sqlite/backend.ts";
import { storeContract } from "./contract.ts";

const root = mkdtempSync(join(tmpdir(), "queuectl-contract-"));
let count = 0;

storeContract({
  name: "sqlite",
  async create() {
    const path = join(root, `store-${++count}.db`);
    return {
      open: async () => new SqliteStore(path),
      async exec(statement) {
        const db = new Database(path);
        try {
          db.run("PRAGMA busy_timeout = 5000");
          db.run(statement);
        } finally {
          db.close();
        }
      },
    };
  },
  async cleanup() {
    rmSync(root, { recursive: true, force: true });
  },
});
