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
};

const GLOBAL_OPTIONS_WITH_VALUE = new Set(["--db"]);

function joinGroupCommand(args: string[]): string[] {
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
  const list = subcommands.map((name) => `  queuectl ${group} ${name}`).join("\n");
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
  registerSync(cli);
  registerExportImport(cli);
  registerDashboard(cli);
  cli.help();
  return cli;
}

function describeCacError(error: Error): UserError {
  const message = error.message.replace(/\.$/, "");
  return new UserError(
    message.charAt(0).toLowerCase() + message.slice(1),
    "see `queuectl --help` or `queuectl <command> --help`",
  );
}

async function main(argv: string[]): Promise<void> {
  const debug = argv.includes("--debug");
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
    cli.parse([argv[0] ?? "bun", argv[1] ?? "queuectl", ...joinGroupCommand(args)], { run: false });
    if (cli.options.help) return;
    if (!cli.matchedCommand) {
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
