import type { CAC } from "cac";
import { heartbeatIntervalMs, resolveConfig } from "../core/config.ts";
import { formatDurationMs } from "../core/duration.ts";
import { UserError } from "../core/errors.ts";
import type { Job } from "../core/job.ts";
import { type KillEnd, type KillRefusal, killEnd, killRefusal } from "../flow/moves.ts";
import { colors, firstNamed, iso, printJson, safeText } from "../render.ts";
import type { Store } from "../store/store.ts";
import { type KillOutcome, killJobs, waitForKilled } from "../worker/kill.ts";
import { KILL_GRACE_MS } from "../worker/run.ts";
import { type GlobalOptions, unknownIdsHint, withExistingStore } from "./context.ts";

interface KillCliOptions extends GlobalOptions {
  retry?: boolean;
}

/** Beyond the worker's heartbeat and the kill grace: time to record the end. */
const RECORD_SLACK_MS = 5_000;

/**
 * The ids are all checked first: an unknown or finished one, or with --retry one that is not
 * running, changes nothing at all.
 */
async function refuseBadIds(
  store: Store,
  ids: string[],
  jobs: (Job | null)[],
  retry: boolean,
): Promise<void> {
  const unknown = ids.filter((_, index) => jobs[index] === null);
  if (unknown.length > 0) {
    throw new UserError(
      `no job with id ${firstNamed(unknown.map((id) => `"${safeText(id)}"`))}; nothing was killed`,
      await unknownIdsHint(store, unknown),
    );
  }
  const refused = (why: KillRefusal) =>
    jobs.filter((job): job is Job => job !== null && killRefusal(job.state, retry) === why);
  const listed = (refusedJobs: Job[]) =>
    firstNamed(refusedJobs.map((job) => `"${safeText(job.id)}" is ${job.state}`));
  const ended = refused("finished");
  if (ended.length > 0) {
    throw new UserError(
      `job ${listed(ended)}: only pending, failed or running jobs can be killed; nothing was killed`,
      "see `queuectl rerun <id>` to run a finished job again",
    );
  }
  const waiting = refused("not-running");
  if (waiting.length > 0) {
    throw new UserError(
      `job ${listed(waiting)}, not running: --retry only stops a running attempt; nothing was killed`,
      "leave it to wait for its next attempt, or drop --retry to cancel it",
    );
  }
}

interface ReportRow {
  id: string;
  /** For a job still running when the wait ended: how long its worker has been silent, on the store's clock. */
  silentMs?: number;
  /**
   * `killed`: the kill ended its attempt; `requested`: it still ran when the wait ended;
   * `not-running`: it had ended before the kill, or ended on its own before the signal landed.
   */
  result: "canceled" | "killed" | "requested" | "orphaned" | "not-running";
  /** For a run that ended on its own after the kill was asked for: how it ended. */
  endedFirst?: Exclude<KillEnd, "killed">;
  state: Job["state"] | null;
  job: Job | null;
  workerId: string | null;
}

async function reportRow(
  store: Store,
  outcome: KillOutcome,
  ended: Map<string, Job | null>,
): Promise<ReportRow> {
  const row = { id: outcome.id, job: null, workerId: null };
  if (outcome.kind === "canceled") return { ...row, result: "canceled", state: "canceled" };
  if (outcome.kind === "not-running") return { ...row, result: "not-running", state: outcome.state };
  if (outcome.orphaned)
    return { ...row, result: "orphaned", state: "processing", workerId: outcome.workerId };
  const job = ended.get(outcome.id) ?? null;
  const running = job?.state === "processing" && job.token === outcome.token;
  const end = running ? null : await killEnd(store, outcome.id, outcome.token);
  return {
    id: outcome.id,
    result: running ? "requested" : end === "killed" ? "killed" : "not-running",
    ...(end !== null && end !== "killed" ? { endedFirst: end } : {}),
    state: job?.state ?? null,
    job,
    workerId: outcome.workerId,
  };
}

function describeRow(row: ReportRow, retry: boolean): string {
  const id = safeText(row.id);
  // What a rescue makes of the attempt: --retry counts it failed, and the retry rules apply.
  const rescued = retry
    ? "its attempt counts as failed when it is rescued"
    : "the job ends canceled when it is rescued";
  switch (row.result) {
    case "canceled":
      return `${colors.green("✓")} Job ${id} canceled (it was not running)`;
    case "not-running":
      if (row.endedFirst === "completed") {
        const after = row.state === "completed" ? "" : `; ${describeEnd(row.job)}`;
        return `Job ${id} was not killed: it completed before the signal arrived${after}`;
      }
      if (row.endedFirst === "ended")
        return `Job ${id} was not killed: it ended on its own before the signal arrived (${describeEnd(row.job)})`;
      return `Job ${id} was no longer running (${row.state ?? "gone"}); nothing to kill`;
    case "orphaned":
      return `Job ${id}: kill requested, but its worker ${safeText(row.workerId ?? "?")} is gone; ${rescued}, once its lease runs out`;
    case "requested":
      if (row.silentMs !== undefined) {
        return `Job ${id}: kill requested, but its worker ${safeText(row.workerId ?? "?")} has sent no heartbeat for ${formatDurationMs(row.silentMs)} (it may have died); ${rescued}, once its lease runs out`;
      }
      return `Job ${id}: kill requested; its worker ${safeText(row.workerId ?? "?")} stops it at its next heartbeat`;
    case "killed":
      return `${colors.green("✓")} Job ${id} killed: ${describeEnd(row.job)}`;
  }
}

function describeEnd(job: Job | null | undefined): string {
  if (!job) return "gone";
  if (job.state === "failed") return `${colors.magenta("failed")}; retry at ${iso(job.next_run_at)}`;
  if (job.state === "dead") return `${colors.red("dead")}; no retries left, moved to the DLQ`;
  // Only a jobfile job leaves its run in these states: the revision its jobfile queued behind
  // the run took the job's place.
  if (job.source !== null && (job.state === "pending" || job.state === "processing"))
    return `${job.state}: the newer revision its jobfile queued behind the run is next`;
  if (job.source !== null && job.state === "completed")
    return "completed: its jobfile is back at a revision that already completed";
  return job.state;
}

/**
 * A job still running after the wait: its worker either has not got to it yet or died (its
 * row stays until the job is rescued). A worker silent for longer than a heartbeat interval
 * is not about to act, so the report must not promise that it will.
 */
async function markSilentWorkers(store: Store, rows: ReportRow[], intervalMs: number): Promise<ReportRow[]> {
  if (!rows.some((row) => row.result === "requested")) return rows;
  const [workers, now] = await Promise.all([store.workerList(), store.clockNow()]);
  const beatOf = new Map(workers.map((worker) => [worker.id, worker.heartbeat_at]));
  return rows.map((row) => {
    if (row.result !== "requested") return row;
    const beat = row.workerId === null ? undefined : beatOf.get(row.workerId);
    const silentMs = beat === undefined ? undefined : now - beat;
    return silentMs !== undefined && silentMs > intervalMs ? { ...row, silentMs } : row;
  });
}

export function registerKill(cli: CAC): void {
  cli
    .command(
      "kill <id> [...more]",
      "Stop jobs: running ones on any host (SIGTERM, then SIGKILL), waiting ones canceled",
    )
    .option(
      "--retry",
      "Count the stopped attempt as failed, so the retry rules apply; running jobs only (default: the job ends canceled)",
    )
    .option("--json", "Print each job's id, what was done and its state as JSON (default: human text)")
    .example("queuectl kill nightly-backup")
    .example("queuectl kill build-1 build-2 --retry")
    .action(async (first: string, more: string[], options: KillCliOptions) => {
      const ids = [...new Set([String(first), ...more.map(String)])];
      await withExistingStore(options, async (store) => {
        await refuseBadIds(
          store,
          ids,
          await Promise.all(ids.map((id) => store.jobGet({ id }))),
          Boolean(options.retry),
        );
        const outcomes = await killJobs(store, ids, {
          retry: Boolean(options.retry),
          now: await store.clockNow(),
        });
        // A job whose worker is gone ends when it is rescued, after its lease: not worth waiting for.
        const requested = outcomes.flatMap((outcome) =>
          outcome.kind === "requested" && !outcome.orphaned ? [outcome] : [],
        );
        const config = resolveConfig(await store.configGetAll());
        // A worker on another host sees the request at its next heartbeat, then allows the grace.
        const ended = await waitForKilled(
          store,
          requested,
          heartbeatIntervalMs(config) + KILL_GRACE_MS + RECORD_SLACK_MS,
        );
        const rows = await markSilentWorkers(
          store,
          await Promise.all(outcomes.map((outcome) => reportRow(store, outcome, ended))),
          heartbeatIntervalMs(config),
        );
        if (options.json) {
          printJson({ jobs: rows.map(({ id, result, state }) => ({ id, result, state })) });
          return;
        }
        for (const row of rows) console.log(describeRow(row, Boolean(options.retry)));
      });
    });
}
