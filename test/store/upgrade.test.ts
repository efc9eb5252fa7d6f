/**
 * Upgrades: stores written by queuectl 1.0.0 (test/fixtures/upgrade, made by its generate.ts)
 * open with today's code, migrate in place to the current schema version, keep every job,
 * attempt, completed revision, schedule, dependency, queue and config value, and keep
 * working. The fixture files are never changed: each test works on a copy (SQLite) or a
 * schema of its own (PostgreSQL).
 */

import { Database } from "bun:sqlite";
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import { resolveConfig } from "../../src/core/config.ts";
import { parseJobInput, prepareJobs } from "../../src/core/job-input.ts";
import { enqueuePrepared } from "../../src/flow/enqueue.ts";
import { planHasChanges } from "../../src/jobfiles/plan.ts";
import { syncJobsFolder } from "../../src/jobfiles/sync.ts";
import { openStore } from "../../src/store/open.ts";
import { openPostgresStore } from "../../src/store/postgres/backend.ts";
import { POSTGRES_SCHEMA_VERSION } from "../../src/store/postgres/migrations.ts";
import { SQLITE_SCHEMA_VERSION } from "../../src/store/sqlite/migrations.ts";
import type { Store } from "../../src/store/store.ts";
import {
  FIXTURE_JOBS_DIR,
  FIXTURE_PG_SCHEMA,
  type Manifest,
  readManifest,
} from "../fixtures/upgrade/manifest.ts";

// Migrations on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const FIXTURES = join(import.meta.dir, "..", "fixtures", "upgrade");
const FIXTURE_SCHEMA_VERSION = 2;
const expected = JSON.parse(readFileSync(join(FIXTURES, "v1.0.0.manifest.json"), "utf8")) as Manifest;

const root = mkdtempSync(join(tmpdir(), "queuectl-upgrade-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * Puts the fixture's jobfile folder back where the stores recorded it. Files are only
 * written when they differ, so concurrent runs never see one half-written.
 */
function restoreJobsFolder(): void {
  mkdirSync(FIXTURE_JOBS_DIR, { recursive: true, mode: 0o700 });
  const wanted = new Set(readdirSync(join(FIXTURES, "jobs")));
  for (const name of wanted) {
    const text = readFileSync(join(FIXTURES, "jobs", name), "utf8");
    const target = join(FIXTURE_JOBS_DIR, name);
    if (!existsSync(target) || readFileSync(target, "utf8") !== text) writeFileSync(target, text);
  }
  for (const name of readdirSync(FIXTURE_JOBS_DIR)) {
    if (!wanted.has(name)) rmSync(join(FIXTURE_JOBS_DIR, name), { recursive: true, force: true });
  }
}

async function expectFixtureContent(store: Store): Promise<void> {
  const actual = await readManifest(store);
  const jobs = new Map(actual.jobs.map((job) => [job.id, job]));
  for (const job of expected.jobs)
    expect({ id: job.id, found: jobs.get(job.id) }).toEqual({ id: job.id, found: job });
  expect(actual.jobs).toHaveLength(expected.jobs.length);
  expect(actual.schedules).toEqual(expected.schedules);
  expect(actual.queues).toEqual(expected.queues);
  expect(actual.config).toEqual(expected.config);
  expect(actual.workers).toEqual(expected.workers);
  expect(actual.declared).toEqual(expected.declared);
}

/** A migrated store still takes, runs and syncs work. */
async function expectWorkingStore(store: Store): Promise<void> {
  const now = Date.now();
  const config = resolveConfig(await store.configGetAll());
  const input = parseJobInput(
    JSON.stringify([{ id: "after-upgrade", command: "true", queue: "upgrade" }]),
    "test",
  );
  await enqueuePrepared(store, prepareJobs(input, "test", config, now), now);
  const job = await store.jobClaim({
    workerId: "w-upgrade",
    host: "test",
    now,
    leaseMs: 30_000,
    queues: ["upgrade"],
  });
  expect(job?.id).toBe("after-upgrade");
  if (!job) return;
  const result = {
    exitCode: 0,
    signal: null,
    error: null,
    stdoutBytes: 3,
    stderrBytes: 0,
    logPath: null,
    outputTail: "ok\n",
  };
  expect(await store.jobComplete({ id: job.id, token: job.token, now, result })).toBe(true);
  expect((await store.jobGet({ id: job.id }))?.state).toBe("completed");
  expect((await store.attemptList({ jobId: job.id })).map((attempt) => attempt.output_tail)).toEqual([
    "ok\n",
  ]);

  // The folder as it was at the fixture's last sync. Rows from before ownership only have the
  // folder that holds them recorded, once; nothing is created, replaced, canceled or run again.
  restoreJobsFolder();
  const dry = await syncJobsFolder({ store, dir: FIXTURE_JOBS_DIR, now, dryRun: true });
  expect(dry.plan.errors).toEqual([]);
  expect(new Set(dry.plan.changes.map((change) => change.action))).toEqual(new Set(["redeclare"]));
  const applied = await syncJobsFolder({ store, dir: FIXTURE_JOBS_DIR, now });
  const { redeclare, ...others } = applied.applied ?? {};
  expect(redeclare?.length).toBe(dry.plan.changes.length);
  expect(Object.values(others).flat()).toEqual([]);
  const again = await syncJobsFolder({ store, dir: FIXTURE_JOBS_DIR, now, dryRun: true });
  expect(again.plan.changes.map((change) => `${change.action} ${change.job?.spec.id ?? ""}`)).toEqual([]);
  expect(planHasChanges(again.plan)).toBe(false);
  expect(applied.appliedSchedules).toEqual({ created: [], updated: [], removed: [] });
}

/** `read` on the SQLite file at `path`, opened for it alone (read-only unless `write`). */
function withSqlite<T>(path: string, read: (db: Database) => T, write = false): T {
  const db = new Database(path, { readonly: !write });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

function sqliteVersion(path: string): number {
  return withSqlite(
    path,
    (db) => (db.query("SELECT MAX(version) AS v FROM schema_migrations").get() as { v: number }).v,
  );
}

describe("upgrade from 1.0.0 on SQLite", () => {
  test("the store migrates in place and keeps every job, attempt, revision and setting", async () => {
    const path = join(root, "v1.0.0.sqlite");
    copyFileSync(join(FIXTURES, "v1.0.0.sqlite"), path);
    expect(sqliteVersion(path)).toBe(FIXTURE_SCHEMA_VERSION);
    const store = await openStore({ url: path });
    try {
      expect(sqliteVersion(path)).toBe(SQLITE_SCHEMA_VERSION);
      await expectFixtureContent(store);
      await expectWorkingStore(store);
    } finally {
      await store.close();
    }
  });
});

/** The schema as SQLite records it, every table and index. */
function sqliteSchema(path: string): string[] {
  return withSqlite(path, (db) =>
    (
      db.query("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name").all() as { sql: string }[]
    ).map((row) => row.sql),
  );
}

describe("an upgrade that fails on SQLite", () => {
  test("leaves the store as it was, then upgrades whole once the obstacle is gone", async () => {
    const path = join(root, "v1.0.0-obstacle.sqlite");
    copyFileSync(join(FIXTURES, "v1.0.0.sqlite"), path);
    // A column migration 8 adds, already there: that migration fails after 3 to 7 ran in
    // the same transaction, which must take them back too.
    withSqlite(path, (db) => db.run("ALTER TABLE queues ADD COLUMN limits TEXT"), true);
    const before = sqliteSchema(path);
    await expect(openStore({ url: path })).rejects.toThrow(/limits/);
    expect(sqliteVersion(path)).toBe(FIXTURE_SCHEMA_VERSION);
    expect(sqliteSchema(path)).toEqual(before);
    withSqlite(path, (db) => db.run("ALTER TABLE queues DROP COLUMN limits"), true);
    const store = await openStore({ url: path });
    try {
      expect(sqliteVersion(path)).toBe(SQLITE_SCHEMA_VERSION);
      await expectFixtureContent(store);
    } finally {
      await store.close();
    }
  });
});

const url = process.env.QUEUECTL_TEST_PG_URL;
if (!url) {
  console.warn("skipping the PostgreSQL upgrade test: set QUEUECTL_TEST_PG_URL to run it");
} else {
  describe("upgrade from 1.0.0 on PostgreSQL", () => {
    const schema = `qc_upgrade_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
    const admin = new SQL(url, { max: 1 });
    afterAll(async () => {
      await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.close();
    });

    const version = async () =>
      Number((await admin.unsafe(`SELECT MAX(version) AS v FROM ${schema}.schema_migrations`))[0].v);

    test("the dump restores, migrates in place and keeps every job, attempt, revision and setting", async () => {
      const dump = readFileSync(join(FIXTURES, "v1.0.0.pg.sql"), "utf8").replace(
        new RegExp(`\\b${FIXTURE_PG_SCHEMA}\\b`, "g"),
        schema,
      );
      // Its own connection: the dump clears search_path for the session it runs in.
      const restore = new SQL(url, { max: 1 });
      try {
        await restore.unsafe(dump).simple();
      } finally {
        await restore.close();
      }
      expect(await version()).toBe(FIXTURE_SCHEMA_VERSION);
      const store = await openPostgresStore(`${url}${url.includes("?") ? "&" : "?"}schema=${schema}`);
      try {
        expect(await version()).toBe(POSTGRES_SCHEMA_VERSION);
        await expectFixtureContent(store);
        await expectWorkingStore(store);
      } finally {
        await store.close();
      }
    });
  });
}
