import type { CAC } from "cac";
import { formatDurationMs } from "../core/duration.ts";
import { queueStatus, type RunningJob } from "../flow/status.ts";
import { colors, countsBlock, printJson, progressText, safeText } from "../render.ts";
import { type GlobalOptions, withExistingStore } from "./context.ts";

/** "    running build for 12s: make test" under its worker, or "idle". */
function runningLines(jobs: RunningJob[]): string[] {
  if (jobs.length === 0) return [`      ${colors.dim("idle")}`];
  return jobs.map(
    (job) =>
      `      running ${safeText(job.id)} for ${formatDurationMs(job.running_ms)}${job.progress_pct === null ? "" : ` (${progressText(job)})`}: ${safeText(job.command).slice(0, 60)}`,
  );
}

export function registerStatus(cli: CAC): void {
  cli
    .command("status", "Show job counts by state, the workers and the config")
    .option("--json", "Print {jobs, workers, running, folders, config} as JSON (default: human text)")
    .example("queuectl status")
    .action(statusCommand);
}

/** `status`: also run directly, without cac, by cli-direct.ts. */
export async function statusCommand(options: GlobalOptions): Promise<void> {
  await withExistingStore(options, async (store) => {
    const { json, config } = await queueStatus(store);
    const { jobs: counts, workers: workerRows, running, folders } = json;
    if (options.json) {
      printJson(json);
      return;
    }
    const lines = [
      colors.bold("=== QueueCTL Status ==="),
      "",
      colors.bold("Job States:"),
      countsBlock(counts),
      "",
    ];
    // Lost workers stay listed until `worker stop` removes their rows: the count must not hide them.
    const lost = workerRows.filter((w) => !w.alive).length;
    lines.push(
      colors.bold(`Active Workers: ${workerRows.length - lost}${lost > 0 ? ` (and ${lost} lost)` : ""}`),
    );
    if (workerRows.length === 0)
      lines.push("  (none running; start some with `queuectl worker start --count 3`)");
    const hosts = [...new Set(workerRows.map((w) => w.host))];
    for (const host of hosts) {
      if (hosts.length > 1) lines.push(`  ${safeText(host)}:`);
      for (const worker of workerRows.filter((w) => w.host === host)) {
        const age = Math.round(worker.heartbeat_age_ms / 1000);
        const health = worker.alive
          ? colors.green(worker.stop_requested ? "Stopping" : "Running")
          : colors.red(`Lost (no heartbeat for ${age}s)`);
        lines.push(
          `  Worker (PID: ${worker.pid}) - ${health}${hosts.length > 1 ? "" : ` on ${safeText(worker.host)}`}`,
        );
        lines.push(...runningLines(running.filter((job) => job.worker_id === worker.id)));
      }
    }
    lines.push(
      "",
      colors.bold("Jobfile folders:"),
      ...(await import("../render/folders.ts")).folderLines(folders),
    );
    lines.push("", colors.bold("Configuration:"));
    // A value another host wrote to a shared store must not drive this terminal.
    for (const [key, value] of Object.entries(config)) lines.push(`  ${key}: ${safeText(String(value))}`);
    await writeStdout(`${lines.join("\n")}\n`);
  });
}

/**
 * Bun's console.log drops a failed write, so `status > /dev/full` printed nothing and exited
 * 0. process.stdout reports it, but setting it up costs about 10 ms, a tenth of this call that
 * scripts loop on; Bun.stdout reports it at no cost, as a rejection the CLI turns into an
 * error line. A console.log replaced by whoever runs the command (the in-process test runner,
 * an embedding program) still gets the text, as it always did.
 */
async function writeStdout(text: string): Promise<void> {
  if (Function.prototype.toString.call(console.log).includes("[native code]"))
    await Bun.write(Bun.stdout, text);
  else console.log(text.slice(0, -1));
}
