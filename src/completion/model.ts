/**
 * What a completion script needs to know about the command line, taken from the registered
 * cac commands so that a new command or flag is completed without touching the scripts:
 * each command's words, flags, and what its argument is (job ids, queue names, files).
 */

import type { CAC } from "cac";
import { longOptionNames } from "../cli-argv.ts";

export type ArgumentKind = "job" | "queue" | "file" | "none";

export interface CompletionCommand {
  /** One word (`list`) or a group and its subcommand (`worker start`). */
  name: string;
  description: string;
  flags: string[];
  argument: ArgumentKind;
}

export interface CompletionModel {
  commands: CompletionCommand[];
  globalFlags: string[];
  /** Flags whose value is a queue name, a state, or a path. */
  queueFlags: string[];
  stateFlags: string[];
  fileFlags: string[];
  states: readonly string[];
}

function argumentKind(rawName: string): ArgumentKind {
  const argument = /[<[](?:\.\.\.)?(\w+)[>\]]/.exec(rawName)?.[1];
  if (argument === undefined) return "none";
  if (rawName.startsWith("schedule ")) return "none";
  if (/^ids?$/.test(argument)) return "job";
  if (argument === "name" && rawName.startsWith("queue ")) return "queue";
  if (["file", "dir", "json"].includes(argument)) return argument === "json" ? "none" : "file";
  return "none";
}

export function completionModel(cli: CAC, states: readonly string[]): CompletionModel {
  const commands = cli.commands
    .filter((command) => command.name !== "")
    .map((command) => ({
      name: command.name,
      description: command.description.split(/[:;(]/)[0]?.trim() ?? "",
      flags: [...new Set([...longOptionNames(command.options), "--help"])],
      argument: argumentKind(command.rawName),
    }));
  return {
    commands,
    globalFlags: [...new Set(longOptionNames(cli.globalCommand.options))].filter((flag) => flag !== "--help"),
    queueFlags: ["--queue"],
    stateFlags: ["--state"],
    fileFlags: ["--db", "--file", "-f", "--cwd", "--watch"],
    states,
  };
}

/** The first words, each once: `worker` stands for `worker start`, `worker stop` … */
export function topWords(model: CompletionModel): string[] {
  return [...new Set(model.commands.map((command) => command.name.split(" ")[0] ?? ""))];
}

/** Subcommands by group: { worker: ["start", "stop", "run"], … }. */
export function groups(model: CompletionModel): Map<string, string[]> {
  const result = new Map<string, string[]>();
  for (const command of model.commands) {
    const [group, sub] = command.name.split(" ");
    if (group === undefined || sub === undefined) continue;
    result.set(group, [...(result.get(group) ?? []), sub]);
  }
  return result;
}
