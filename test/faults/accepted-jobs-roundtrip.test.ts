/**
 * Property: every job the CLI's validation accepts can then be listed, shown, exported and
 * imported back. Jobs are drawn near and past every limit (durations, run_at, numbers,
 * command sizes, odd text); what the door refuses is skipped, what it lets in must go all
 * the way round. In process, on SQLite (and on PostgreSQL with QUEUECTL_TEST_PG_URL).
 *
 * The seed is printed; replay a failure with QUEUECTL_TEST_SEED=<seed>. More runs:
 * QUEUECTL_TEST_RUNS_SCALE=<factor> (see below).
 */

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import fc from "fast-check";
import { resolveConfig } from "../../src/core/config.ts";
import { UserError } from "../../src/core/errors.ts";
import { ARGUMENT_NAME, parseJobInput, prepareJobs } from "../../src/core/job-input.ts";
import { enqueuePrepared } from "../../src/flow/enqueue.ts";
import { exportLine, parseExport } from "../../src/flow/export-format.ts";
import { jobBlocks, jobJson, scheduleJson, scheduleLines, specLines } from "../../src/render.ts";
import { openPostgresStore } from "../../src/store/postgres/backend.ts";
import { SqliteStore } from "../../src/store/sqlite/backend.ts";
import type { Store } from "../../src/store/store.ts";
import { testSeed } from "../helpers/seed.ts";

setDefaultTimeout(180_000);

const SEED = testSeed("accepted-jobs round trip");

const NOW = Date.parse("2026-12-01T00:00:00Z");
const config = resolveConfig({});

const units = fc.constantFrom("ms", "s", "m", "h", "d", "w");
const duration = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 4_000_000_000 }) },
  { weight: 3, arbitrary: fc.tuple(fc.nat({ max: 60_000 }), units).map(([n, unit]) => `${n}${unit}`) },
  fc.double(),
  fc.constantFrom(1e308, 3_155_760_000, 3_155_760_001, 0.0004, -1),
  fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 20n }), units).map(([n, unit]) => `${n}${unit}`),
  fc.constantFrom("36525d", "36526d", "5218w", "15000000w", "NaN", "Infinity", "1e308"),
);
const runAt = fc.oneof(
  fc
    .date({
      min: new Date("0000-01-01T00:00:00Z"),
      max: new Date("9999-12-31T23:59:59Z"),
      noInvalidDate: true,
    })
    .map((date) => date.toISOString()),
  fc
    .date({
      min: new Date("2000-01-01T00:00:00Z"),
      max: new Date("2130-01-01T00:00:00Z"),
      noInvalidDate: true,
    })
    .map((date) => date.toISOString().replace("Z", "+05:30")),
  fc.constantFrom("2026-12-01", "2126-11-30T23:59:59Z", "2126-12-02T00:00:00Z", "1969-12-31T23:59:59Z"),
);
const text = fc.oneof(
  fc.string({ minLength: 1, maxLength: 30 }),
  fc.string({ unit: "grapheme", maxLength: 30 }),
);
const command = fc.oneof(
  text,
  fc.array(text, { minLength: 1, maxLength: 4 }),
  fc.nat({ max: 140_000 }).map((n) => `echo ${"x".repeat(n)}`),
  fc
    .tuple(fc.nat({ max: 14 }), fc.nat({ max: 100_000 }))
    .map(([count, size]) => ["true", ...Array.from({ length: count }, () => "y".repeat(size))]),
);
const id = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/) },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 24 }) },
);
/** Every field optional; the values mostly valid, often at a limit, sometimes past it. */
const common = {
  max_retries: fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 1000 }) },
    fc.integer(),
    fc.double(),
  ),
  timeout: duration,
  priority: fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: -1_000_000, max: 1_000_000 }) },
    fc.integer(),
    fc.double(),
  ),
  cwd: text,
  env: fc.dictionary(
    fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,6}$/),
    fc.oneof(text, fc.integer(), fc.boolean()),
    {
      maxKeys: 3,
    },
  ),
  tags: fc.array(text, { maxLength: 3 }),
  queue: fc.oneof(fc.constant("default"), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,8}$/)),
};
const plainJob = fc
  .tuple(
    fc.record({ id, command, ...common, after: fc.constant(["base"]) }, { requiredKeys: ["id", "command"] }),
    fc.oneof(
      fc.constant({}),
      runAt.map((run_at) => ({ run_at })),
      duration.map((delay) => ({ delay })),
    ),
  )
  .map(([job, when]) => ({ ...job, ...when }));
const scheduledJob = fc.record(
  {
    id,
    command,
    ...common,
    schedule: fc.constantFrom("*/5 * * * *", "0 3 * * *", "@yearly", "0 0 29 2 *", "0 0 1 1 *"),
    timezone: fc.constantFrom("UTC", "Europe/Berlin", "Pacific/Kiritimati", "America/St_Johns"),
    catchup: fc.constantFrom("none", "latest", "all"),
    overlap: fc.constantFrom("allow", "skip", "replace"),
  },
  { requiredKeys: ["id", "command", "schedule"] },
);
const jobObject = fc.oneof({ weight: 4, arbitrary: plainJob }, { weight: 1, arbitrary: scheduledJob });

/** Everything `list`, `show` and `schedule list` print or return as JSON, for every job and schedule. */
async function render(store: Store): Promise<void> {
  const jobs = await store.jobList({});
  JSON.stringify(jobs.map(jobJson));
  expect(jobBlocks(jobs, NOW)).not.toContain("Invalid Date");
  for (const job of jobs) {
    jobBlocks([job], NOW);
    specLines(job);
    JSON.stringify({ ...jobJson(job), spec: job.spec, attempts: await store.attemptList({ jobId: job.id }) });
  }
  const schedules = await store.scheduleList();
  scheduleLines(schedules);
  JSON.stringify(schedules.map(scheduleJson));
}

/** What `queuectl export` writes: settings, then every job. */
async function exportText(store: Store): Promise<string> {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(await store.configGetAll()))
    lines.push(exportLine("config", { key, value }));
  for (const schedule of await store.scheduleList()) lines.push(exportLine("schedule", schedule));
  let after: string | null = null;
  do {
    const page: Awaited<ReturnType<Store["jobExport"]>> = await store.jobExport({ after, limit: 1000 });
    for (const job of page.jobs) lines.push(exportLine("job", job));
    after = page.next;
  } while (after !== null);
  return lines.join("");
}

/** Enqueues what the door accepts, one job at a time; returns how many got in. */
async function enqueueAccepted(store: Store, values: unknown[]): Promise<number> {
  let accepted = 0;
  for (const value of values) {
    let prepared: ReturnType<typeof prepareJobs>;
    try {
      prepared = prepareJobs(parseJobInput(JSON.stringify(value), ARGUMENT_NAME), ARGUMENT_NAME, config, NOW);
    } catch (error) {
      if (error instanceof UserError && error.exitCode === 2) continue;
      throw error;
    }
    try {
      await enqueuePrepared(store, prepared, NOW);
      accepted++;
    } catch (error) {
      // A repeated id is refused by the store: still a one-line user error, never a bug.
      if (!(error instanceof UserError) || error.exitCode !== 2) throw error;
    }
  }
  return accepted;
}

interface Backend {
  name: string;
  /** An empty, migrated store, as a fresh one is; each call returns another. */
  open(): Promise<Store>;
  cleanup(): Promise<void>;
}

/**
 * Migrating a new SQLite file costs far more than one run of the property, so each store
 * is a copy of one file migrated once: byte for byte what a fresh store starts from.
 */
function sqliteBackend(): Backend {
  const root = mkdtempSync(join(tmpdir(), "queuectl-roundtrip-"));
  const template = join(root, "template.db");
  let migrated: Promise<void> | null = null;
  let count = 0;
  return {
    name: "sqlite",
    async open() {
      migrated ??= new SqliteStore(template).close();
      await migrated;
      const path = join(root, `store-${++count}.db`);
      copyFileSync(template, path);
      return new SqliteStore(path);
    },
    cleanup: async () => rmSync(root, { recursive: true, force: true }),
  };
}

/**
 * Two schemas migrated once and emptied before each use (every table but the migrations
 * record, identities restarted): the state a fresh schema starts from, without migrating
 * one per run.
 */
function postgresBackend(url: string): Backend {
  const prefix = `qc_roundtrip_${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
  const schemas = [`${prefix}_1`, `${prefix}_2`];
  const admin = new SQL(url, { max: 1 });
  let count = 0;
  const connect = (schema: string) =>
    openPostgresStore(`${url}${url.includes("?") ? "&" : "?"}schema=${schema}`);
  return {
    name: "postgres",
    async open() {
      const schema = schemas[count++ % schemas.length] as string;
      const tables = (await admin`
        SELECT tablename FROM pg_tables WHERE schemaname = ${schema} AND tablename <> 'schema_migrations'
      `) as { tablename: string }[];
      // DELETE, not TRUNCATE: on a handful of rows it is ten times faster. Foreign keys are
      // not checked meanwhile (every row goes), and identities start again as in a new schema.
      await admin.begin(async (tx) => {
        await tx.unsafe("SET LOCAL session_replication_role = replica");
        for (const { tablename } of tables) await tx.unsafe(`DELETE FROM ${schema}."${tablename}"`);
        const sequences = (await tx`
          SELECT sequencename FROM pg_sequences WHERE schemaname = ${schema}
        `) as { sequencename: string }[];
        for (const { sequencename } of sequences)
          await tx.unsafe(`ALTER SEQUENCE ${schema}."${sequencename}" RESTART`);
      });
      return connect(schema);
    },
    async cleanup() {
      for (const schema of schemas) await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.close();
    },
  };
}

/**
 * Runs per backend: 150 on SQLite and 20 on PostgreSQL by default, sized to the suite's
 * time; QUEUECTL_TEST_RUNS_SCALE=10 (say) explores ten times as many job lists, e.g. after
 * a change to validation, rendering or export.
 */
const RUNS_SCALE = Number(process.env.QUEUECTL_TEST_RUNS_SCALE ?? "1");
if (!(RUNS_SCALE > 0))
  throw new Error(
    `QUEUECTL_TEST_RUNS_SCALE=${process.env.QUEUECTL_TEST_RUNS_SCALE} is not a positive number`,
  );
const PG_URL = process.env.QUEUECTL_TEST_PG_URL;
const backends: [Backend, number][] = [[sqliteBackend(), Math.ceil(150 * RUNS_SCALE)]];
if (PG_URL) backends.push([postgresBackend(PG_URL), Math.ceil(20 * RUNS_SCALE)]);

for (const [backend, numRuns] of backends) {
  describe(`accepted jobs go all the way round (${backend.name})`, () => {
    afterAll(() => backend.cleanup());

    test("listed, shown, exported and imported back unchanged", async () => {
      let accepted = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(jobObject, { minLength: 1, maxLength: 4 }), async (values) => {
          const source = await backend.open();
          const target = await backend.open();
          try {
            await enqueueAccepted(source, [{ id: "base", command: "true" }]);
            accepted += await enqueueAccepted(source, values);
            await render(source);
            const exported = await exportText(source);
            const { jobs, settings } = parseExport(exported, "export");
            await target.jobImportMany({ jobs, settings });
            await render(target);
            expect(await exportText(target)).toBe(exported);
          } finally {
            await source.close();
            await target.close();
          }
        }),
        { seed: SEED, numRuns },
      );
      // The generator must get past the door often, or the property says little. About half
      // get through; at 20 runs a quarter is within chance of missing, a tenth is not.
      console.log(`${backend.name}: ${accepted} generated jobs accepted in ${numRuns} runs`);
      expect(accepted).toBeGreaterThanOrEqual(Math.max(2, Math.ceil(numRuns / 10)));
    });
  });
}
