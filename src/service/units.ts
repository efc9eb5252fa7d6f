/**
 * systemd units for running queuectl as a service: a worker (`worker run`), a watcher
 * (`watch DIR`) and the dashboard. Pure text from the parameters, so the tests read exactly
 * what gets installed.
 *
 * Each unit restarts on failure, carries the environment queuectl needs (QUEUECTL_HOME,
 * QUEUECTL_DB when set, and PATH so that jobs find the same tools as in the shell that
 * wrote the unit), and stops the worker with KillMode=mixed: SIGTERM reaches the worker
 * alone, which stops claiming and lets running jobs finish, and only what is still running
 * after TimeoutStopSec is killed.
 */

import { homedir } from "node:os";
import { join } from "node:path";

export const UNIT_KINDS = ["worker", "watch", "dashboard"] as const;
export type UnitKind = (typeof UNIT_KINDS)[number];

export interface UnitParams {
  /** The bun binary and the CLI entry the units run. */
  bun: string;
  cli: string;
  home: string;
  /** QUEUECTL_DB, made absolute for a file; undefined for the default under home. */
  db: string | undefined;
  path: string;
  /** The folder the units run in, and where a relative jobs folder is found. */
  workingDirectory: string;
  concurrency: number;
  jobsDir: string;
  port: number;
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

/**
 * A value for ExecStart= or Environment=: `%` starts a systemd specifier and must be doubled;
 * quotes keep spaces inside one word.
 */
function quoted(value: string): string {
  const escaped = value.replaceAll("%", "%%");
  return /[\s"'\\]/.test(escaped) ? `"${escaped.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"` : escaped;
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
    // A path setting: systemd takes it verbatim (no quotes), but still expands specifiers.
    `WorkingDirectory=${params.workingDirectory.replaceAll("%", "%%")}`,
    ...environment.map((entry) => `Environment=${quoted(entry)}`),
    `ExecStart=${[params.bun, params.cli, ...command(kind, params)].map(quoted).join(" ")}`,
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
      "# Without a fixed token the dashboard makes one and prints its URL to the journal.",
      "# Environment=QUEUECTL_DASHBOARD_TOKEN=…",
    );
  }
  lines.push(
    "",
    "[Install]",
    `WantedBy=${params.scope === "system" ? "multi-user.target" : "default.target"}`,
  );
  return `${lines.join("\n")}\n`;
}
