/**
 * `import`, line by line. What a job printed may hold a NUL: SQLite stores it as it came and
 * its export carries it; import takes it back, and PostgreSQL, whose text cannot hold one,
 * keeps U+FFFD instead. Lines no export writes are refused, naming the line and the field.
 */

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { SQL } from "bun";
import { SqliteStore } from "../../src/store/sqlite/backend.ts";
import { lines, ok, transferHomes } from "../helpers/transfer.ts";

setDefaultTimeout(60_000); // real processes on a busy machine: not the 5 s default

const PG_URL = process.env.QUEUECTL_TEST_PG_URL;
const NOW = Date.now();

const homes = transferHomes();
const cli = homes.cli;

const ok0 = { signal: null, stdoutBytes: 3, stderrBytes: 0, logPath: null, outputTail: "ok" };

function job(id: string) {
  return {
    revision: `rev-${id}`,
    maxRetries: 2,
    nextRunAt: NOW,
    source: null,
    spec: { id, command: `echo ${id}` },
  };
}

/** A new SQLite store with nothing in it; read commands refuse a file that is not there. */
async function emptyStore(path: string): Promise<string> {
  await new SqliteStore(path).close();
  return path;
}

/** A job that printed a NUL, on its attempt's tail and error. */
async function seedPrintedNul(path: string): Promise<void> {
  const store = new SqliteStore(path);
  try {
    await store.jobInsertMany({ jobs: [job("nul")], now: NOW });
    const claimed = await store.jobClaim({ workerId: "w1", host: "h", now: NOW, leaseMs: 60_000 });
    if (!claimed) throw new Error("nothing to claim");
    await store.jobFail({
      id: "nul",
      token: claimed.token,
      now: NOW + 1,
      state: "dead",
      nextRunAt: NOW + 1,
      result: { ...ok0, exitCode: 1, error: "exited with code 1: a\0b", outputTail: "a\0b\n" },
    });
  } finally {
    await store.close();
  }
}

/** The attempt's error and tail of job `nul` in an export. */
function printed(ndjson: string): unknown[] {
  const [record] = lines(ndjson).filter((line) => line.kind === "job") as unknown as {
    attempt_history: { error: string; output_tail: string }[];
  }[];
  const attempt = record?.attempt_history[0];
  return [attempt?.error, attempt?.output_tail];
}

test("a job's output holding a NUL is exported and imported as it was", async () => {
  const a = join(homes.current().home, "a.db");
  await seedPrintedNul(a);
  const exported = ok(await cli(a, ["export"])).stdout;
  expect(printed(exported)).toEqual(["exited with code 1: a\0b", "a\0b\n"]);
  const b = join(homes.current().home, "b.db");
  ok(await cli(b, ["import"], exported));
  expect(lines(ok(await cli(b, ["export"])).stdout)).toEqual(lines(exported));
  // Anywhere else a NUL means a damaged line.
  const damaged = exported.replace('"id":"nul"', '"id":"n\\u0000l"');
  const refused = await cli(join(homes.current().home, "c.db"), ["import"], damaged);
  expect(refused.exitCode).toBe(2);
  expect(refused.stderr).toContain("`id` must not hold a NUL character");
});

test("lines no export writes are refused, naming the line and the field", async () => {
  // An existing store: a new one would be checked before it is made (new-store-input.test.ts).
  const b = await emptyStore(join(homes.current().home, "b.db"));
  const badConfig = await cli(b, ["import"], '{"kind":"config","key":"max-retrys","value":"5"}\n');
  expect(badConfig.exitCode).toBe(2);
  expect(badConfig.stderr).toContain('stdin:1: unknown config key "max-retrys"');
  for (const name of ["bad name", "-q", "x".repeat(65)]) {
    const badQueue = await cli(
      b,
      ["import"],
      `${JSON.stringify({ kind: "queue", name, concurrency: 2, paused: true })}\n`,
    );
    expect(badQueue.exitCode).toBe(2);
    expect(badQueue.stderr).toContain("stdin:1: `name` must be a queue name");
  }
  // Counts a worker reads: negative, or past what a job may have, would run it wrongly.
  const source = join(homes.current().home, "counts.db");
  ok(await cli(source, ["enqueue", '{"id":"j","command":"true"}']));
  const goodJob = lines(ok(await cli(source, ["export"])).stdout).find((line) => line.kind === "job");
  expect(goodJob).toBeDefined();
  for (const [field, value, message] of [
    ["attempts", -3, "`attempts` must be 0 or more, got -3"],
    ["max_retries", 99999, "`max_retries` must be from 0 to 1000, got 99999"],
    ["max_retries", -2, "`max_retries` must be from 0 to 1000, got -2"],
    ["progress_pct", 500, "`progress_pct` must be from 0 to 100, got 500"],
    ["progress_pct", -3, "`progress_pct` must be from 0 to 100, got -3"],
  ] as const) {
    if (goodJob === undefined) break;
    const bad = await cli(b, ["import"], `${JSON.stringify({ ...goodJob, [field]: value })}\n`);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain(`stdin:1: ${message}`);
  }
  const noKind = await cli(b, ["import"], '{"id":"x"}\n');
  expect(noKind.stderr).toContain("stdin:1: `kind` must be one of job, schedule, queue, config");
  const notJson = await cli(b, ["import"], "{nope\n");
  expect(notJson.exitCode).toBe(2);
  expect(notJson.stderr).toContain("stdin:1: invalid JSON");
  const missing = await cli(b, ["import", join(homes.current().home, "nothing-here.ndjson")]);
  expect(missing.exitCode).toBe(2);
  expect(missing.stderr).toContain("cannot read");
  expect(
    lines(ok(await cli(b, ["export"])).stdout).filter(
      (line) => line.kind !== "export" && line.kind !== "end",
    ),
  ).toEqual(
    lines(ok(await cli(await emptyStore(join(homes.current().home, "empty.db")), ["export"])).stdout).filter(
      (line) => line.kind !== "export" && line.kind !== "end",
    ),
  );
});

describe.skipIf(!PG_URL)("through PostgreSQL", () => {
  const schema = `qc_nul_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
  const pg = `${PG_URL}${PG_URL?.includes("?") ? "&" : "?"}schema=${schema}`;
  afterAll(async () => {
    const admin = new SQL(PG_URL ?? "");
    await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.close();
  });

  test("a NUL a job printed, exported from SQLite, is imported as U+FFFD, which PostgreSQL text can hold", async () => {
    const a = join(homes.current().home, "a.db");
    await seedPrintedNul(a);
    ok(await cli(pg, ["import"], ok(await cli(a, ["export"])).stdout));
    const exported = ok(await cli(pg, ["export"])).stdout;
    expect(printed(exported)).toEqual(["exited with code 1: a\uFFFDb", "a\uFFFDb\n"]);
  });
});
