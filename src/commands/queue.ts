import type { CAC } from "cac";
import { TEXT_OPTION } from "../cli-argv.ts";
import { nearestName, UserError } from "../core/errors.ts";
import { isQueueConcurrency, isQueueName, MAX_QUEUE_CONCURRENCY, QUEUE_NAME_RULE } from "../core/job.ts";
import { findDuplicateJsonKey } from "../core/json-text.ts";
import { type NotifyTarget, normalizeNotify } from "../core/notify.ts";
import { describeLimits, parseLimitsText } from "../core/resource-limits.ts";
import { queueViews } from "../flow/queue-list.ts";
import { colors, printJson, safeText } from "../render.ts";
import { knownQueueNames } from "../store/queue-names.ts";
import { type GlobalOptions, lastValue, withExistingStore, withStore } from "./context.ts";

interface QueueSetOptions extends GlobalOptions {
  concurrency?: string | string[];
  notify?: string;
  limits?: string;
}

function queueName(name: unknown): string {
  const text = String(name ?? "");
  if (!isQueueName(text)) throw new UserError(`"${text}" is not a queue name`, `use ${QUEUE_NAME_RULE}`);
  return text;
}

/**
 * A name no job, queue setting, worker or schedule knows: most likely a typo, and switching
 * it would create a queue while the one meant keeps running. `queue set` still creates one.
 */
function unknownQueue(name: string, known: readonly string[], verb: string): UserError {
  const nearest = nearestName(name, known);
  return new UserError(
    `no queue named "${name}": no job, schedule, queue setting or worker uses it`,
    nearest
      ? `did you mean \`${nearest}\`? (queuectl queue list shows every queue)`
      : `queuectl queue list shows every queue; to ${verb} one before its first job, create it with \`queuectl queue set ${name} --concurrency none\``,
  );
}

/** `--concurrency N` (N ≥ 1) or `--concurrency none` to lift the limit. */
function parseConcurrency(value: unknown): number | null {
  if (value === "none" || value === "unlimited") return null;
  // Decimal digits only, as every whole-number option: Number() would take 0x10 and 1e1.
  const text = String(value).trim();
  const number = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!isQueueConcurrency(number)) {
    throw new UserError(
      `--concurrency must be a whole number from 1 to ${MAX_QUEUE_CONCURRENCY.toLocaleString("en-US")}, or none, got "${safeText(String(value))}"`,
      "e.g. --concurrency 2; --concurrency none lifts the limit",
    );
  }
  return number;
}

/** `--notify '<json list>'`, validated like a job's `notify` field, or `--notify none` to clear it. */
function parseNotify(value: unknown): NotifyTarget[] | null {
  const text = String(value).trim();
  if (/^(none|off)$/i.test(text)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UserError(
      `--notify must be a JSON list, got "${text}"`,
      `e.g. --notify '[{"url": "https://example.com/hook", "events": ["dead"]}]'`,
    );
  }
  const twice = findDuplicateJsonKey(text);
  if (twice !== undefined)
    throw new UserError(`--notify gives the key "${twice}" twice`, "give each key once");
  return normalizeNotify(parsed, "--notify");
}

export function registerQueue(cli: CAC): void {
  cli
    .command(
      "queue set <name>",
      "Set a queue's limit of jobs running at once (across every worker and host), its webhooks or its jobs' resource limits",
    )
    .option(
      "--concurrency <n>",
      "Running jobs allowed at once (1 to 1,000,000), or none (default: no limit)",
      TEXT_OPTION,
    )
    .option(
      "--notify <json>",
      "Webhooks told about every job of the queue, a JSON list of {url, events}, or none (default: none)",
      TEXT_OPTION,
    )
    .option(
      "--limits <json>",
      'Resource limits of its jobs, e.g. \'{"memory":"256M","processes":100}\', or none (default: none)',
      TEXT_OPTION,
    )
    .example("queuectl queue set emails --concurrency 2")
    .example(`queuectl queue set emails --notify '[{"url":"https://example.com/hook","events":["dead"]}]'`)
    .example(`queuectl queue set batch --limits '{"memory":"1G","cpu_time":"10m"}'`)
    .action(async (name: string, options: QueueSetOptions) => {
      if (options.concurrency === undefined && options.notify === undefined && options.limits === undefined)
        throw new UserError(
          "nothing to set",
          "give --concurrency N (or none), --notify '<json>' (or none) or --limits '<json>' (or none)",
        );
      const concurrency =
        options.concurrency === undefined ? undefined : parseConcurrency(lastValue(options.concurrency));
      const notify = options.notify === undefined ? undefined : parseNotify(lastValue(options.notify));
      const limits =
        options.limits === undefined ? undefined : parseLimitsText(String(lastValue(options.limits)));
      await withStore(options, async (store) => {
        if (concurrency !== undefined) {
          await store.queueSet({ name: queueName(name), concurrency });
          console.log(
            `${colors.green("✓")} queue ${safeText(name)}: concurrency ${concurrency ?? "unlimited"}`,
          );
        }
        if (notify !== undefined) {
          await store.queueNotifySet({ name: queueName(name), notify });
          console.log(
            `${colors.green("✓")} queue ${safeText(name)}: ${notify === null || notify.length === 0 ? "no webhooks" : `webhooks ${notify.map((target) => `${safeText(target.url)} (${target.events.join(", ")})`).join(", ")}`}`,
          );
        }
        if (limits !== undefined) {
          await store.queueLimitsSet({ name: queueName(name), limits });
          console.log(
            `${colors.green("✓")} queue ${safeText(name)}: limits ${limits ? describeLimits(limits) : "none"}`,
          );
        }
      });
    });

  for (const [verb, paused] of [
    ["pause", true],
    ["resume", false],
  ] as const) {
    cli
      .command(
        `queue ${verb} <name>`,
        paused ? "Stop claiming jobs of a queue (running jobs finish)" : "Claim jobs of a paused queue again",
      )
      .example(`queuectl queue ${verb} emails`)
      .action(async (name: string, options: GlobalOptions) => {
        const queue = queueName(name);
        await withExistingStore(options, async (store) => {
          const known = await knownQueueNames(store);
          if (!known.includes(queue)) throw unknownQueue(queue, known, verb);
          await store.queueSet({ name: queue, paused });
          console.log(`${colors.green("✓")} queue ${safeText(queue)} ${paused ? "paused" : "resumed"}`);
        });
      });
  }

  cli
    .command("queue list", "Show every queue with its limit, pause switch and job counts")
    .option("--json", "Print JSON (default: human text)")
    .example("queuectl queue list")
    .action(async (options: GlobalOptions) => {
      await withExistingStore(options, async (store) => {
        const queues = await queueViews(store);
        if (options.json) {
          printJson(queues);
          return;
        }
        if (queues.length === 0) {
          console.log("No queues yet.");
          return;
        }
        console.log(colors.bold("QUEUE            LIMIT      STATE    PENDING  RUNNING  FAILED  DEAD  DONE"));
        for (const queue of queues) {
          const c = queue.counts;
          console.log(
            `${safeText(queue.name).padEnd(16)} ${String(queue.concurrency ?? "-").padEnd(10)} ${(queue.paused ? colors.yellow("paused") : "active").padEnd(8)} ${String(c.pending).padStart(7)}  ${String(c.processing).padStart(7)}  ${String(c.failed).padStart(6)}  ${String(c.dead).padStart(4)}  ${String(c.completed).padStart(4)}`,
          );
          if (queue.limits) console.log(`  limits: ${describeLimits(queue.limits)}`);
        }
      });
    });
}
