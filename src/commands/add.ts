/**
 * `add`: queue one command the way pueue and task-spooler users type it, with the job's
 * fields as options. The options become a spec that goes through the same validation and
 * insert as `enqueue`, so both doors accept and refuse exactly the same jobs.
 */

import { resolve } from "node:path";
import type { CAC } from "cac";
import { keepText, TEXT_OPTION } from "../cli-argv.ts";
import { type QueueConfig, resolveConfig } from "../core/config.ts";
import { canceledAtOnceWarnings } from "../core/dependencies.ts";
import { UserError } from "../core/errors.ts";
import { COMMAND_LINE_NAME, prepareJobs } from "../core/job-input.ts";
import { normalizeSpec, SpecError } from "../core/spec.ts";
import { enqueuePrepared } from "../flow/enqueue.ts";
import { colors, commandText, printJson, safeText } from "../render.ts";
import { type GlobalOptions, lastValue, listItems, warnEach, withStore } from "./context.ts";

interface AddOptions extends GlobalOptions {
  "--"?: string[];
  id?: string[];
  shell?: string[];
  queue?: string[];
  priority?: string[];
  retries?: string[];
  timeout?: string[];
  delay?: string[];
  at?: string[];
  after?: string[];
  tag?: string[];
  env?: string[];
  cwd?: string[];
  quiet?: boolean;
}

/** The option that sets each spec field, so a validation error names what the user typed. */
const OPTION_OF_FIELD: Record<string, string> = {
  id: "--id",
  command: "the command",
  max_retries: "--retries",
  timeout: "--timeout",
  priority: "--priority",
  run_at: "--at",
  delay: "--delay",
  cwd: "--cwd",
  env: "--env",
  tags: "--tag",
  queue: "--queue",
  after: "--after",
};

const USAGE = "queuectl add [options] -- CMD [ARGS…]  or  queuectl add --shell 'a | b'";

/**
 * `--tag a --tag b,c` → [a, b, c]: repeated and comma-separated lists combine. An empty item
 * (`--tag ,` or `--tag a,`) is refused: it would add nothing, silently.
 */
function listOption(option: string, values: string[] | undefined): string[] | undefined {
  return listItems(option, values, `${option} a,b`, true);
}

/** `--env A=1 --env B=2`: each name once, since a second value would silently win. */
function envOption(values: string[] | undefined): Record<string, string> | undefined {
  if (values === undefined) return undefined;
  const env = new Map<string, string>();
  for (const pair of values) {
    const equals = pair.indexOf("=");
    if (equals <= 0) {
      throw new UserError(`--env "${safeText(pair)}" is not NAME=VALUE`, "e.g. --env LOG_LEVEL=debug");
    }
    const name = pair.slice(0, equals);
    if (env.has(name)) {
      throw new UserError(`--env sets ${safeText(name)} twice`, `give ${safeText(name)} one value`);
    }
    env.set(name, pair.slice(equals + 1));
  }
  // fromEntries defines each name as the object's own: `env[name] =` set the prototype for __proto__.
  return Object.fromEntries(env);
}

/**
 * The command: words after `--` run without a shell; a single word before it, or --shell,
 * runs through `sh -c`. Several words without `--` are taken as an argv command too.
 * A program name with spaces must exist here, since that is how a quoted shell line looks.
 */
function commandOf(words: string[], afterDashes: string[], shell: string | undefined): string | string[] {
  const dashed = afterDashes.length > 0;
  const before = dashed ? words.slice(0, words.length - afterDashes.length) : words;
  if (shell !== undefined) {
    if (words.length > 0) throw new UserError("give either --shell or a command, not both", USAGE);
    return shell;
  }
  if (dashed && before.length > 0) throw dashesAfterCommand(before);
  if (words.length === 0) throw new UserError("no command given", USAGE);
  if (!dashed && words.length === 1) return words[0] as string;
  const program = words[0] as string;
  // `add -- "make test"` would run a program named "make test": almost always a quoting slip.
  if (/\s/.test(program) && Bun.which(program) === null) {
    const shellForm = `queuectl add --shell ${safeText(commandText([program]))}`;
    // Words apart only where pasting them gives the same words: a `|` or `>` would be the paste's own.
    const words = program.trim().split(/\s+/);
    const apart = words.every((word) => /^[\w@%+=:,./-]+$/.test(word)) ? words : null;
    throw new UserError(
      `no program is named "${safeText(program)}"`,
      `to run it through the shell: ${shellForm}${apart ? `; else give its words apart: -- ${safeText(apart.join(" "))}` : ""}`,
    );
  }
  return words;
}

/**
 * A whole number as typed in decimal; anything else (0x10, 1e1, 2.5) is left as text for the
 * spec's validation to refuse with its own message.
 */
function decimalOption(value: string | undefined): number | string | undefined {
  return value !== undefined && /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : value;
}

/** The flags of `options` that take a value (`--id <id>`), as typed: their next word is no command word. */
function flagsWithValue(options: readonly { rawName: string }[]): Set<string> {
  const flags = new Set<string>();
  for (const { rawName } of options) {
    if (!/[<[]/.test(rawName)) continue;
    for (const word of rawName.split(/[\s,]+/)) if (word.startsWith("-")) flags.add(word);
  }
  return flags;
}

/**
 * Without `--`, cac takes every word shaped like an option for one of add's, wherever it
 * stands: `add wget --timeout 5 URL` queued `wget URL` with a 5 s timeout, and `add ls -q`
 * a bare `ls`, without a word. So an option after the command's first word is refused: the
 * options go before the command, and a command with options of its own after `--`.
 */
export function refuseOptionsAfterCommand(rawArgs: readonly string[], withValue: Set<string>): void {
  const commandWords: string[] = [];
  let sawAdd = false;
  // cac's rawArgs start with the runtime's and the script's paths.
  for (let index = 2; index < rawArgs.length; index++) {
    const arg = rawArgs[index] as string;
    if (arg === "--") {
      // cac drops a last `--` with nothing after it: `add git log --` queued `git log`.
      if (commandWords.length > 0) throw dashesAfterCommand(commandWords);
      return;
    }
    if (arg.startsWith("-") && arg !== "-") {
      const commandWord = commandWords[0];
      if (commandWord !== undefined) {
        throw new UserError(
          `\`${safeText(arg.split("=")[0] ?? arg)}\` comes after the command word "${safeText(commandWord)}", where it would be read as an option of add`,
          "put add's options first and the command after --: queuectl add [options] -- CMD [ARGS…]",
        );
      }
      if (withValue.has(arg)) index++;
    } else if (!sawAdd) sawAdd = true;
    else commandWords.push(String(keepText(arg)));
  }
}

/** Command words typed before `--`: the whole command goes after it. */
function dashesAfterCommand(words: string[]): UserError {
  return new UserError(
    `"${safeText(words.join(" "))}" comes before --`,
    "put the whole command after --, and the options before it",
  );
}

/** A folder typed on the command line is relative to where it was typed, not to the worker's. */
function folderOption(value: string | undefined): string {
  // An empty value is left for validation to refuse.
  return value === "" ? value : resolve(value ?? ".");
}

/** Validates the spec first so that an error names the option the user typed, not the field. */
function checkFields(spec: Record<string, unknown>): void {
  try {
    normalizeSpec({ ...spec, id: spec.id ?? "placeholder" });
  } catch (error) {
    // `env.A B` is a key of env: the option is still --env.
    const field = error instanceof SpecError ? error.field?.split(".")[0] : undefined;
    const option = field ? OPTION_OF_FIELD[field] : undefined;
    if (option === undefined || !(error instanceof UserError)) throw error;
    // The spec's hint shows the JSON field (`e.g. "timeout": "5m"`); here it is typed as the option.
    const hint = error.hint?.replace(
      /^e\.g\. "[\w.]+": (.*)$/,
      (_, value: string) => `e.g. ${option} ${value.replace(/^"(.*)"$/, "$1")}`,
    );
    throw new UserError(`${option}: ${error.message}`, hint);
  }
}

export function specFromOptions(words: string[], options: AddOptions): Record<string, unknown> {
  const shell = lastValue(options.shell);
  const spec: Record<string, unknown> = {
    id: lastValue(options.id),
    command: commandOf(words.map(String), (options["--"] ?? []).map(String), shell),
    max_retries: decimalOption(lastValue(options.retries)),
    timeout: lastValue(options.timeout),
    priority: decimalOption(lastValue(options.priority)),
    run_at: lastValue(options.at),
    delay: lastValue(options.delay),
    cwd: folderOption(lastValue(options.cwd)),
    env: envOption(options.env),
    tags: listOption("--tag", options.tag),
    queue: lastValue(options.queue),
    after: listOption("--after", options.after),
  };
  for (const key of Object.keys(spec)) if (spec[key] === undefined) delete spec[key];
  return spec;
}

export function registerAdd(cli: CAC): void {
  cli
    .command("add [...command]", "Queue one command: argv after --, or a shell line with --shell")
    .option(
      "--shell <line>",
      "Run this line through sh -c (default: the words after --, with no shell)",
      TEXT_OPTION,
    )
    .option("--id <id>", "The job id (default: generated, e.g. job-m1x2y3-4f5a6b7c)", TEXT_OPTION)
    .option("--queue <name>", "The named queue (default: default)", TEXT_OPTION)
    // Numbers and durations as text too: cac would read 0x10 as 16 and 1e2 as 100.
    .option("--priority <n>", "Higher runs first (default: 0)", TEXT_OPTION)
    .option("--retries <n>", "Retries after the first run (default: the max-retries config, 3)", TEXT_OPTION)
    .option(
      "--timeout <duration>",
      "Kill a run after 90s, 5m, 2h … (default: the job-timeout config, 1h)",
      TEXT_OPTION,
    )
    .option("--delay <duration>", "Run no sooner than this from now (default: now)", TEXT_OPTION)
    .option("--at <time>", "Run no sooner than this ISO-8601 time (default: now)", TEXT_OPTION)
    .option("--after <id>", "Run after this job completed; repeatable or a,b (default: none)", TEXT_OPTION)
    .option("--tag <tag>", "A tag for filtering; repeatable or a,b (default: none)", TEXT_OPTION)
    .option("--env <NAME=VALUE>", "Extra environment; repeatable (default: the worker's only)", TEXT_OPTION)
    .option(
      "--cwd <dir>",
      "The working folder, relative to the current one (default: the current folder)",
      TEXT_OPTION,
    )
    .option("-q, --quiet", "Print only the id, for id=$(queuectl add -q -- …) (default: a sentence)")
    .option("--json", "Print {id} as JSON (default: human text)")
    .example("queuectl add -- make test")
    .example("queuectl add --shell 'sort big.txt | uniq -c > counts.txt' --retries 0")
    .example("id=$(queuectl add -q --queue emails --after build -- ./send.sh)")
    .action(async (words: string[], options: AddOptions) => {
      const declared = [...cli.globalCommand.options, ...(cli.matchedCommand?.options ?? [])];
      refuseOptionsAfterCommand(cli.rawArgs, flagsWithValue(declared));
      const spec = specFromOptions(words, options);
      const prepare = (config: QueueConfig, now: number) => {
        checkFields(spec);
        return prepareJobs([{ value: spec, where: "the job" }], COMMAND_LINE_NAME, config, now);
      };
      await withStore(
        options,
        async (store) => {
          const now = await store.clockNow();
          const prepared = prepare(resolveConfig(await store.configGetAll()), now);
          const result = await enqueuePrepared(store, prepared, now);
          const id = result.jobs[0] ?? "";
          const canceled = result.canceledAtOnce.some((job) => job.id === id);
          if (options.json) printJson({ id, state: canceled ? "canceled" : "pending" });
          else if (options.quiet) console.log(id);
          else console.log(`${colors.green("✓")} Enqueued job ${safeText(id)}`);
          warnEach(canceledAtOnceWarnings(result.canceledAtOnce));
        },
        // A new store's settings are the defaults.
        { beforeCreate: () => prepare(resolveConfig({}), Date.now()) },
      );
    });
}
