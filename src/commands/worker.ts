import type { CAC } from "cac";
import { TEXT_OPTION } from "../cli-argv.ts";
import { resolveConfig, workerLostAfterMs } from "../core/config.ts";
import { formatDurationMs, parseDurationMs } from "../core/duration.ts";
import { UserError } from "../core/errors.ts";
import { ensureHome, hostName, queuectlHome } from "../core/home.ts";
import { isQueueName } from "../core/job.ts";
import { colors, iso, printJson, safeText } from "../render.ts";
import { openStore } from "../store/open.ts";
import type { Store } from "../store/store.ts";
import type { WorkerEvent } from "../worker/events.ts";
import { Worker } from "../worker/loop.ts";
import { isProcessAlive } from "../worker/process-info.ts";
import { stopWorkers } from "../worker/stop.ts";
import { startWorkers } from "../worker/supervisor.ts";
import { type GlobalOptions, integerOption, lastValue, withStore } from "./context.ts";

interface RunOptions extends GlobalOptions {
  concurrency?: unknown;
  queue?: unknown;
  drain?: boolean;
}

interface StartOptions extends RunOptions {
  count?: unknown;
  watch?: unknown;
}

interface StopOptions extends GlobalOptions {
  timeout?: unknown;
  all?: boolean;
}

function parseQueues(value: unknown): string[] | null {
  const text = lastValue(value as string | string[] | undefined);
  if (text === undefined) return null;
  const names = String(text)
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean);
  const bad = names.find((name) => !isQueueName(name));
  if (names.length === 0 || bad !== undefined) {
    throw new UserError(
      `--queue needs queue names separated by commas, got "${safeText(String(text))}"`,
      "e.g. --queue default,emails",
    );
  }
  return [...new Set(names)];
}

type FinishedEvent = Extract<WorkerEvent, { type: "job-finished" }>;

function describeFinished(event: FinishedEvent): string {
  const took = formatDurationMs(event.durationMs);
  const why = event.error ? ` (${event.error})` : "";
  switch (event.outcome) {
    case "completed":
      return `${event.jobId}: ${colors.green("completed")} in ${took}`;
    case "failed":
      return `${event.jobId}: attempt ${event.attempt} ${colors.magenta("failed")}${why}; retry at ${iso(event.nextRunAt)}`;
    case "dead":
      return `${event.jobId}: attempt ${event.attempt} ${colors.red("failed")}${why}; no retries left, moved to the DLQ`;
    case "released":
      return `${event.jobId}: stopped after ${took} and returned to pending (attempt not counted)`;
    case "discarded":
      return `${event.jobId}: result discarded, a newer attempt owns the job (its lease was lost)`;
    case "canceled":
      return `${event.jobId}: attempt ${event.attempt} ${colors.yellow("killed")} after ${took}; the job is canceled`;
    case "abandoned":
      return `${event.jobId}: attempt ${event.attempt} ended, but its result could not be recorded before its lease ran out; given up`;
  }
}

const RESCUE_OUTCOME = {
  failed: "will retry",
  dead: "no retries left, moved to the DLQ",
  canceled: "it was being killed, so it is canceled",
};

function describe(event: WorkerEvent): string {
  switch (event.type) {
    case "started":
      return `worker ${event.workerId} started (pid ${event.pid}, concurrency ${event.concurrency}, queues: ${event.queues?.join(", ") ?? "all"})`;
    case "job-started":
      return `${event.jobId}: attempt ${event.attempt}/${event.maxAttempts} started${event.pid ? ` (pid ${event.pid})` : ""}`;
    case "job-finished":
      return describeFinished(event);
    case "rescued":
      return `${event.jobId}: rescued from worker ${event.fromWorker ?? "?"} whose lease expired; ${RESCUE_OUTCOME[event.outcome]}`;
    case "lease-lost":
      return `${event.jobId}: lease lost to another worker; stopping it`;
    case "superseded":
      return `${event.jobId}: claimed again after its lease was lost; stopping attempt ${event.attempt} first`;
    case "killing":
      return `${event.jobId}: kill requested${event.retry ? " (--retry)" : ""}; stopping it`;
    case "record-retry":
      return `${event.jobId}: recording the result failed (${event.error}); retrying in ${formatDurationMs(event.waitMs)} while the lease holds`;
    case "stopping":
      if (event.reason === "drained") return "no pending, failed or processing jobs left; exiting";
      return `${event.reason === "requested" ? "stop requested (worker stop --all)" : "stopping"}: no new jobs${event.running > 0 ? `; waiting for ${event.running} running job(s) to finish (signal again to stop them now)` : ""}`;
    case "escalating":
      return `stopping ${event.running} running job(s) now; they go back to pending`;
    case "config-changed":
      return `config changed: ${event.summary}`;
    case "error":
      return `error: ${event.message}`;
    case "stopped":
      return `worker ${event.workerId} stopped`;
  }
}

/** Ids, errors and queue names come from users and jobs: escaped before colours are added. */
function sanitized(event: WorkerEvent): WorkerEvent {
  const entries = Object.entries(event).map(([key, value]) => {
    if (typeof value === "string") return [key, safeText(value)];
    if (Array.isArray(value)) return [key, value.map((item) => safeText(String(item)))];
    return [key, value];
  });
  return Object.fromEntries(entries) as WorkerEvent;
}

function printEvent(event: WorkerEvent): void {
  const line = `${colors.dim(new Date().toISOString())} ${describe(sanitized(event))}\n`;
  if (event.type === "error") process.stderr.write(line);
  else process.stdout.write(line);
}

async function runForeground(options: RunOptions): Promise<void> {
  const concurrency = integerOption("concurrency", lastValue(options.concurrency), 1, 1);
  const queues = parseQueues(options.queue);
  const home = ensureHome(queuectlHome());
  const store = await openStore({ url: options.db, synchronous: "NORMAL" });
  const worker = new Worker({
    store,
    home,
    host: hostName(),
    concurrency,
    queues,
    drain: Boolean(options.drain),
    onEvent: printEvent,
  });
  let signals = 0;
  const onSignal = () => {
    signals++;
    if (signals === 1) worker.requestStop("signal");
    else worker.escalate();
  };
  // `kill` on this host: look for kill requests now rather than at the next heartbeat.
  const onKill = () => worker.checkNow();
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  process.on("SIGUSR2", onKill);
  try {
    await worker.run();
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    process.off("SIGUSR2", onKill);
    await store.close();
  }
}

/** `--watch` on a folder this host already watches would start a second watcher: refused before anything starts. */
async function refuseWatchedFolder(store: Store, dir: string): Promise<void> {
  const { assertNotWatched, folderKey } = await import("../jobfiles/sync-record.ts");
  await assertNotWatched(store, folderKey(dir), { now: Date.now(), host: hostName(), isProcessAlive });
}

export function registerWorker(cli: CAC): void {
  cli
    .command("worker run", "Run a worker in the foreground (for systemd, containers, CI)")
    .option("--concurrency <n>", "Jobs this worker runs at once (default: 1)")
    .option(
      "--queue <names>",
      "Only take jobs from these comma-separated queues (default: every queue)",
      TEXT_OPTION,
    )
    .option("--drain", "Exit once no job is pending, failed (awaiting a retry) or processing (default: off)")
    .example("queuectl worker run --concurrency 4")
    .example("queuectl worker run --drain")
    .action(runForeground);

  cli
    .command("worker start", "Start background workers and return, printing their PIDs")
    .option("--count <n>", "Worker processes to start (default: 1)")
    .option("--concurrency <n>", "Jobs each worker runs at once (default: 1)")
    .option(
      "--queue <names>",
      "Only take jobs from these comma-separated queues (default: every queue)",
      TEXT_OPTION,
    )
    .option("--watch <dir>", "Also start `queuectl watch <dir>` to keep a jobs folder synced (default: off)")
    .option("--json", "Print {workers, watcher} with pids and log files as JSON (default: human text)")
    .example("queuectl worker start --count 3")
    .example("queuectl worker start --count 2 --watch jobs")
    .action(async (options: StartOptions) => {
      const count = integerOption("count", lastValue(options.count), 1, 1);
      const concurrency = integerOption("concurrency", lastValue(options.concurrency), 1, 1);
      const queues = parseQueues(options.queue);
      const watch = lastValue(options.watch as string | string[] | undefined);
      if (watch === "" || typeof watch === "boolean") {
        throw new UserError("--watch needs a folder", "e.g. --watch jobs");
      }
      const home = ensureHome(queuectlHome());
      await withStore(options, async (store) => {
        if (watch !== undefined) await refuseWatchedFolder(store, String(watch));
        const started = await startWorkers(store, {
          home,
          count,
          concurrency,
          queues,
          watchDir: watch === undefined ? null : String(watch),
          dbUrl: options.db,
        });
        if (options.json) {
          printJson(started);
          return;
        }
        const pids = started.workers.map((worker) => worker.pid).join(", ");
        console.log(`${colors.green("✓")} Started ${started.workers.length} worker(s) (PIDs: ${pids})`);
        if (started.watcher)
          console.log(
            `${colors.green("✓")} Watching ${safeText(String(watch))} (PID: ${started.watcher.pid})`,
          );
        console.log(colors.dim(`Logs: ${safeText(`${home}/workers/`)}; stop with \`queuectl worker stop\``));
      });
    });

  cli
    .command("worker stop", "Stop this host's workers: they finish running jobs, then exit")
    .option(
      "--timeout <duration>",
      "How long running jobs may take to finish; then they are stopped and go back to pending (default: 30s)",
    )
    .option(
      "--all",
      "Also ask workers on every other host to stop, through the store (default: this host only)",
    )
    .option("--json", "Print what was stopped as JSON (default: human text)")
    .example("queuectl worker stop")
    .example("queuectl worker stop --timeout 5m")
    .action(async (options: StopOptions) => {
      const timeout = lastValue(options.timeout as string | number | undefined);
      const timeoutMs = timeout === undefined ? 30_000 : parseDurationMs(timeout, "--timeout");
      await withStore(options, async (store) => {
        const report = await stopWorkers(store, {
          home: queuectlHome(),
          host: hostName(),
          timeoutMs,
          all: Boolean(options.all),
          lostAfterMs: workerLostAfterMs(resolveConfig(await store.configGetAll())),
          onEscalate: (pids) => {
            if (!options.json && pids.length > 0) {
              console.log(
                `Timeout of ${formatDurationMs(timeoutMs)} reached: stopping the running jobs of ${pids.length} worker(s); they go back to pending, but a job already past its timeout counts as failed`,
              );
            }
          },
        });
        if (options.json) {
          printJson({
            stopped: report.stopped,
            forced: report.forced,
            killed: report.killed,
            watchers: report.watchers,
            stale: report.stale,
            remote_asked: report.remoteAsked,
          });
          return;
        }
        const total = report.stopped.length + report.forced.length + report.killed.length;
        if (total === 0 && report.watchers.length === 0) console.log("No workers running on this host.");
        else console.log(`${colors.green("✓")} Stopped ${total} worker(s)`);
        if (report.forced.length > 0)
          console.log(
            `  ${report.forced.length} had running jobs stopped and returned to pending (a job already past its timeout counts as failed)`,
          );
        if (report.killed.length > 0)
          console.log(
            colors.yellow(
              `  ${report.killed.length} ignored SIGTERM and were killed; their jobs are rescued when their leases expire`,
            ),
          );
        if (report.watchers.length > 0)
          console.log(`  Stopped the jobs folder watcher (PID: ${report.watchers.join(", ")})`);
        if (report.stale > 0) console.log(colors.dim(`  Removed ${report.stale} stale registry entries`));
        if (report.remoteAsked > 0)
          console.log(
            `  Asked ${report.remoteAsked} worker(s) no signal reaches (other hosts or containers) to stop after their running jobs`,
          );
      });
    });
}
