/**
 * `service`: prints systemd units for a worker, a watcher and the dashboard, or installs
 * them with --install (user units, or system units as root) and says what to run next.
 */

import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { CAC } from "cac";
import { suggestion, UserError } from "../core/errors.ts";
import { queuectlHome } from "../core/home.ts";
import { colors } from "../render.ts";
import {
  UNIT_KINDS,
  type UnitKind,
  type UnitParams,
  unitFolder,
  unitName,
  unitText,
} from "../service/units.ts";
import { type GlobalOptions, integerOption, lastValue } from "./context.ts";

interface ServiceOptions extends GlobalOptions {
  install?: boolean;
  dir?: string;
  only?: string;
  concurrency?: unknown;
  jobs?: string;
  port?: unknown;
}

const CLI_PATH = resolve(import.meta.dir, "../cli.ts");

function parseKinds(value: unknown): UnitKind[] {
  if (value === undefined) return [...UNIT_KINDS];
  const kinds = String(lastValue(value)).split(",");
  for (const kind of kinds) {
    if (!(UNIT_KINDS as readonly string[]).includes(kind)) {
      throw new UserError(`--only: "${kind}" is not a unit`, suggestion(kind, UNIT_KINDS));
    }
  }
  return kinds as UnitKind[];
}

/** A file store is named by an absolute path: the unit does not run in this folder's cwd. */
function storeUrl(db: string | undefined): string | undefined {
  if (db === undefined || db === "") return undefined;
  if (/^postgres(ql)?:\/\//.test(db)) return db;
  return db.startsWith("sqlite://") ? `sqlite://${resolve(db.slice("sqlite://".length))}` : resolve(db);
}

/** A URL with a password makes the unit a secret: readable by its owner only. */
function holdsPassword(db: string | undefined): boolean {
  return db !== undefined && /^postgres(ql)?:\/\/[^/@]*:[^/@]*@/.test(db);
}

export function registerService(cli: CAC): void {
  cli
    .command("service", "Print systemd units for a worker, a watcher and the dashboard, or install them")
    .option(
      "--install",
      "Write the units to ~/.config/systemd/user, or /etc/systemd/system as root (default: print them)",
    )
    .option("--dir <folder>", "Install into this folder instead (default: as --install says)")
    .option("--only <units>", `Comma-separated: ${UNIT_KINDS.join(", ")} (default: all three)`)
    .option("--concurrency <n>", "Jobs the worker runs at once (default: 1)")
    .option("--jobs <dir>", "The jobs folder the watcher keeps synced (default: ./jobs, made absolute)")
    .option("--port <port>", "The dashboard's port (default: 8080)")
    .example("queuectl service --only worker --concurrency 4")
    .example(
      "queuectl service --install && systemctl --user daemon-reload && systemctl --user enable --now queuectl-worker",
    )
    .action(async (options: ServiceOptions) => {
      const kinds = parseKinds(options.only);
      const folder = unitFolder(process.getuid?.() ?? 1000);
      const dir = options.dir === undefined ? folder.dir : resolve(String(lastValue(options.dir)));
      const db = storeUrl(options.db ?? process.env.QUEUECTL_DB);
      const params: UnitParams = {
        bun: process.execPath,
        cli: CLI_PATH,
        home: queuectlHome(),
        db,
        path: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
        workingDirectory: process.cwd(),
        concurrency: integerOption("concurrency", lastValue(options.concurrency), 1, 1),
        jobsDir: resolve(String(lastValue(options.jobs) ?? "jobs")),
        port: integerOption("port", lastValue(options.port), 1, 8080),
        scope: folder.scope,
      };
      if (!options.install) {
        const where = options.dir === undefined ? folder.dir : dir;
        process.stdout.write(
          kinds.map((kind) => `# ${join(where, unitName(kind))}\n${unitText(kind, params)}`).join("\n"),
        );
        return;
      }
      mkdirSync(dir, { recursive: true });
      const secret = holdsPassword(db);
      for (const kind of kinds) {
        const file = join(dir, unitName(kind));
        writeFileSync(file, unitText(kind, params), { mode: secret ? 0o600 : 0o644 });
        if (secret) chmodSync(file, 0o600);
        console.log(`${colors.green("✓")} Wrote ${file}`);
      }
      const systemctl = folder.scope === "user" ? "systemctl --user" : "systemctl";
      const names = kinds.map(unitName).join(" ");
      console.log(
        `\nThese are ${folder.scope} units. Start them now and at every ${folder.scope === "user" ? "login" : "boot"}:\n` +
          `  ${systemctl} daemon-reload && ${systemctl} enable --now ${names}\n` +
          (folder.scope === "user"
            ? `To keep them running without a login session: loginctl enable-linger ${process.env.USER ?? "$USER"}\n`
            : "") +
          `Their output: journalctl ${folder.scope === "user" ? "--user " : ""}-u queuectl-worker -f`,
      );
    });
}
