/**
 * Resource limits with real processes and in-process workers on every backend: a memory
 * hog ends with the limit as its reason and follows its retry policy, a fork storm is held
 * to its process limit, and a job that escapes its process group with setsid still dies
 * with its attempt. Which mechanism applies is this machine's (see resource-limits.ts);
 * the rlimit fallback is also run directly.
 */

import { afterAll, afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { attemptLines } from "../../src/render.ts";
import { Reaper } from "../../src/worker/reaper.ts";
import { enforceLimits, limitMechanism } from "../../src/worker/resource-limits.ts";
import { runJob } from "../../src/worker/run.ts";
import { CLI_PATH, runCli, tempHome, waitFor } from "../helpers/cli.ts";
import { backends, Harness } from "./in-process.ts";

setDefaultTimeout(120_000);

const mechanism = limitMechanism().kind;
const cgroup = mechanism !== "rlimit";
// RLIMIT_NPROC is never enforced for root, so only a pids cgroup holds a fork storm there.
const processesHeld = cgroup || process.getuid?.() !== 0;
console.log(`resource limits on this machine: ${mechanism}`);

/** Allocates and touches 400 MB, far over the 64 MB the tests allow. */
const MEMORY_HOG = ["python3", "-c", "x = bytearray(400 * 1024 * 1024); print('allocated')"];

/** Pids of live processes whose command line contains `marker`. */
function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Each argument ends in a NUL, so a marker ends in a space: 3001.12 never matches 3001.123.
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ").includes(`${marker} `))
        found.push(Number(entry));
    } catch {
      // Exited meanwhile.
    }
  }
  return found;
}

let markers = 0;
/**
 * A `sleep` duration of `base` seconds and a little more that names one test's processes: the
 * pid tells concurrent runs apart, the counter this file's tests and backends.
 */
function sleepMarker(base: number): string {
  markers += 1;
  return `${base + markers}.${process.pid}`;
}

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.cleanup();
  harness = undefined;
});

for (const backend of backends) {
  describe(`resource limits (${backend.name})`, () => {
    test("a memory hog is stopped at its limit, named as the reason, and retried by its policy", async () => {
      harness = new Harness(await backend.create());
      const store = await harness.open();
      await store.configSet({ key: "poll-interval", value: "0.1" });
      await store.configSet({ key: "backoff-base", value: "1" });
      // Queue and config defaults fill what the job leaves out.
      await store.configSet({ key: "limits", value: '{"cpu_time":"1m","memory":"1G"}' });
      await store.queueLimitsSet({ name: "batch", limits: { processes: 50 } });
      await harness.enqueue(store, [
        { id: "hog", command: MEMORY_HOG, queue: "batch", max_retries: 1, limits: { memory: "64M" } },
      ]);
      harness.start(store, { queues: ["batch"] });
      expect(await harness.settled(store, "hog")).toBe("dead");
      const attempts = await store.attemptList({ jobId: "hog" });
      expect(attempts).toHaveLength(2);
      for (const attempt of attempts) {
        expect(attempt.limits).toBe(`memory 64 MB, cpu 1m, processes 50 (${mechanism})`);
        if (cgroup) expect(attempt.error).toBe("killed: memory limit 64 MB");
        else expect(attempt.error).toContain("MemoryError");
      }
      expect(attemptLines(attempts)).toContain(`limits: memory 64 MB, cpu 1m, processes 50 (${mechanism})`);
    });

    test.skipIf(!cgroup)(
      "a pipeline stage killed at the memory limit fails the attempt, though the job exits 0",
      async () => {
        harness = new Harness(await backend.create());
        const store = await harness.open();
        const command = "head -c 200M /dev/zero | tail > /dev/null; echo survived";
        await harness.enqueue(store, [{ id: "stage", command, limits: { memory: "64M" }, max_retries: 0 }]);
        harness.start(store);
        expect(await harness.settled(store, "stage")).toBe("dead");
        const [attempt] = await store.attemptList({ jobId: "stage" });
        expect(attempt?.exit_code).toBe(0);
        expect(attempt?.error).toBe(
          "killed: memory limit 64 MB (a process of the job; the job then exited 0)",
        );
      },
    );

    test("a job without limits runs as before, with no note", async () => {
      harness = new Harness(await backend.create());
      const store = await harness.open();
      await harness.enqueue(store, [{ id: "plain", command: ["true"] }]);
      harness.start(store);
      expect(await harness.settled(store, "plain")).toBe("completed");
      expect((await store.attemptList({ jobId: "plain" }))[0]?.limits).toBeUndefined();
    });

    test.if(processesHeld)(
      "a fork storm is held to its process limit and leaves nothing behind",
      async () => {
        harness = new Harness(await backend.create());
        const store = await harness.open();
        await store.configSet({ key: "poll-interval", value: "0.1" });
        const marker = sleepMarker(3000);
        // 200 background sleeps; each one counts the children alive when it started.
        const storm = `i=0; while [ $i -lt 200 ]; do sleep ${marker} & i=$((i+1)); done; wait`;
        await harness.enqueue(store, [
          { id: "storm", command: storm, max_retries: 0, limits: { processes: 20 } },
        ]);
        harness.start(store);
        // The shell fails to fork past the limit and exits; peak is checked while it runs.
        let peak = 0;
        await waitFor(
          async () => {
            peak = Math.max(peak, processesWith(`sleep ${marker}`).length);
            const state = (await store.jobGet({ id: "storm" }))?.state;
            return state === "dead" || state === "completed" ? state : null;
          },
          { timeoutMs: 60_000, what: "the fork storm to end" },
        );
        expect(peak).toBeLessThanOrEqual(20);
        expect((await store.attemptList({ jobId: "storm" }))[0]?.error).toMatch(/fork|resource/i);
        // A SIGKILL is delivered on the kernel's time: a dying process may be listed a moment.
        await waitFor(() => processesWith(`sleep ${marker}`).length === 0, {
          timeoutMs: 10_000,
          what: "the job's processes to be gone",
        });
      },
    );

    test.if(cgroup)("a child that left the job's session with setsid dies with the attempt", async () => {
      harness = new Harness(await backend.create());
      const store = await harness.open();
      const marker = sleepMarker(4000);
      const written = `${harness.queue.home.home}/escaped`;
      await harness.enqueue(store, [
        {
          id: "escape",
          // It ends only once its child leads a session of its own, out of the group's reach.
          command: `setsid sh -c 'echo $$ > ${written}; exec sleep ${marker}' > /dev/null 2>&1 & while [ ! -s ${written} ]; do sleep 0.05; done`,
          limits: { processes: 10 },
        },
      ]);
      harness.start(store);
      expect(await harness.settled(store, "escape")).toBe("completed");
      expect(readFileSync(written, "utf8").trim()).toMatch(/^\d+$/);
      await waitFor(() => processesWith(`sleep ${marker}`).length === 0, {
        timeoutMs: 10_000,
        what: "the escaped child to be gone",
      });
    });
  });
}

describe("the rlimit fallback", () => {
  const reaper = new Reaper();
  const home = tempHome();
  afterAll(() => {
    reaper.close();
    home.cleanup();
  });
  const rlimit = { kind: "rlimit" as const, parents: [] };

  test("memory over RLIMIT_DATA fails the allocation; CPU time over RLIMIT_CPU is named", async () => {
    const run = (command: string | string[], limits: { memory?: number; cpu_time?: number }) =>
      runJob({
        jobId: "r",
        spec: { id: "r", command },
        attempt: 1,
        token: 1,
        home: home.home,
        timeoutMs: 60_000,
        baseEnv: process.env,
        reaper,
        limits,
      }).done;
    expect(enforceLimits({ memory: 64 * 1024 ** 2 }, ["true"], rlimit).argv).toEqual([
      "/usr/bin/prlimit",
      `--data=${64 * 1024 ** 2}`,
      "--",
      "true",
    ]);
    // runJob uses this machine's mechanism; the fallback's argv is run here as it would be.
    const hog = enforceLimits({ memory: 64 * 1024 ** 2 }, MEMORY_HOG, rlimit);
    const proc = Bun.spawnSync(hog.argv, { stderr: "pipe" });
    expect(proc.exitCode).toBe(1);
    expect(proc.stderr.toString()).toContain("MemoryError");
    const spin = await run(["sh", "-c", "while :; do :; done"], { cpu_time: 1 });
    expect(spin.error).toBe("killed: cpu time limit 1s");
    // A string command: the shell survives the program it ran, and exits 128 + SIGXCPU.
    const shell = await run("sh -c 'while :; do :; done' || exit $?", { cpu_time: 1 });
    expect([shell.exitCode, shell.error]).toEqual([152, "killed: cpu time limit 1s"]);
  });
});

// A process of its own: the mechanism, and the sweep with it, is found once per process.
test.skipIf(!cgroup)(
  "a worker removes the empty cgroups a killed worker left, and no one else's",
  async () => {
    const gone = Bun.spawn(["true"]);
    await gone.exited;
    const parents = limitMechanism().parents;
    const orphans = parents.map((parent) => join(parent, `queuectl-${gone.pid}-7`));
    // This test process is alive: a cgroup named after it belongs to a running worker.
    const living = parents.map((parent) => join(parent, `queuectl-${process.pid}-99999`));
    for (const folder of [...orphans, ...living]) mkdirSync(folder);
    const home = tempHome();
    try {
      const enqueued = await runCli(["enqueue", '{"id":"l","command":"true","limits":{"memory":"64MB"}}'], {
        env: home.env,
      });
      expect(enqueued.exitCode).toBe(0);
      const worker = Bun.spawn(["bun", CLI_PATH, "worker", "run", "--drain"], {
        env: home.env,
        stdout: "ignore",
        stderr: "pipe",
      });
      expect(await worker.exited).toBe(0);
      expect(orphans.filter((folder) => existsSync(folder))).toEqual([]);
      expect(living.filter((folder) => existsSync(folder))).toEqual(living);
    } finally {
      for (const folder of [...orphans, ...living]) if (existsSync(folder)) rmdirSync(folder);
      home.cleanup();
    }
  },
);
