/**
 * Flow features with real worker processes: a queue limit holds across several workers,
 * pause holds jobs back, schedules fire from workers, and a pipeline runs in order.
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, type TempHome, tempHome, waitFor } from "../helpers/cli.ts";
import { ForegroundWorker, jobState, killWorkers, lines, ok, withStore } from "../worker/helpers.ts";

setDefaultTimeout(120_000);

let home: TempHome;
let workers: ForegroundWorker[];
beforeEach(() => {
  home = tempHome();
  workers = [];
});
afterEach(async () => {
  await killWorkers(
    home,
    workers.map((worker) => worker.pid),
  );
  home.cleanup();
});

const cli = (...args: string[]) => runCli(args, { env: home.env });
const startWorkers = (count: number, args: string[] = []) => {
  for (let i = 0; i < count; i++) workers.push(new ForegroundWorker(home, args));
};

describe("flow with real workers", () => {
  test("a queue concurrency limit holds across three worker processes", async () => {
    const dir = home.home;
    // Each job takes a lock directory; finding it taken means two ran at once.
    const command = `if mkdir ${dir}/running 2>/dev/null; then sleep 0.3; rmdir ${dir}/running; else echo overlap >> ${dir}/overlaps; fi`;
    const jobs = Array.from({ length: 6 }, (_, i) =>
      JSON.stringify({ id: `limited-${i}`, command, queue: "one-at-a-time" }),
    );
    writeFileSync(join(dir, "jobs.ndjson"), jobs.join("\n"));
    ok(await cli("queue", "set", "one-at-a-time", "--concurrency", "1"));
    ok(await cli("enqueue", "-f", join(dir, "jobs.ndjson")));
    startWorkers(3, ["--concurrency", "2"]);
    await waitFor(async () => (await withStore(home, (s) => s.jobCounts())).completed === 6, {
      timeoutMs: 60_000,
      what: "all six limited jobs to complete",
    });
    expect(existsSync(join(dir, "overlaps"))).toBe(false);
  });

  test("a paused queue holds its jobs while others run; resume releases them", async () => {
    // The job first: pause refuses a queue nothing knows yet (a typo must not make one).
    ok(await cli("enqueue", '{"id":"held","command":"true","queue":"batch"}'));
    ok(await cli("queue", "pause", "batch"));
    startWorkers(1);
    ok(await cli("enqueue", '{"id":"sentinel","command":"true"}'));
    await waitFor(async () => (await jobState(home, "sentinel")) === "completed", {
      what: "sentinel to complete",
    });
    expect(await jobState(home, "held")).toBe("pending");
    ok(await cli("queue", "resume", "batch"));
    await waitFor(async () => (await jobState(home, "held")) === "completed", { what: "held to complete" });
  });

  test("a schedule fires from a running worker, each occurrence once", async () => {
    const log = join(home.home, "ticks.log");
    // Six fields: every second, so the test does not wait a minute.
    ok(
      await cli(
        "enqueue",
        JSON.stringify({
          id: "every-second",
          command: `echo "$QUEUECTL_JOB_ID" >> ${log}`,
          schedule: "* * * * * *",
          overlap: "allow",
        }),
      ),
    );
    startWorkers(2);
    await waitFor(() => existsSync(log) && lines(log).length >= 3, {
      timeoutMs: 30_000,
      what: "three occurrences",
    });
    const ran = lines(log);
    expect(new Set(ran).size).toBe(ran.length);
    expect(ran.every((id) => id.startsWith("every-second@"))).toBe(true);
  });

  test("a pipeline runs build → test → deploy in order", async () => {
    const log = join(home.home, "pipeline.log");
    const step = (id: string, after?: string) => ({
      id,
      command: `echo ${id} >> ${log}`,
      ...(after ? { after: [after] } : {}),
    });
    ok(
      await cli(
        "enqueue",
        JSON.stringify({ jobs: [step("deploy", "test"), step("test", "build"), step("build")] }),
      ),
    );
    startWorkers(2, ["--concurrency", "2"]);
    await waitFor(async () => (await jobState(home, "deploy")) === "completed", {
      what: "the pipeline to finish",
    });
    expect(lines(log)).toEqual(["build", "test", "deploy"]);
  });
});
