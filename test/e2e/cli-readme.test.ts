/**
 * The original QueueCTL README (../shared/reference/original-queuectl-README.md): every
 * command line it shows that needs no running worker works as shown, in the same order a
 * reader would type them.
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { openStore } from "../../src/store/open.ts";
import { type CliResult, runCli, runCliJson, type TempHome, tempHome } from "../helpers/cli.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let home: TempHome;
beforeEach(() => {
  home = tempHome();
});
afterEach(() => home.cleanup());

/** `queuectl a b c` as the README writes it, run in the home folder (where job.json sits). */
const queuectl = (...args: string[]) => runCli(args, { env: home.env, cwd: home.home });

function works(result: CliResult): string {
  if (result.exitCode !== 0) throw new Error(`exit ${result.exitCode}: ${result.stderr}`);
  expect(result.stderr).toBe("");
  return result.stdout;
}

const ids = async (...args: string[]) =>
  (await runCliJson<{ id: string }[]>(args, { env: home.env })).map((job) => job.id);

/** Sends the next job to the DLQ the way a worker would after its last failed run. */
async function killNext(id: string): Promise<void> {
  const store = await openStore({ url: join(home.home, "jobs.db") });
  try {
    const now = Date.now();
    const job = await store.jobClaim({ workerId: "w", host: "h", now, leaseMs: 60_000 });
    expect(job?.id).toBe(id);
    await store.jobFail({
      id,
      token: job?.token ?? 0,
      now,
      state: "dead",
      nextRunAt: now,
      result: {
        exitCode: 127,
        signal: null,
        error: "exited with code 127",
        stdoutBytes: 0,
        stderrBytes: 0,
        logPath: null,
        outputTail: null,
      },
    });
  } finally {
    await store.close();
  }
}

describe("the original README", () => {
  test("Installation: queuectl --version", async () => {
    expect(works(await queuectl("--version"))).toBe("queuectl, version 1.0.0\n");
  });

  test("Quick start and Usage Guide: enqueue forms, list, status", async () => {
    works(await queuectl("enqueue", '{"id":"job1","command":"echo Hello World"}'));
    writeFileSync(join(home.home, "job.json"), '{"id":"job2","command":"echo Hello World"}');
    works(await queuectl("enqueue", "--file", "job.json"));
    writeFileSync(join(home.home, "job.json"), '{"id":"job3","command":"echo Hello World"}');
    works(await queuectl("enqueue", "-f", "job.json"));
    const job = '{"id":"job4","command":"echo Hello World"}';
    works(await queuectl("enqueue", job));
    expect(await ids("list")).toEqual(["job1", "job2", "job3", "job4"]);

    const status = works(await queuectl("status"));
    expect(status).toContain("=== QueueCTL Status ===");
    expect(status).toContain("Job States:");
    expect(status).toContain("  pending         4");
    expect(status).toContain("  total           4");
    expect(status).toContain("Configuration:");
    const table = works(await queuectl("list")).split("\n");
    expect(table[0]).toMatch(/^ID +STATE +ATTEMPTS +QUEUE +TIME +COMMAND$/);
    expect(table.slice(1, 5).map((line) => line.split(/ {2,}/)[0])).toEqual(["job4", "job3", "job2", "job1"]);
    expect(table[4]).toMatch(/^job1 +pending +0\/4 +default +.+ +echo Hello World$/);
    expect(table[5]).toBe("4 jobs");
    for (const state of ["pending", "processing", "completed", "failed", "dead"]) {
      works(await queuectl("list", "--state", state));
    }
    expect(works(await queuectl("list", "--state", "completed"))).toBe("No jobs found.\n");
  });

  test("Job JSON examples, the schema's optional state, and the shell loop", async () => {
    const examples = [
      '{"id":"echo-job","command":"echo Hello from QueueCTL"}',
      '{"id":"sleep-job","command":"sleep 5 && echo Done"}',
      '{"id":"multi-cmd","command":"echo Step1 && echo Step2 && echo Step3"}',
      '{"id":"retry-job","command":"some-command","max_retries":5}',
      '{"id":"win-job","command":"timeout /t 2 /nobreak && echo Finished"}',
      '{"id":"unique-job-id","command":"shell command","max_retries":3,"state":"pending"}',
      '{"id":"backup","command":"tar -czf backup.tar.gz /data"}',
      '{"id":"report","command":"python generate_report.py"}',
      '{"id":"api-call","command":"curl https://api.example.com/data","max_retries":5}',
      '{"id":"hourly-job","command":"python hourly_task.py"}',
      '{"id":"fail-test","command":"nonexistent-command","max_retries":2}',
    ];
    for (const example of examples) works(await queuectl("enqueue", example));
    for (let i = 1; i <= 3; i++) works(await queuectl("enqueue", `{"id":"job-${i}","command":"echo ${i}"}`));
    for (const i of [1, 2]) {
      works(await queuectl("enqueue", `{"id":"job${i}","command":"echo Job ${i} && sleep 1"}`));
      works(await queuectl("enqueue", `{"id":"perf-job-${i}","command":"echo ${i}"}`));
    }
    const jobs = await runCliJson<{ id: string; max_retries: number }[]>(["list"], { env: home.env });
    expect(jobs).toHaveLength(examples.length + 3 + 4);
    expect(jobs.find((job) => job.id === "retry-job")?.max_retries).toBe(5);
    expect(jobs.find((job) => job.id === "fail-test")?.max_retries).toBe(2);
  });

  test("Dead Letter Queue: dlq list, dlq retry <id>, then list --state pending", async () => {
    works(
      await queuectl("enqueue", '{"id":"failed-job-123","command":"nonexistent-command","max_retries":0}'),
    );
    await killNext("failed-job-123");
    expect(works(await queuectl("dlq", "list"))).toContain("ID: failed-job-123");
    works(await queuectl("dlq", "retry", "failed-job-123"));
    expect(await ids("list", "--state", "pending")).toEqual(["failed-job-123"]);
    expect(works(await queuectl("list", "--state", "pending"))).toMatch(/^failed-job-123 +pending +0\/1 /m);
  });

  test("Configuration: config get, get <key>, set", async () => {
    const all = works(await queuectl("config", "get"));
    for (const key of ["max-retries", "backoff-base", "poll-interval"]) expect(all).toContain(key);
    expect(works(await queuectl("config", "get", "max-retries"))).toBe("3\n");
    expect(works(await queuectl("config", "get", "backoff-base"))).toBe("2\n");
    expect(works(await queuectl("config", "get", "poll-interval"))).toBe("1\n");
    works(await queuectl("config", "set", "max-retries", "5"));
    works(await queuectl("config", "set", "backoff-base", "3"));
    works(await queuectl("config", "set", "poll-interval", "2"));
    works(await queuectl("config", "set", "backoff-base", "2"));
    works(await queuectl("config", "set", "poll-interval", "1"));
    expect(works(await queuectl("config", "get", "max-retries"))).toBe("5\n");
    expect(works(await queuectl("config", "get", "backoff-base"))).toBe("2\n");
    expect(works(await queuectl("config", "get", "poll-interval"))).toBe("1\n");
    expect(works(await queuectl("status"))).toContain("  max-retries: 5");
  });

  test.each([
    "--help",
    "enqueue --help",
    "worker --help",
    "dlq --help",
    "config --help",
    "worker start --help",
    "config set --help",
  ])("Help: queuectl %s", async (line) => {
    const out = works(await queuectl(...line.split(" ")));
    expect(out).toContain("Usage");
  });
});
