#!/usr/bin/env bun
/**
 * The entry point: cac wiring, global flags, and the single boundary where errors become
 * one line on stderr and an exit code (0 ok, 1 runtime failure, 2 bad usage or input).
 */

import { type CAC, cac } from "cac";
import pkg from "../package.json" with { type: "json" };
import { suggestion, UserError } from "./core/errors.ts";
import { safeText } from "./render.ts";

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
  [["list"], async () => (await import("./commands/list.ts")).registerList],
  [["show"], async () => (await import("./commands/show.ts")).registerShow],
  [["status"], async () => (await import("./commands/status.ts")).registerStatus],
  [["worker"], async () => (await import("./commands/worker.ts")).registerWorker],
  [["dlq"], async () => (await import("./commands/dlq.ts")).registerDlq],
  [["cancel", "rerun"], async () => (await import("./commands/cancel.ts")).registerCancelAndRerun],
  [["kill"], async () => (await import("./commands/kill.ts")).registerKill],
  [["config"], async () => (await import("./commands/config.ts")).registerConfig],
  [["logs"], async () => (await import("./commands/logs.ts")).registerLogs],
  [["queue"], async () => (await import("./commands/queue.ts")).registerQueue],
  [["schedule"], async () => (await import("./commands/schedule.ts")).registerSchedule],
  [["purge"], async () => (await import("./commands/purge.ts")).registerPurge],
  [["sync", "watch"], async () => (await import("./commands/sync.ts")).registerSync],
  [["export", "import"], async () => (await import("./commands/export.ts")).registerExportImport],
  [["dashboard"], async () => (await import("./commands/dashboard.ts")).registerDashboard],
];

const GLOBAL_OPTIONS_WITH_VALUE = new Set(["--db"]);

/** The index of the command word, past any global options before it. */
function commandIndex(args: string[]): number {
  let index = 0;
  while (index < args.length && (args[index] ?? "").startsWith("-")) {
    index += GLOBAL_OPTIONS_WITH_VALUE.has(args[index] ?? "") ? 2 : 1;
  }
  return index;
}

function joinGroupCommand(args: string[], cli: CAC): string[] {
  const index = commandIndex(args);
  const group = args[index];
  if (group === undefined || !(group in COMMAND_GROUPS)) return args;
  const sub = args[index + 1];
  const subcommands = COMMAND_GROUPS[group] ?? [];
  if (sub !== undefined && subcommands.includes(sub)) {
    return [...args.slice(0, index), `${group} ${sub}`, ...args.slice(index + 2)];
  }
  const wantsHelp = sub === undefined || sub === "--help" || sub === "-h";
  const describe = (name: string) =>
    cli.commands.find((command) => command.name === `${group} ${name}`)?.description ?? "";
  const width = Math.max(...subcommands.map((name) => name.length));
  const list = subcommands
    .map((name) => `  queuectl ${group} ${name.padEnd(width)}  ${describe(name)}`.trimEnd())
    .join("\n");
  if (wantsHelp && (args.includes("--help") || args.includes("-h"))) {
    console.log(
      `Usage: queuectl ${group} <${subcommands.join("|")}> [options]\n\nCommands:\n${list}\n\nRun \`queuectl ${group} <command> --help\` for details.`,
    );
    process.exit(0);
  }
  throw new UserError(
    sub === undefined ? `\`${group}\` needs a subcommand` : `unknown command \`${group} ${safeText(sub)}\``,
    sub === undefined ? `one of: ${subcommands.join(", ")}` : suggestion(sub, subcommands),
  );
}

/**
 * `-f -` means "read stdin", but cac's parser takes a lone `-` for a missing value. Joining it
 * as `-f=-` keeps the convention working for every option that takes a value.
 *
 * cac also tells its parser about boolean flags by their camelCase names only, so a
 * kebab-case flag takes the next word as its value: `sync --allow-shared-folder DIR` would
 * lose DIR and sync ./jobs. Such flags are written `--flag=true`.
 */
function keepDashValues(args: string[], cli: CAC): string[] {
  const takesValue = new Set<string>();
  const kebabFlags = new Set<string>();
  for (const command of [cli.globalCommand, ...cli.commands]) {
    for (const option of command.options) {
      if (!option.isBoolean) for (const name of option.names) takesValue.add(name);
      else
        for (const match of option.rawName.matchAll(/--([a-z0-9]+(?:-[a-z0-9]+)+)/g))
          kebabFlags.add(match[1] ?? "");
    }
  }
  const result: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? "";
    if (arg === "--") return [...result, ...args.slice(index)];
    // An empty value ('') would reach the command as the number 0; as --flag= it is "missing".
    if (
      arg.startsWith("-") &&
      !arg.includes("=") &&
      takesValue.has(arg.replace(/^--?/, "")) &&
      args[index + 1] === ""
    ) {
      result.push(`${arg}=`);
      index++;
      continue;
    }
    const name = arg.replace(/^--?/, "");
    const next = args[index + 1] ?? "";
    // "-" (stdin) and negative numbers would otherwise parse as options of their own.
    if (
      arg.startsWith("-") &&
      !arg.includes("=") &&
      takesValue.has(name) &&
      (next === "-" || /^-\d/.test(next))
    ) {
      result.push(`${arg}=${next}`);
      index++;
    } else if (arg.startsWith("--") && kebabFlags.has(name)) {
      result.push(`${arg}=true`);
    } else result.push(arg);
  }
  return result;
}

/** Node's file-system errors (ENOENT, EACCES, …) are the environment's fault, not a bug. */
function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && /^E[A-Z]+$/.test(String((error as NodeJS.ErrnoException).code ?? ""));
}

/**
 * Registers the global options and the commands `word` needs: its own module when it names
 * one, else every module, for the full `--help` and for suggestions after a typo.
 */
async function buildCli(word: string | undefined): Promise<CAC> {
  const cli = cac("queuectl");
  cli.option(
    "--db <url>",
    "Store: a SQLite path, sqlite://PATH or postgres://… (default: $QUEUECTL_DB, else $QUEUECTL_HOME/jobs.db)",
  );
  cli.option("--debug", "Print stack traces of internal errors (default: off)");
  const wanted = COMMAND_MODULES.filter(([words]) => word !== undefined && words.includes(word));
  const modules = wanted.length > 0 ? wanted : COMMAND_MODULES;
  const registers = await Promise.all(modules.map(([, load]) => load()));
  for (const register of registers) register(cli);
  // cac leaves a command's own description out of its --help; put it under the usage line.
  cli.help((sections) => {
    const usage = sections.find((section) => section.title === "Usage")?.body ?? "";
    const command = cli.commands.find((c) => usage.trim() === `$ queuectl ${c.rawName}`);
    if (command?.description) sections.splice(2, 0, { body: command.description });
    return sections;
  });
  return cli;
}

function describeCacError(error: Error): UserError {
  const message = error.message.replace(/\.$/, "");
  return new UserError(
    message.charAt(0).toLowerCase() + message.slice(1),
    "see `queuectl --help` or `queuectl <command> --help`",
  );
}

/**
 * `queuectl list | head` closes the pipe early. Like any Unix filter, stop quietly instead
 * of dumping an EPIPE error; whatever the reader wanted has been written. The stream's
 * unhandled 'error' is caught here rather than by a listener on process.stdout, because
 * merely touching process.stdout loads Node's stream machinery: about 15 ms, four times a
 * bare Bun start, paid by every command even when it prints one line.
 */
function exitQuietlyOnClosedPipe(): void {
  // Buffered writes report the closed pipe later, as a rejection of the flush.
  for (const event of ["uncaughtException", "unhandledRejection"] as const) {
    process.on(event, (error: unknown) => {
      if (isClosedPipe(error)) process.exit(0);
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    });
  }
}

/** Without a listener, a write to a closed pipe throws at the write itself, inside the command. */
function isClosedPipe(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === "EPIPE";
}

async function main(argv: string[]): Promise<void> {
  const debug = argv.includes("--debug");
  exitQuietlyOnClosedPipe();
  try {
    // `queuectl help [command]` reads as `queuectl [command] --help`.
    const args = argv[2] === "help" ? [...argv.slice(3), "--help"] : argv.slice(2);
    if (args.length === 1 && ["--version", "-v", "-V"].includes(args[0] ?? "")) {
      console.log(`queuectl, version ${pkg.version}`);
      return;
    }
    // Help loads every module: cac falls back to the full listing in cases only it decides.
    const wantsHelp = args.includes("--help") || args.includes("-h");
    const cli = await buildCli(wantsHelp ? undefined : args[commandIndex(args)]);
    if (args.length === 0) {
      cli.outputHelp();
      return;
    }
    cli.parse(
      [argv[0] ?? "bun", argv[1] ?? "queuectl", ...keepDashValues(joinGroupCommand(args, cli), cli)],
      {
        run: false,
      },
    );
    if (cli.options.help) return;
    if (!cli.matchedCommand) {
      if (cli.args[0] === undefined) {
        // `queuectl --verbose status` parses as --verbose=status: name the option, not "command ``".
        const globals = cli.globalCommand.options.flatMap((option) => option.names);
        const option = args.find(
          (arg) => arg.startsWith("-") && !globals.includes(arg.replace(/^--?|=.*$/g, "")),
        );
        throw option === undefined
          ? new UserError("no command given", "see `queuectl --help`")
          : new UserError(`unknown option \`${option.split("=")[0]}\``, "see `queuectl --help`");
      }
      const unknown = String(cli.args[0] ?? "");
      const known = [...new Set(cli.commands.map((command) => command.name.split(" ")[0] ?? ""))].filter(
        Boolean,
      );
      throw new UserError(
        `unknown command \`${safeText(unknown)}\``,
        `${suggestion(unknown, known)}; see \`queuectl --help\``,
      );
    }
    // After `--` everything is an argument, so that `queuectl show -- -rf` finds job "-rf";
    // cac would otherwise set those aside in options["--"].
    const afterDashes = cli.options["--"];
    if (Array.isArray(afterDashes) && afterDashes.length > 0) cli.args = [...cli.args, ...afterDashes];
    await cli.runMatchedCommand();
  } catch (error) {
    if (isClosedPipe(error)) process.exit(0);
    if (error instanceof UserError) {
      process.stderr.write(`error: ${error.message}${error.hint ? ` — ${error.hint}` : ""}\n`);
      process.exitCode = error.exitCode;
    } else if (error instanceof Error && error.name === "CACError") {
      const userError = describeCacError(error);
      process.stderr.write(`error: ${userError.message} — ${userError.hint}\n`);
      process.exitCode = 2;
    } else if (isSystemError(error)) {
      process.stderr.write(
        `error: ${safeText(error.message)} — check that the path exists and that you may read and write it\n`,
      );
      if (debug && error.stack) process.stderr.write(`${error.stack}\n`);
      process.exitCode = 1;
    } else {
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(
        `error: ${safeText(message)} — this is a bug in queuectl; rerun with --debug and report it\n`,
      );
      if (debug && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
      process.exitCode = 1;
    }
  }
}

await main(process.argv);
