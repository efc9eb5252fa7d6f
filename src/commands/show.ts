import type { CAC } from "cac";
import { TEXT_OPTION } from "../cli-argv.ts";
import { UserError } from "../core/errors.ts";
import type { Job } from "../core/job.ts";
import { readArchivedJob } from "../flow/archive-read.ts";
import { deliveryLines, jobDetailJson, specJson } from "../render/job-detail.ts";
import {
  attemptJson,
  attemptLines,
  colors,
  jobBlocks,
  jobJson,
  printJson,
  safeText,
  scheduleJson,
  scheduleLines,
  specLines,
} from "../render.ts";
import type { Store } from "../store/store.ts";
import { type GlobalOptions, lastValue, requireJob, withExistingStore } from "./context.ts";

/** Why a pending job has not started: unfinished dependencies, a paused or full queue. */
async function waitingReasons(store: Store, job: Job): Promise<string[]> {
  if (job.state !== "pending" && job.state !== "failed") return [];
  const reasons: string[] = [];
  for (const id of job.spec.after ?? []) {
    const dependency = await store.jobGet({ id });
    if (dependency?.state !== "completed")
      reasons.push(`  job ${safeText(id)} (${dependency?.state ?? "gone"})`);
  }
  const queue = (await store.queueList()).find((entry) => entry.name === job.queue);
  if (queue?.paused)
    reasons.push(`  queue ${safeText(queue.name)} is paused (queuectl queue resume ${safeText(queue.name)})`);
  else if (
    queue?.concurrency !== null &&
    queue !== undefined &&
    queue.counts.processing >= (queue.concurrency ?? 0)
  ) {
    reasons.push(
      `  a free slot in queue ${safeText(queue.name)} (${queue.counts.processing}/${queue.concurrency} running)`,
    );
  }
  return reasons;
}

async function showArchived(path: string, id: string, json: boolean): Promise<void> {
  const archived = await readArchivedJob(path, id);
  if (!archived) {
    throw new UserError(
      `no job "${id}" in the archive ${path}`,
      'check the id, or list the archive\'s ids with `grep -o \'"id":"[^"]*"\' FILE`',
    );
  }
  const { job, attempts } = archived;
  if (json) {
    printJson({
      ...jobJson(job),
      spec: specJson(job.spec),
      attempt_count: job.attempts,
      attempts: attempts.map(attemptJson),
      result: job.result ? JSON.parse(job.result) : null,
      archived: true,
    });
    return;
  }
  const block = jobBlocks([job], Date.now()).replace(/^Found 1 job\(s\):\n\n/, "");
  process.stdout.write(
    `${colors.dim(`(archived in ${safeText(path)})`)}\n${block.trimEnd()}\n${specLines(job)}\n`,
  );
  if (job.result) process.stdout.write(`${colors.bold("Result:")} ${safeText(job.result)}\n`);
  process.stdout.write(`${colors.bold("Attempts:")}\n${attemptLines(attempts)}`);
}

export function registerShow(cli: CAC): void {
  cli
    .command("show <id>", "Show one job: its spec, its state and every attempt so far")
    .option(
      "--json",
      "Print the job with its `attempts`, its `result` and its webhook deliveries (`webhooks`) as JSON (default: human text)",
    )
    .option(
      "--archive <file>",
      "Read the job from this archive (`purge --archive`) instead of the store (default: the store)",
      TEXT_OPTION,
    )
    .example("queuectl show job1")
    .example("queuectl show --archive archive.ndjson job1")
    .action(async (id: string, options: GlobalOptions & { archive?: string | string[] }) => {
      const archive = lastValue(options.archive);
      if (archive !== undefined) {
        await showArchived(String(archive), String(id), Boolean(options.json));
        return;
      }
      await withExistingStore(options, async (store) => {
        // A schedule id shows the schedule and its next occurrence; occurrences are jobs.
        const schedule = await store.scheduleGet({ id: String(id) });
        if (schedule) {
          if (options.json) printJson({ ...scheduleJson(schedule), spec: schedule.spec });
          else console.log(scheduleLines([schedule]));
          return;
        }
        const job = await requireJob(store, String(id));
        const attempts = await store.attemptList({ jobId: job.id });
        const deliveries = await store.webhookDeliveryList({ jobId: job.id });
        if (options.json) {
          printJson(jobDetailJson(job, attempts, deliveries));
          return;
        }
        const block = jobBlocks([job], await store.clockNow()).replace(/^Found 1 job\(s\):\n\n/, "");
        process.stdout.write(`${block.trimEnd()}\n${specLines(job)}\n`);
        const waiting = await waitingReasons(store, job);
        if (waiting.length > 0)
          process.stdout.write(`${colors.bold("Waiting for:")}\n${waiting.join("\n")}\n`);
        if (job.result) process.stdout.write(`${colors.bold("Result:")} ${safeText(job.result)}\n`);
        process.stdout.write(`${colors.bold("Attempts:")}\n${attemptLines(attempts)}`);
        if (deliveries.length > 0)
          process.stdout.write(`${colors.bold("Webhooks:")}\n${deliveryLines(deliveries)}`);
      });
    });
}
