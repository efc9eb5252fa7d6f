/**
 * Start-latency probes shared by rows 6 and 7: a job that prints its own start time, and
 * the baseline of spawning that same command directly. Times are wall-clock milliseconds
 * (CLOCK_REALTIME) so that the bench process and the job's process can be compared.
 */

import { resolveConfig } from "../src/core/config.ts";
import { prepareJobs } from "../src/core/job-input.ts";
import { enqueuePrepared } from "../src/flow/enqueue.ts";
import type { Store } from "../src/store/store.ts";
import { type Background, until } from "./harness.ts";

/** Executed directly (an array, no shell): it prints the moment the job's process runs. */
export const PROBE_COMMAND = ["date", "+%s%N"];

/** The wall clock's step since the process started (NTP, a paused VM), as last seen. */
let stepMs = 0;

/**
 * The wall clock with sub-millisecond precision, as the jobs' `date +%s%N` reads it. The
 * precise clock counts from the process start, so a step of the wall clock since then is
 * added back; one run of rows 6 and 7 showed 345 ms too much on every sample, baselines too.
 */
export function wallMs(): number {
  const precise = performance.timeOrigin + performance.now() + stepMs;
  const wall = Date.now();
  if (Math.abs(wall - precise) > 2) stepMs += wall - precise;
  return performance.timeOrigin + performance.now() + stepMs;
}

function parseNs(text: string | null | undefined): number | null {
  const match = /(\d{16,})/.exec(text ?? "");
  return match ? Number(BigInt(match[1] as string) / 1000n) / 1000 : null;
}

/** Baseline: ms from just before Bun.spawn until the same command reports it runs. */
export async function spawnLatencyMs(): Promise<number> {
  const started = wallMs();
  const child = Bun.spawn(PROBE_COMMAND, { stdin: "ignore", stdout: "pipe", stderr: "ignore" });
  const at = parseNs(await new Response(child.stdout).text());
  await child.exited;
  if (at === null) throw new Error("date +%s%N printed no time");
  return at - started;
}

/** Enqueues one probe job the way `queuectl enqueue` does (same validation, same flow). */
export async function enqueueProbe(store: Store, id: string): Promise<void> {
  const now = Date.now();
  const config = resolveConfig(await store.configGetAll());
  const prepared = prepareJobs(
    [{ value: { id, command: PROBE_COMMAND }, where: "bench" }],
    "bench",
    config,
    now,
  );
  await enqueuePrepared(store, prepared, now);
}

/** Waits for the probe job `id` to finish and returns the wall time its process started at. */
export async function probeStartedAt(store: Store, id: string, workers: Background[]): Promise<number> {
  let at = Number.NaN;
  await until(
    async () => {
      for (const worker of workers) {
        if (worker.child.exitCode !== null) throw new Error(`a worker exited: ${worker.stderr().trim()}`);
      }
      const [attempt] = await store.attemptList({ jobId: id });
      if (!attempt || attempt.finished_at === null) return false;
      const printed = parseNs(attempt.output_tail);
      if (printed === null)
        throw new Error(`job ${id} printed no time: ${attempt.error ?? attempt.output_tail}`);
      at = printed;
      return true;
    },
    30_000,
    `job ${id} to run`,
    5,
  );
  return at;
}
