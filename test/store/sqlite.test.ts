/** The store contract on SQLite: a fresh temp file for every test. */

import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserError } from "../../src/core/errors.ts";
import { newJobRow } from "../../src/store/columns.ts";
import { SqliteStore } from "../../src/store/sqlite/backend.ts";
import { storeContract } from "./contract.ts";
import { newJob, T0 } from "./contract-helpers.ts";

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

describe("bulk input on SQLite", () => {
  const tempStore = (store: SqliteStore) =>
    (store.database.query("PRAGMA temp_store").get() as { temp_store: number }).temp_store;
  const cacheSize = (store: SqliteStore) =>
    (store.database.query("PRAGMA cache_size").get() as { cache_size: number }).cache_size;

  test("a streamed insert journals in memory with a small page cache, and the defaults come back after it ends or fails", async () => {
    const dir = mkdtempSync(join(tmpdir(), "queuectl-stream-"));
    const store = new SqliteStore(join(dir, "jobs.db"));
    try {
      const during: number[] = [];
      const caches: number[] = [];
      async function* batches(fail: boolean) {
        during.push(tempStore(store));
        caches.push(cacheSize(store));
        yield [newJobRow(newJob(`job-${during.length}`))];
        if (fail) throw new UserError("jobs.ndjson, line 2: bad line", "fix it");
      }
      expect(await store.jobInsertStream({ batches: batches(false), now: T0 })).toBe(1);
      expect(tempStore(store)).toBe(0);
      await expect(store.jobInsertStream({ batches: batches(true), now: T0 })).rejects.toThrow("line 2");
      // MEMORY is 2; the default (0) lets sorts of large reads spill to disk again.
      expect(during).toEqual([2, 2]);
      expect(tempStore(store)).toBe(0);
      expect(caches).toEqual([-1000, -1000]);
      expect(cacheSize(store)).toBe(-16000);
      expect((await store.jobCounts()).total).toBe(1);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the columns a bulk insert writes", () => {
  test("each row keeps its own priority, queue, tags, retries, due time and source, whether its hundred agree or not", async () => {
    const seed = Number(process.env.QUEUECTL_TEST_SEED ?? Date.now() % 1_000_000);
    console.log(`bulk insert columns: seed ${seed}`);
    let state = seed;
    const random = () => {
      state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
      return state / 2_147_483_648;
    };
    // Inserts go a hundred rows at a time: a hundred alike, then a hundred for each column
    // where one row (placed by the seed) differs in that column alone, a hundred alike in
    // values other than the defaults, and a tail shorter than a hundred.
    const alike: Parameters<typeof newJob>[1] = { priority: 1 };
    const variants: Parameters<typeof newJob>[1][] = [
      { priority: 5 },
      { priority: 1, queue: "other" },
      { priority: 1, tags: ["x", "y"] },
      { priority: 1, max_retries: 9 },
      { priority: 1, nextRunAt: T0 + 60_000 },
      { priority: 1, source: "jobs/a.yaml" },
    ];
    const unusual = {
      priority: -3,
      queue: "q",
      tags: ["t"],
      max_retries: 0,
      nextRunAt: T0 + 5,
      source: "jobs/b.yaml",
    };
    const hundreds = [alike, ...variants, unusual].map((fields, hundred) => {
      const odd = Math.floor(random() * 100);
      return Array.from({ length: 100 }, (_, row) =>
        newJob(
          `job-${hundred}-${row}`,
          hundred === 0 || hundred > variants.length || row !== odd
            ? hundred > variants.length
              ? unusual
              : alike
            : fields,
        ),
      );
    });
    const jobs = [
      ...hundreds.flat(),
      ...Array.from({ length: 30 }, (_, row) => newJob(`tail-${row}`, variants[row % variants.length])),
    ];
    const dir = mkdtempSync(join(tmpdir(), "queuectl-columns-"));
    const store = new SqliteStore(join(dir, "jobs.db"));
    try {
      async function* batches() {
        yield jobs.slice(0, 500).map((job) => newJobRow(job));
        yield jobs.slice(500).map((job) => newJobRow(job));
      }
      expect(await store.jobInsertStream({ batches: batches(), now: T0 })).toBe(jobs.length);
      const rows = store.database
        .query(
          "SELECT id, spec, revision, state, max_retries, priority, queue, tags, created_at, updated_at, next_run_at, source, declared FROM jobs ORDER BY seq",
        )
        .all();
      expect(rows).toEqual(
        jobs.map((job) => ({
          id: job.spec.id,
          spec: JSON.stringify(job.spec),
          revision: job.revision,
          state: "pending",
          max_retries: job.maxRetries,
          priority: job.spec.priority ?? 0,
          queue: job.spec.queue ?? "default",
          tags: JSON.stringify(job.spec.tags ?? []),
          created_at: T0,
          updated_at: T0,
          next_run_at: job.nextRunAt,
          source: job.source,
          declared: job.source === null ? 0 : 1,
        })),
      );
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a SQLite file replaced while open", () => {
  test("its old WAL is set aside on close, so the next open reads the new file as it is", async () => {
    const dir = mkdtempSync(join(tmpdir(), "queuectl-replaced-"));
    const path = join(dir, "jobs.db");
    try {
      const running = new SqliteStore(path);
      await running.jobInsertMany({ jobs: [newJob("orig")], now: T0 });
      const other = new SqliteStore(join(dir, "new.db"));
      await other.jobInsertMany({ jobs: [newJob("replacement")], now: T0 });
      await other.close();
      renameSync(join(dir, "new.db"), path);
      await expect(running.jobInsertMany({ jobs: [newJob("late")], now: T0 })).rejects.toThrow(
        "was deleted or replaced",
      );
      await running.close();
      expect(readdirSync(dir).some((name) => name.startsWith("jobs.db-wal.replaced-"))).toBe(true);
      const reopened = new SqliteStore(path);
      try {
        expect((await reopened.jobList({})).map((job) => job.id)).toEqual(["replacement"]);
        expect(reopened.database.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
      } finally {
        await reopened.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("another program's SQLite database named as the store", () => {
  test("is refused before anything is written: same bytes, still in its own journal mode", () => {
    const dir = mkdtempSync(join(tmpdir(), "queuectl-foreign-"));
    try {
      for (const [name, statements] of [
        ["plain.db", ["CREATE TABLE users (name TEXT)"]],
        [
          "rails.db",
          [
            "CREATE TABLE schema_migrations (version VARCHAR PRIMARY KEY)",
            "INSERT INTO schema_migrations VALUES ('20240101000000')",
          ],
        ],
      ] as const) {
        const path = join(dir, name);
        const db = new Database(path);
        for (const statement of statements) db.run(statement);
        db.close();
        const before = readFileSync(path);
        expect(() => new SqliteStore(path)).toThrow(/is an SQLite database, but not a queuectl one/);
        expect(readFileSync(path).equals(before)).toBe(true);
        expect(readdirSync(dir).filter((file) => file.startsWith(name))).toEqual([name]);
        const after = new Database(path);
        expect(after.query("PRAGMA journal_mode").get()).toEqual({ journal_mode: "delete" });
        after.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
