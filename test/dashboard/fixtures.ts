/**
 * Queue states written through the real store API with a controlled clock, so dashboard
 * tests can assert exact counts, durations and waits. `runJob` plays a worker: it claims,
 * then completes or fails, exactly the calls a worker makes, at the times the test picks.
 */

import { join } from "node:path";
import { firstRunAt, normalizeSpec, specRevision } from "../../src/core/spec.ts";
import { SqliteStore } from "../../src/store/sqlite/backend.ts";
import type { NewJob, RunResult, Store } from "../../src/store/store.ts";

export function openTestStore(home: string): SqliteStore {
  return new SqliteStore(join(home, "jobs.db"));
}

export function newJob(input: Record<string, unknown>, now: number, source: string | null = null): NewJob {
  const spec = normalizeSpec(input);
  return {
    spec,
    revision: specRevision(spec),
    maxRetries: spec.max_retries ?? 3,
    nextRunAt: firstRunAt(spec, now),
    source,
  };
}

export async function enqueue(
  store: Store,
  input: Record<string, unknown>,
  now: number,
  source: string | null = null,
): Promise<void> {
  await store.jobInsertMany({ jobs: [newJob(input, now, source)], now });
}

function result(exitCode: number | null, output: string | null, error: string | null = null): RunResult {
  return {
    exitCode,
    signal: null,
    error,
    stdoutBytes: output?.length ?? 0,
    stderrBytes: 0,
    logPath: null,
    outputTail: output,
  };
}

export interface RunOptions {
  start: number;
  end: number;
  exitCode: number;
  output?: string;
  host?: string;
  workerId?: string;
}

/**
 * Claims the next runnable job as of `start`, which must be `id` (tests seed one runnable
 * job at a time), then records its end: exit 0 completes, anything else fails it to
 * `failed` or, with no retry left, to `dead`.
 */
export async function runJob(store: Store, id: string, run: RunOptions): Promise<void> {
  const claimed = await store.jobClaim({
    workerId: run.workerId ?? "test-worker",
    host: run.host ?? "test-host",
    now: run.start,
    leaseMs: 60_000,
  });
  if (claimed?.id !== id) throw new Error(`expected to claim ${id}, claimed ${claimed?.id ?? "nothing"}`);
  const outcome = result(run.exitCode, run.output ?? null);
  if (run.exitCode === 0) {
    await store.jobComplete({ id, token: claimed.token, now: run.end, result: outcome });
    return;
  }
  const last = claimed.attempts > claimed.max_retries;
  await store.jobFail({
    id,
    token: claimed.token,
    now: run.end,
    state: last ? "dead" : "failed",
    nextRunAt: run.end,
    result: outcome,
  });
}

/**
 * A queue that looks lived-in: an hour of runs with some failures, workers on two hosts,
 * jobs from two jobfiles, and one dead job. Returns the dead job's id.
 */
export async function seedShowcase(store: SqliteStore, now: number): Promise<string> {
  const commands = [
    "./scripts/resize-images.sh",
    "pg_dump app > /backups/app.sql",
    "curl -fsS https://example.com/hook",
    "make report",
  ];
  let n = 0;
  for (let minute = 58; minute >= 1; minute--) {
    const perMinute = 1 + ((minute * 7) % 5);
    for (let k = 0; k < perMinute; k++) {
      const id = `task-${String(++n).padStart(4, "0")}`;
      const start = now - minute * 60_000 + k * 5000;
      const fails = (minute * 3 + k) % 11 === 0;
      await enqueue(
        store,
        {
          id,
          command: commands[n % commands.length],
          tags: [n % 3 === 0 ? "images" : "reports"],
          max_retries: fails ? 0 : 3,
        },
        start - 800 - ((n * 37) % 2000),
      );
      await runJob(store, id, {
        start,
        end: start + 300 + ((n * 131) % 4000),
        exitCode: fails ? 1 : 0,
        output: fails ? "error: upstream returned 502\n" : "ok\n",
        host: n % 2 ? "build-1" : "build-2",
      });
    }
  }
  // Its recorded run failed; the command itself succeeds, so a retry on a real worker completes.
  await enqueue(
    store,
    { id: "deploy-docs", command: "echo deploying docs", max_retries: 0, tags: ["deploy"] },
    now - 20_000,
  );
  await runJob(store, "deploy-docs", {
    start: now - 15_000,
    end: now - 12_000,
    exitCode: 2,
    output: "building docs… done\nrsync: connection to docs.example.com refused\n",
  });
  for (const [i, id] of ["nightly/backup", "nightly/vacuum", "hourly/sync-crm"].entries()) {
    await enqueue(
      store,
      { id, command: `./jobs/${id}.sh`, tags: ["scheduled"] },
      now - 30_000 - i,
      i < 2 ? "jobs/nightly.yaml" : "jobs/hourly.yaml",
    );
  }
  for (let i = 0; i < 6; i++)
    await enqueue(
      store,
      { id: `thumbnail-${i + 1}`, command: "./scripts/thumb.sh", tags: ["images"] },
      now - 5000 + i,
    );
  // A limited queue with nothing queued yet, and a schedule, for the panels.
  await store.queueSet({ name: "emails", concurrency: 2 });
  const nightly = normalizeSpec({ id: "nightly/report", command: "make report", schedule: "0 3 * * *" });
  await store.scheduleUpsert({
    id: "nightly/report",
    spec: nightly,
    revision: specRevision(nightly),
    source: "jobs/nightly.yaml",
    nextAt: Math.ceil(now / 86_400_000) * 86_400_000 + 3 * 3_600_000,
    now,
  });
  for (const [id, host] of [
    ["w-build-1-a", "build-1"],
    ["w-build-1-b", "build-1"],
    ["w-build-2-a", "build-2"],
  ] as const) {
    await store.workerRegister({
      id,
      host,
      pid: 4100 + id.length * 13 + (host === "build-2" ? 501 : 0) + (id.endsWith("b") ? 2 : 0),
      now: now - 3_600_000,
      queues: null,
    });
    await store.workerHeartbeat({ id, now: now - 1500 });
  }
  return "deploy-docs";
}
