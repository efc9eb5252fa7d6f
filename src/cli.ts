#!/usr/bin/env bun
/**
 * The entry point: cac wiring, global flags, and the single boundary where errors become
 * one line on stderr and an exit code (0 ok, 1 runtime failure, 2 bad usage or input).
 */

import { cac } from "cac";
import pkg from "../package.json" with { type: "json" };
import { registerCancelAndRerun } from "./commands/cancel.ts";
import { registerConfig } from "./commands/config.ts";
import { registerDashboard } from "./commands/dashboard.ts";
import { registerDlq } from "./commands/dlq.ts";
import { registerEnqueue } from "./commands/enqueue.ts";
import { registerExportImport } from "./commands/export.ts";
import { registerList } from "./commands/list.ts";
import { registerLogs } from "./commands/logs.ts";
import { registerPurge } from "./commands/purge.ts";
import { registerQueue } from "./commands/queue.ts";
import { registerSchedule } from "./commands/schedule.ts";
import { registerShow } from "./commands/show.ts";
import { registerStatus } from "./commands/status.ts";
import { registerSync } from "./commands/sync.ts";
import { registerWorker } from "./commands/worker.ts";
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

const GLOBAL_OPTIONS_WITH_VALUE = new Set(["--db"]);

function joinGroupCommand(args: string[], cli: ReturnType<typeof cac>): string[] {
  let index = 0;
  while (index < args.length && (args[index] ?? "").startsWith("-")) {
    index += GLOBAL_OPTIONS_WITH_VALUE.has(args[index] ?? "") ? 2 : 1;
  }
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
 */
function keepDashValues(args: string[], cli: ReturnType<typeof cac>): string[] {
  const takesValue = new Set<string>();
  for (const command of [cli.globalCommand, ...cli.commands]) {
    for (const option of command.options)
      if (!option.isBoolean) for (const name of option.names) takesValue.add(name);
  }
  const result: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? "";
    if (arg === "--") return [...result, ...args.slice(index)];
    const name = arg.replace(/^--?/, "");
    if (arg.startsWith("-") && !arg.includes("=") && takesValue.has(name) && args[index + 1] === "-") {
      result.push(`${arg}=-`);
      index++;
    } else result.push(arg);
  }
  return result;
}

/** Node's file-system errors (ENOENT, EACCES, …) are the environment's fault, not a bug. */
function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && /^E[A-Z]+$/.test(String((error as NodeJS.ErrnoException).code ?? ""));
}

function buildCli() {
  const cli = cac("queuectl");
  cli.option(
    "--db <url>",
    "Store: a SQLite path, sqlite://PATH or postgres://… (default: $QUEUECTL_DB, else $QUEUECTL_HOME/jobs.db)",
  );
  cli.option("--debug", "Print stack traces of internal errors (default: off)");
  registerEnqueue(cli);
  registerList(cli);
  registerShow(cli);
  registerStatus(cli);
  registerWorker(cli);
  registerDlq(cli);
  registerCancelAndRerun(cli);
  registerConfig(cli);
  registerLogs(cli);
  registerQueue(cli);
  registerSchedule(cli);
  registerPurge(cli);
  registerSync(cli);
  registerExportImport(cli);
  registerDashboard(cli);
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
 * of dumping an EPIPE error; whatever the reader wanted has been written.
 */
function exitQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") process.exit(0);
      throw error;
    });
  }
}

async function main(argv: string[]): Promise<void> {
  const debug = argv.includes("--debug");
  exitQuietlyOnClosedPipe();
  try {
    const args = argv.slice(2);
    if (args.length === 1 && ["--version", "-v", "-V"].includes(args[0] ?? "")) {
      console.log(`queuectl, version ${pkg.version}`);
      return;
    }
    const cli = buildCli();
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
    await cli.runMatchedCommand();
  } catch (error) {
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
