/** `worker run`: one worker in the foreground, for systemd, containers and CI. */

import type { CAC } from "cac";
import { noteLostOutput } from "../checked-console.ts";
import { TEXT_OPTION } from "../cli-argv.ts";
import { ensureHome, hostName, queuectlHome } from "../core/home.ts";
import { printWorkerEvent } from "../render/worker-events.ts";
import { LONG_RUNNING_CONNECTIONS, openStore, WORKER_IDLE_IN_TRANSACTION_MS } from "../store/open.ts";
import { Worker } from "../worker/loop.ts";
import { assertOwnStore } from "../worker/own-store.ts";
import { RELEASE_SIGNAL, STOP_SIGNAL, WAKE_SIGNAL } from "../worker/signals.ts";
import { PREFETCH_HELP, type WorkerFlags, warnEach, warnUnusedQueues, workerFlags } from "./context.ts";

interface RunOptions extends WorkerFlags {
  drain?: boolean;
}

async function runForeground(options: RunOptions): Promise<void> {
  const { concurrency, prefetch, queues } = workerFlags(options);
  const home = ensureHome(queuectlHome());
  assertOwnStore(options.db, home);
  const store = await openStore({
    url: options.db,
    synchronous: "NORMAL",
    checkpointInBackground: true,
    connections: LONG_RUNNING_CONNECTIONS,
    idleInTransactionMs: WORKER_IDLE_IN_TRANSACTION_MS,
    lockTimeoutMs: null,
  });
  await warnUnusedQueues(store, queues);
  // A container's first process is its init too: a job's process whose parent died becomes
  // its child, and Bun reaps only the children it started, so they would pile up as zombies.
  if (process.pid === 1)
    warnEach([
      "this worker is process 1 (a container's init), which must reap what jobs leave behind, and it cannot — run it under an init: `docker run --init …`, or tini",
    ]);
  const worker = new Worker({
    store,
    home,
    host: hostName(),
    concurrency,
    prefetch,
    queues,
    drain: Boolean(options.drain),
    onEvent: printWorkerEvent,
  });
  let signals = 0;
  const onSignal = () => {
    signals++;
    if (signals === 1) worker.requestStop("signal");
    else worker.escalate();
  };
  // `worker stop` past its timeout: a signal of its own, which a pending SIGTERM cannot swallow.
  const onRelease = () => worker.escalate();
  // `kill` on this host: look for kill requests now rather than at the next heartbeat.
  const onKill = () => worker.checkNow();
  const handlers: [NodeJS.Signals, () => void][] = [
    [STOP_SIGNAL, onSignal],
    ["SIGINT", onSignal],
    // A closed terminal or a dropped SSH session: stop as on the first Ctrl-C, rather than die
    // and leave the running jobs to a lease rescue that counts them as failed attempts. Never
    // the second step: a closing terminal sends two (the shell's, then the kernel's).
    ["SIGHUP", () => worker.requestStop("signal")],
    [RELEASE_SIGNAL, onRelease],
    [WAKE_SIGNAL, onKill],
  ];
  for (const [signal, handler] of handlers) process.on(signal, handler);
  const stopOutputWatch = watchOwnOutput(() => worker.requestStop("signal"));
  try {
    await worker.run();
  } finally {
    ignoreLateSignals();
    stopOutputWatch();
    for (const [signal, handler] of handlers) process.off(signal, handler);
    await store.close();
  }
}

/**
 * The worker's own output failing to be written must not end it with jobs running: Bun ends
 * a process whose stdout reader went away (`worker run | head`), and a failed write of a
 * stream with no listener escapes as an error (a full disk), and either way the running jobs
 * were killed and counted as failed attempts by the lease rescue. A reader that went away
 * (EPIPE) stops the worker as SIGTERM does: running jobs finish, nothing new starts. Any
 * other failure (no room on the log's disk) loses lines, not work: the worker goes on and
 * writes again once it can. Either way the first failure is reported as the command ends
 * (cli.ts), exit 1 but for a closed pipe, as for every command.
 */
function watchOwnOutput(onReaderGone: () => void): () => void {
  if (!outputWatched) {
    outputWatched = true;
    // Kept for the rest of the process: a write still under way as the worker ends may fail later.
    process.on("SIGPIPE", () => {});
    const onError = (error: Error) => {
      noteLostOutput(error);
      if ((error as NodeJS.ErrnoException).code !== "EPIPE") return;
      const stop = readerGone;
      readerGone = null;
      stop?.();
    };
    process.stdout.on("error", onError);
    process.stderr.on("error", onError);
  }
  readerGone = onReaderGone;
  return () => {
    readerGone = null;
  };
}

let outputWatched = false;
/** What a closed pipe stops: the running worker's, once. */
let readerGone: (() => void) | null = null;

let lateSignalsIgnored = false;

/**
 * Once the worker has stopped, a release or wake signal that comes late (`worker stop`
 * escalating just as the worker ends, a `kill` of a job it just finished) has nothing left
 * to act on, and its default action would end the exiting process by that signal: exit 138
 * instead of 0 to systemd or a script. Registered once per process; a stop signal keeps its
 * default, so a process stuck on its way out can still be interrupted.
 */
function ignoreLateSignals(): void {
  if (lateSignalsIgnored) return;
  lateSignalsIgnored = true;
  for (const signal of [RELEASE_SIGNAL, WAKE_SIGNAL]) process.on(signal, () => {});
}

export function registerWorkerRun(cli: CAC): void {
  cli
    .command("worker run", "Run a worker in the foreground (for systemd, containers, CI)")
    .option("--concurrency <n>", "Jobs this worker runs at once, at most 10,000 (default: 1)", TEXT_OPTION)
    .option("--prefetch <n>", PREFETCH_HELP, TEXT_OPTION)
    .option(
      "--queue <names>",
      "Only take jobs from these comma-separated queues (default: every queue)",
      TEXT_OPTION,
    )
    .option("--drain", "Exit once no job is pending, failed (awaiting a retry) or processing (default: off)")
    .example("queuectl worker run --concurrency 4")
    .example("queuectl worker run --drain")
    .action(runForeground);
}
