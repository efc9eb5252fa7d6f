/**
 * Changes made while workers run: `config set` reaches running workers and governs what
 * they do next, a bad value changes nothing, and `dlq retry` (one id, or --all, at the
 * same time) puts each dead job back exactly once while workers are busy.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, waitFor } from "../helpers/cli.ts";
import { config, ForegroundWorker, getJob, ok, workerTestContext } from "../worker/helpers.ts";
import { countJobs, jobStates, lineCounts } from "./helpers.ts";

setDefaultTimeout(120_000);

const context = workerTestContext();

const cli = (...args: string[]) => runCli(args, { env: context.home.env });
function worker(): ForegroundWorker {
  const started = new ForegroundWorker(context.home);
  context.spawned.push(started);
  return started;
}

async function enqueueAll(name: string, specs: Record<string, unknown>[]): Promise<void> {
  const file = join(context.home.home, `${name}.ndjson`);
  writeFileSync(file, specs.map((spec) => JSON.stringify(spec)).join("\n"));
  ok(await cli("enqueue", "-f", file));
}

describe("config set while workers run", () => {
  test("job-timeout and lease govern what running workers do next; a bad value changes nothing", async () => {
    await config(context.home, "poll-interval", "0.2");
    const workers = [worker(), worker()];
    await Promise.all(workers.map((w) => w.waitForOutput("started (pid")));

    ok(await cli("config", "set", "job-timeout", "1s"));
    await Promise.all(workers.map((w) => w.waitForOutput("job-timeout 1s")));
    ok(await cli("enqueue", '{"id":"slow","command":"sleep 30","max_retries":0}'));
    await waitFor(async () => (await getJob(context.home, "slow"))?.state === "dead", {
      timeoutMs: 30_000,
      what: "the job to time out under the new job-timeout",
    });
    expect((await getJob(context.home, "slow"))?.last_error).toContain("timed out after 1s");

    // A refused value leaves the setting as it was, and the workers never hear of it.
    const bad = await cli("config", "set", "lease", "banana");
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(ok(await cli("config", "get", "lease")).trim()).toBe("30");

    ok(await cli("config", "set", "job-timeout", "1h"));
    ok(await cli("config", "set", "lease", "2s"));
    await Promise.all(
      workers.map((w) =>
        w.waitForOutput("lease 2s, max-retries 3, backoff-base 2, backoff-max 3600s, job-timeout 3600s"),
      ),
    );
    ok(await cli("enqueue", '{"id":"long","command":"sleep 60","max_retries":1}'));
    const holder = await waitFor(
      async () => {
        const job = await getJob(context.home, "long");
        return job?.state === "processing" ? job.worker_id : null;
      },
      { timeoutMs: 20_000, what: "the long job to start" },
    );
    const victim = workers.find((w) => holder.includes(`-${w.pid}-`));
    expect(victim).toBeDefined();
    victim?.process.kill("SIGKILL");
    // The lease it was renewing is the new 2 s one, so the survivor rescues the job well
    // before the 30 s it was claimed under.
    // A deadline, not a wait: the rescue takes the lease and two checks, which load stretches.
    await waitFor(async () => ((await getJob(context.home, "long"))?.attempts ?? 0) >= 2, {
      timeoutMs: 45_000,
      what: "the survivor to rescue and rerun the job",
    });
    expect(ok(await cli("show", "long"))).toContain("lease expired");
  });
});

describe("dlq retry while workers run", () => {
  test("one id and --all at once: each dead job runs again exactly once, next to busy workers", async () => {
    await config(context.home, "poll-interval", "0.2");
    const runs = join(context.home.home, "runs.log");
    const flag = join(context.home.home, "fixed");
    const failing = Array.from({ length: 20 }, (_, i) => ({
      id: `fix-${i}`,
      command: `echo "$QUEUECTL_JOB_ID" >> ${runs}; test -f ${flag}`,
      max_retries: 0,
    }));
    await enqueueAll("failing", failing);
    for (let i = 0; i < 3; i++) worker();
    await waitFor(() => countJobs(join(context.home.home, "jobs.db"), "state = 'dead'") === 20, {
      timeoutMs: 60_000,
      what: "every failing job to reach the DLQ",
    });

    // Keep the workers busy with other work while the DLQ is retried.
    await enqueueAll(
      "busy",
      Array.from({ length: 30 }, (_, i) => ({ id: `busy-${i}`, command: "sleep 0.1" })),
    );
    writeFileSync(flag, "");
    const [all, one, other] = await Promise.all([
      cli("dlq", "retry", "--all"),
      cli("dlq", "retry", "fix-3"),
      cli("dlq", "retry", "fix-7"),
    ]);
    expect(all.exitCode).toBe(0);
    for (const single of [one, other]) {
      // Whichever came second finds the job already out of the DLQ: a user error, no effect.
      expect([0, 2]).toContain(single.exitCode);
      if (single.exitCode === 2) expect(single.stderr).toMatch(/not dead|left the DLQ/);
    }
    await waitFor(
      () => {
        const states = jobStates(join(context.home.home, "jobs.db"));
        return Object.values(states).every((state) => state === "completed");
      },
      { timeoutMs: 60_000, what: "every job to complete" },
    );
    const counts = lineCounts(runs);
    for (const job of failing) expect(counts.get(job.id)).toBe(2);
    // A job that is not dead is refused, and left as it is.
    const refused = await cli("dlq", "retry", "busy-0");
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain("is completed, not dead");
  });
});
