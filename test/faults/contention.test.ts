/**
 * Contention on one SQLite file: 4 worker processes (8 jobs at once) claiming and
 * completing while 4 producers enqueue (one job at a time and in bulk) and read status.
 * Four of each already keep the lock contended on a two-core machine; more only cost time. SQLite has one
 * writer at a time; the store waits for the lock (busy timeout) instead of failing, so
 * no `SQLITE_BUSY` or "database is locked" ever reaches a user, on any process's stderr.
 */

import { expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type CliResult, runCli, waitFor } from "../helpers/cli.ts";
import { config, ForegroundWorker, workerTestContext } from "../worker/helpers.ts";
import { integrityCheck, jobStates, lineCounts } from "./helpers.ts";

setDefaultTimeout(180_000);

const context = workerTestContext();

const WORKERS = 4;
const PRODUCERS = 4;
const SINGLES = 6;
const BULK = 50;

test("4 workers and 4 enqueuers on one file: no lock error reaches anyone, every job runs once", async () => {
  const db = join(context.home.home, "jobs.db");
  const runs = join(context.home.home, "runs.log");
  await config(context.home, "poll-interval", "0.1");
  const job = (id: string) => ({ id, command: `echo "$QUEUECTL_JOB_ID" >> ${runs}` });

  for (let i = 0; i < WORKERS; i++) {
    const worker = new ForegroundWorker(context.home, ["--concurrency", "2"]);
    context.spawned.push(worker);
  }
  await Promise.all(context.spawned.map((worker) => worker.waitForOutput("started (pid")));

  const results: { args: string; result: CliResult }[] = [];
  const cli = async (args: string[]) => {
    results.push({
      args: args.join(" ").slice(0, 80),
      result: await runCli(args, { env: context.home.env }),
    });
  };
  const producer = async (p: number) => {
    for (let i = 0; i < SINGLES; i++) {
      await cli(["enqueue", JSON.stringify(job(`p${p}-single-${i}`))]);
      if (i === SINGLES / 2) {
        const file = join(context.home.home, `bulk-${p}.ndjson`);
        const lines = Array.from({ length: BULK }, (_, j) => JSON.stringify(job(`p${p}-bulk-${j}`)));
        writeFileSync(file, lines.join("\n"));
        await cli(["enqueue", "-f", file]);
      }
      // Readers and small writers the workers also contend with.
      await cli(
        [
          ["status", "--json"],
          ["list", "--state", "pending", "--limit", "5"],
          ["config", "set", "max-retries", "3"],
        ][i % 3] ?? ["status"],
      );
    }
  };
  await Promise.all(Array.from({ length: PRODUCERS }, (_, p) => producer(p)));

  const total = PRODUCERS * (SINGLES + BULK);
  await waitFor(
    () => Object.values(jobStates(db)).filter((state) => state === "completed").length === total,
    {
      timeoutMs: 150_000,
      intervalMs: 250,
      what: `all ${total} jobs to complete`,
    },
  );

  for (const { args, result } of results) {
    expect({ args, exitCode: result.exitCode, stderr: result.stderr }).toEqual({
      args,
      exitCode: 0,
      stderr: "",
    });
  }
  for (const worker of context.spawned) {
    expect(worker.output).not.toMatch(/SQLITE_BUSY|locked|error:/i);
  }
  const counts = lineCounts(runs);
  expect(counts.size).toBe(total);
  expect([...counts.values()].every((n) => n === 1)).toBe(true);
  expect(integrityCheck(db)).toBe("ok");
});
