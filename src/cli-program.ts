/**
 * The full command line: cac wiring, two-word commands, help, and cac's errors turned into
 * UserErrors. Loaded for every command except the calls cli-direct.ts answers without it.
 */

import { type CAC, cac } from "cac";
import {
  asksForHelp,
  commandIndex,
  flagTypedWithValue,
  globalOptionWithoutValue,
  joinGroupWords,
  keepDashValues,
  longOptionNames,
  optionGivenTwice,
  optionWithEmptyValue,
  reportedUnknownOption,
  textOptionWithoutValue,
  typedOption,
  typedStoreOption,
  unknownLeadingOption,
  unmarkedArguments,
  VERSION_FLAGS,
  withWordsAfterDashes,
} from "./cli-argv.ts";
import { nearestName, suggestion, UserError } from "./core/errors.ts";
import { firstNamed, safeText } from "./render.ts";

/** Two-word commands: cac matches one word, so `worker start` is joined into one argument. */
const COMMAND_GROUPS: Record<string, string[]> = {
  worker: ["start", "stop", "run"],
  dlq: ["list", "retry"],
  config: ["get", "set"],
  queue: ["set", "pause", "resume", "list"],
  schedule: ["list", "remove"],
};

type Register = (cli: CAC) => void;

/**
 * Every command module, in the order `--help` lists them, keyed by the first word of the
 * commands it registers. Only the module of the command being run is imported: each one
 * pulls in its own dependencies (the store, the worker, chokidar, the dashboard …), and
 * loading them all cost a one-line `enqueue` most of its start-up time.
 */
const COMMAND_MODULES: [words: string[], load: () => Promise<Register>][] = [
  [["enqueue"], async () => (await import("./commands/enqueue.ts")).registerEnqueue],
  [["add"], async () => (await import("./commands/add.ts")).registerAdd],
  [["list"], async () => (await import("./commands/list.ts")).registerList],
  [["show"], async () => (await import("./commands/show.ts")).registerShow],
  [["status"], async () => (await import("./commands/status.ts")).registerStatus],
  [
    ["worker"],
    async () => {
      const [run, start, stop] = await Promise.all([
        import("./commands/worker-run.ts"),
        import("./commands/worker-start.ts"),
        import("./commands/worker-stop.ts"),
      ]);
      return (cli) => {
        run.registerWorkerRun(cli);
        start.registerWorkerStart(cli);
        stop.registerWorkerStop(cli);
      };
    },
  ],
  [["dlq"], async () => (await import("./commands/dlq.ts")).registerDlq],
  [["cancel", "rerun"], async () => (await import("./commands/cancel.ts")).registerCancelAndRerun],
  [["kill"], async () => (await import("./commands/kill.ts")).registerKill],
  [["config"], async () => (await import("./commands/config.ts")).registerConfig],
  [["wait"], async () => (await import("./commands/wait.ts")).registerWait],
  [["logs"], async () => (await import("./commands/logs.ts")).registerLogs],
  [["queue"], async () => (await import("./commands/queue.ts")).registerQueue],
  [["schedule"], async () => (await import("./commands/schedule.ts")).registerSchedule],
  [["purge"], async () => (await import("./commands/purge.ts")).registerPurge],
  [["sync", "watch"], async () => (await import("./commands/sync.ts")).registerSync],
  [["export", "import"], async () => (await import("./commands/export.ts")).registerExportImport],
  [["dashboard"], async () => (await import("./commands/dashboard.ts")).registerDashboard],
  [["service"], async () => (await import("./commands/service.ts")).registerService],
  [["completion"], async () => (await import("./commands/completion.ts")).registerCompletion],
];

/** Commands that need every command registered: completion scripts list them all. */
const NEEDS_EVERY_COMMAND = new Set(["completion"]);

/** The words with a group's subcommand joined to it, or undefined once the group's help is shown. */
function joinGroupCommand(args: string[], cli: CAC): string[] | undefined {
  const joined = joinGroupWords(args, COMMAND_GROUPS);
  if ("args" in joined) return joined.args;
  const { group, sub } = joined;
  const subcommands = COMMAND_GROUPS[group] ?? [];
  const wantsHelp = sub === undefined || sub === "--help" || sub === "-h";
  const describe = (name: string) =>
    cli.commands.find((command) => command.name === `${group} ${name}`)?.description ?? "";
  const width = Math.max(...subcommands.map((name) => name.length));
  const list = subcommands
    .map((name) => `  queuectl ${group} ${name.padEnd(width)}  ${describe(name)}`.trimEnd())
    .join("\n");
  if (wantsHelp && asksForHelp(args)) {
    console.log(
      `Usage: queuectl ${group} <${subcommands.join("|")}> [options]\n\nCommands:\n${list}\n\nRun \`queuectl ${group} <command> --help\` for details.`,
    );
    return undefined;
  }
  const nearSubcommand = sub === undefined ? undefined : nearestName(sub, subcommands);
  throw new UserError(
    sub === undefined ? `\`${group}\` needs a subcommand` : `unknown command \`${group} ${safeText(sub)}\``,
    sub === undefined
      ? `one of: ${subcommands.join(", ")}`
      : nearSubcommand === undefined
        ? `valid names: ${subcommands.map((name) => `${group} ${name}`).join(", ")}`
        : `did you mean \`${group} ${nearSubcommand}\`?`,
  );
}

/**
 * Registers the global options and the commands `word` needs: its own module when it names
 * one, else every module, for the full `--help` and for suggestions after a typo.
 */
/** The top-level help's options with the flag cac never sees, the columns aligned again. */
function withVersionLine(body: string): string {
  const rows = body
    .split("\n")
    .map((line) => /^\s*(\S.*?)\s{2,}(.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => [match[1] ?? "", match[2] ?? ""]);
  rows.push(["-v, --version", "Print the version (given alone)"]);
  const width = Math.max(...rows.map(([names]) => names?.length ?? 0));
  return rows.map(([names, text]) => `  ${(names ?? "").padEnd(width)}  ${text}`).join("\n");
}

async function buildCli(word: string | undefined): Promise<CAC> {
  const cli = cac("queuectl");
  cli.option(
    "--db <url>",
    "Store: a SQLite path, sqlite://PATH or postgres://… (default: $QUEUECTL_DB, else $QUEUECTL_HOME/jobs.db)",
  );
  cli.option("--debug", "Print stack traces of internal errors (default: off)");
  const wanted = COMMAND_MODULES.filter(
    ([words]) => word !== undefined && words.includes(word) && !NEEDS_EVERY_COMMAND.has(word),
  );
  const modules = wanted.length > 0 ? wanted : COMMAND_MODULES;
  const registers = await Promise.all(modules.map(([, load]) => load()));
  for (const register of registers) register(cli);
  // cac leaves a command's own description out of its --help; put it under the usage line.
  cli.help((sections) => {
    const usage = sections.find((section) => section.title === "Usage")?.body ?? "";
    const command = cli.commands.find((c) => usage.trim() === `$ queuectl ${c.rawName}`);
    if (command?.description) sections.splice(2, 0, { body: command.description });
    // `--version` is read before cac (alone only, see cli-argv.ts), so cac does not list it.
    const options = sections.find((section) => section.title === "Options");
    if (command === undefined && options) options.body = withVersionLine(options.body);
    return sections;
  });
  return cli;
}

/** Options users reach for on one command that another command gives: the hint names it. */
const OPTION_OF_ANOTHER_COMMAND: Record<string, Record<string, string>> = {
  sync: { "--watch": "to keep syncing as files change, run `queuectl watch [folder]`" },
};

function describeCacError(error: Error, cli: CAC, args: string[]): UserError {
  const unknown = reportedUnknownOption(error.message);
  if (unknown !== undefined) {
    const typed = typedOption(unknown, args);
    const known = longOptionNames([...cli.globalCommand.options, ...(cli.matchedCommand?.options ?? [])]);
    const nearest = typed.startsWith("--") ? nearestName(typed, known) : undefined;
    const command = cli.matchedCommand?.name;
    const elsewhere = command === undefined ? undefined : OPTION_OF_ANOTHER_COMMAND[command]?.[typed];
    if (elsewhere !== undefined) return new UserError(`unknown option \`${safeText(typed)}\``, elsewhere);
    // `queuectl add ls -la` reads -la as an option of add; the fix is the missing --.
    if (command === "add" && nearest === undefined) {
      return new UserError(
        `unknown option \`${safeText(typed)}\``,
        "put the command after --: queuectl add [options] -- CMD [ARGS…]",
      );
    }
    return new UserError(
      `unknown option \`${safeText(typed)}\``,
      `${nearest ? `did you mean \`${nearest}\`?; ` : ""}see \`queuectl ${command ? `${command} ` : ""}--help\``,
    );
  }
  const message = cappedUnusedArgs(error.message.replace(/\.$/, ""));
  const command = cli.matchedCommand?.name;
  const help = command
    ? `see \`queuectl ${command} --help\``
    : "see `queuectl --help` or `queuectl <command> --help`";
  const extra =
    command !== undefined && message.startsWith("Unused args: ") ? EXTRA_WORDS_FIX[command] : undefined;
  return new UserError(
    message.charAt(0).toLowerCase() + message.slice(1),
    / value is missing$/.test(message)
      ? `put its value right after it; ${help}`
      : extra
        ? `${extra}; ${help}`
        : help,
  );
}

/**
 * What a leftover word most likely means, by command: a job the shell split into words (an
 * unquoted `$job`, a forgotten pair of quotes), or several ids given to a one-id command.
 */
const EXTRA_WORDS_FIX: Record<string, string> = {
  enqueue: `the job is one argument: quote it, as in queuectl enqueue '{"id":"job1","command":"echo hi"}' or "$job"`,
  cancel: "it takes one job id: run it once per id (`queuectl kill ID…` takes several)",
  rerun: "it takes one job id: run it once per id",
  "dlq retry": "it takes one job id: run it once per id, or give --all",
  show: "it takes one job id: run it once per id",
  logs: "it takes one job id: run it once per id",
  "schedule remove": "it takes one schedule id: run it once per id",
  "config get": "it takes one key: run it once per key, or give no key for all of them",
  "config set": "it takes one key and one value: quote a value with spaces, and set one key at a time",
};

/** cac names every word left over; `cancel $(list --ids)` would make that one line of kilobytes. */
function cappedUnusedArgs(message: string): string {
  const prefix = "Unused args: ";
  if (!message.startsWith(prefix)) return message;
  const words = message.slice(prefix.length).split(", ");
  return `${prefix}${firstNamed(words)}`;
}

/** Throws for a command word that names no command (nor group), with the nearest name. */
function refuseUnknownCommand(cli: CAC, word: string | undefined): void {
  if (word === undefined) return;
  const known = [...new Set(cli.commands.map((command) => command.name.split(" ")[0] ?? ""))].filter(Boolean);
  if (known.includes(word)) return;
  throw new UserError(
    `unknown command \`${safeText(word)}\``,
    `${suggestion(word, known)}; see \`queuectl --help\``,
  );
}

/**
 * Throws for an unknown option before the command, which took the next word as its value:
 * cac then sees no command (`--verbose status`), or the command as an argument (`--dbx x
 * status`), and would blame the command. Named as typed, with the nearest global option.
 */
function refuseUnknownLeadingOption(cli: CAC, args: string[]): void {
  const option = unknownLeadingOption(
    args,
    cli.globalCommand.options.flatMap((global) => global.names),
  );
  if (option === undefined) return;
  const version = VERSION_FLAGS.filter((flag) => flag.startsWith("--"));
  const known = [...longOptionNames(cli.globalCommand.options), ...version];
  const nearest = option.startsWith("--") ? nearestName(option, known) : undefined;
  throw new UserError(
    `unknown option \`${safeText(option)}\``,
    `${nearest ? `did you mean \`${nearest}\`?; ` : ""}see \`queuectl --help\``,
  );
}

/** Parses `args` (the words after `queuectl`) and runs the command they name. */
export async function runProgram(argv: string[], args: string[]): Promise<void> {
  let cli: CAC | undefined;
  try {
    // Help loads every module: cac falls back to the full listing in cases only it decides.
    cli = await buildCli(asksForHelp(args) ? undefined : args[commandIndex(args)]);
    if (args.length === 0) {
      cli.outputHelp();
      return;
    }
    // cac answers `--help` after a word it does not know with the whole listing, exit 0.
    if (asksForHelp(args)) {
      refuseUnknownLeadingOption(cli, args);
      refuseUnknownCommand(cli, args[commandIndex(args)]);
    }
    await parseAndRun(cli, argv, args);
  } catch (error) {
    if (error instanceof Error && error.name === "CACError" && cli !== undefined) {
      throw describeCacError(error, cli, args);
    }
    throw error;
  }
}

async function parseAndRun(cli: CAC, argv: string[], args: string[]): Promise<void> {
  const words = joinGroupCommand(args, cli);
  if (words === undefined) return;
  cli.parse(
    [
      argv[0] ?? "bun",
      argv[1] ?? "queuectl",
      ...keepDashValues(words, [...cli.globalCommand.options, ...cli.commands.flatMap((c) => c.options)]),
    ],
    {
      run: false,
    },
  );
  if (cli.options.help) return;
  const db = globalOptionWithoutValue(words);
  if (db !== undefined) {
    // Often `--db "$VAR"` with VAR unset: falling back to the default store would hide that.
    throw new UserError(
      db.empty ? `${db.option} is empty` : `option \`${db.option} <url>\` value is missing`,
      `give a file path, sqlite://PATH or postgres://… right after ${db.option}, or leave ${db.option} out for the default store`,
    );
  }
  cli.args = unmarkedArguments(cli.args);
  const store = typedStoreOption(words);
  if (store !== undefined) cli.options.db = store;
  if (!cli.matchedCommand) {
    refuseUnknownLeadingOption(cli, words);
    if (cli.args[0] === undefined) throw new UserError("no command given", "see `queuectl --help`");
    const word = String(cli.args[0] ?? "");
    refuseUnknownCommand(cli, word);
    throw new UserError(`unknown command \`${safeText(word)}\``, "see `queuectl --help`");
  }
  const help = `see \`queuectl ${cli.matchedCommand.name} --help\``;
  const empty = optionWithEmptyValue(words, [...cli.globalCommand.options, ...cli.matchedCommand.options]);
  if (empty !== undefined) {
    throw new UserError(`option \`${empty}\` is empty`, `give it a value, or leave it out; ${help}`);
  }
  const valueless = textOptionWithoutValue(cli.matchedCommand.options, cli.options);
  if (valueless !== undefined) {
    throw new UserError(`option \`${valueless}\` value is missing`, `put its value right after it; ${help}`);
  }
  const flag = flagTypedWithValue(words, [...cli.globalCommand.options, ...cli.matchedCommand.options]);
  if (flag !== undefined) {
    const bare = flag.split("=")[0]?.replace(/^--no-/, "--") ?? flag;
    throw new UserError(
      flag.startsWith("--no-")
        ? `\`${safeText(flag)}\` is not an option: \`${safeText(bare)}\` is off unless given`
        : `\`${safeText(flag)}\`: a flag takes no value`,
      `give \`${safeText(bare)}\` to turn it on, or leave it out for off; ${help}`,
    );
  }
  const twice = optionGivenTwice(words, [...cli.globalCommand.options, ...cli.matchedCommand.options]);
  if (twice !== undefined) {
    throw new UserError(`${twice} given twice`, `give it once; ${help}`);
  }
  cli.args = withWordsAfterDashes(cli.args, cli.options["--"]);
  await cli.runMatchedCommand();
}
