/**
 * systemd units for running queuectl as a service: a worker (`worker run`), a watcher
 * (`watch DIR`) and the dashboard. Pure text from the parameters, so the tests read exactly
 * what gets installed.
 *
 * Each unit restarts on failure, carries the environment queuectl needs (QUEUECTL_HOME,
 * QUEUECTL_DB and QUEUECTL_HOST when set, and PATH so that jobs find the same tools as in the shell that
 * wrote the unit), and stops the worker with KillMode=mixed: SIGTERM reaches the worker
 * alone, which stops claiming and lets running jobs finish, and only what is still running
 * after TimeoutStopSec is killed.
 */

import { homedir } from "node:os";
import { join } from "node:path";
import { UserError } from "../core/errors.ts";

export const UNIT_KINDS = ["worker", "watch", "dashboard"] as const;
export type UnitKind = (typeof UNIT_KINDS)[number];

export interface UnitParams {
  /** The command that starts queuectl: bun and the CLI's entry, or the binary `bun run build` makes. */
  cli: string[];
  home: string;
  /** QUEUECTL_DB, made absolute for a file; undefined for the default under home. */
  db: string | undefined;
  /** QUEUECTL_HOST when set, so the units register under the name the shell used; undefined for the OS host name. */
  host?: string | undefined;
  path: string;
  /** The folder the units run in, and where a relative jobs folder is found. */
  workingDirectory: string;
  concurrency: number;
  jobsDir: string;
  port: number;
  /** The file holding QUEUECTL_DASHBOARD_TOKEN, read by the dashboard's unit. */
  dashboardEnvFile: string;
  /** System units start at boot for everyone; user units with the user's session (or linger). */
  scope: "user" | "system";
}

/** Where --install writes: the user's unit folder, or the system's when run as root. */
export function unitFolder(uid: number, home: string = homedir()): { dir: string; scope: "user" | "system" } {
  return uid === 0
    ? { dir: "/etc/systemd/system", scope: "system" }
    : { dir: join(home, ".config", "systemd", "user"), scope: "user" };
}

export function unitName(kind: UnitKind): string {
  return `queuectl-${kind}.service`;
}

/** systemd's C escapes, for the characters a quoted word cannot hold as they are. */
const C_ESCAPES: Record<string, string> = { "\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r" };

function isControl(ch: string): boolean {
  const code = ch.charCodeAt(0);
  return code < 0x20 || code === 0x7f;
}

function hasControl(text: string): boolean {
  return [...text].some(isControl);
}

/**
 * One word of ExecStart= or Environment=. `%` starts a specifier in both and is doubled.
 * Quotes keep spaces inside the word, and in them a backslash, a quote or a control
 * character is written as a C escape, which both lines undo. A line ending in a bare
 * backslash would continue onto the next, so such a word is quoted too.
 */
function word(value: string): string {
  const escaped = value.replaceAll("%", "%%");
  if (escaped !== "" && !/[\s"'\\]/.test(escaped) && !hasControl(escaped)) return escaped;
  const hexEscape = (ch: string) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, "0")}`;
  const inner = [...escaped].map((ch) => C_ESCAPES[ch] ?? (isControl(ch) ? hexEscape(ch) : ch));
  return `"${inner.join("")}"`;
}

/** ExecStart= also expands `$NAME` and `${NAME}`, which Environment= does not: `$$` is a `$`. */
function execWord(value: string): string {
  return word(value).replaceAll("$", () => "$$");
}

/**
 * A path setting (WorkingDirectory=, EnvironmentFile=) is taken verbatim: no quotes, no
 * escapes, no `$` expansion, only specifiers. So what it cannot hold as it is (a control
 * character, whitespace at either end, which systemd strips, or a trailing backslash, which
 * continues the line) is refused rather than written as another path.
 */
function pathValue(setting: string, path: string): string {
  if (hasControl(path) || path.trim() !== path || path.endsWith("\\")) {
    throw new UserError(
      `${setting}= cannot hold the path ${JSON.stringify(path)}: systemd reads a control character, whitespace at either end or a trailing backslash in it as something else`,
      "run `queuectl service` from, and keep QUEUECTL_HOME in, a folder whose path has none of these",
    );
  }
  return `${setting}=${path.replaceAll("%", "%%")}`;
}

function command(kind: UnitKind, params: UnitParams): string[] {
  if (kind === "worker") return ["worker", "run", "--concurrency", String(params.concurrency)];
  if (kind === "watch") return ["watch", params.jobsDir];
  return ["dashboard", "--port", String(params.port)];
}

const DESCRIPTIONS: Record<UnitKind, string> = {
  worker: "queuectl worker: runs queued jobs",
  watch: "queuectl watcher: keeps a jobs folder synced into the queue",
  dashboard: "queuectl dashboard and Prometheus metrics",
};

export function unitText(kind: UnitKind, params: UnitParams): string {
  const environment = [
    `QUEUECTL_HOME=${params.home}`,
    ...(params.db === undefined ? [] : [`QUEUECTL_DB=${params.db}`]),
    ...(params.host === undefined ? [] : [`QUEUECTL_HOST=${params.host}`]),
    `PATH=${params.path}`,
  ];
  const lines = [
    "[Unit]",
    `Description=${DESCRIPTIONS[kind]}`,
    "After=network-online.target",
    "Wants=network-online.target",
    "",
    "[Service]",
    "Type=simple",
    ...(params.scope === "system" ? ["# Runs as root unless you add: User=<name>"] : []),
    pathValue("WorkingDirectory", params.workingDirectory),
    ...environment.map((entry) => `Environment=${word(entry)}`),
    `ExecStart=${[...params.cli, ...command(kind, params)].map(execWord).join(" ")}`,
    "Restart=on-failure",
    "RestartSec=5",
  ];
  if (kind === "worker") {
    lines.push(
      "# SIGTERM to the worker only: it stops claiming and lets running jobs finish.",
      "KillMode=mixed",
      "TimeoutStopSec=5min",
    );
  }
  if (kind === "dashboard") {
    lines.push(
      "# QUEUECTL_DASHBOARD_TOKEN, the token every request needs; sign in at",
      `# http://127.0.0.1:${params.port}/?token=<that token>. Kept out of this file: any local user can read it.`,
      pathValue("EnvironmentFile", params.dashboardEnvFile),
    );
  }
  lines.push(
    "",
    "[Install]",
    `WantedBy=${params.scope === "system" ? "multi-user.target" : "default.target"}`,
  );
  return `${lines.join("\n")}\n`;
}
