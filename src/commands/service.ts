/**
 * `service`: prints systemd units for a worker, a watcher and the dashboard, or installs
 * them with --install (user units, or system units as root) and says what to run next.
 */

import { chmodSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { CAC } from "cac";
import { TEXT_OPTION } from "../cli-argv.ts";
import { selfCommand } from "../cli-self.ts";
import { shellWord, suggestion, UserError } from "../core/errors.ts";
import { queuectlHome } from "../core/home.ts";
import { colors } from "../render.ts";
import { dashboardTokenFile, ensureDashboardToken } from "../service/dashboard-token.ts";
import {
  UNIT_KINDS,
  type UnitKind,
  type UnitParams,
  unitFolder,
  unitName,
  unitText,
} from "../service/units.ts";
import { storeTarget } from "../store/open.ts";
import { type GlobalOptions, integerOption, lastValue, MAX_WORKER_SLOTS } from "./context.ts";

interface ServiceOptions extends GlobalOptions {
  install?: boolean;
  dir?: string[];
  only?: string[];
  concurrency?: unknown;
  jobs?: string[];
  port?: unknown;
}

function parseKinds(value: unknown): UnitKind[] {
  if (value === undefined) return [...UNIT_KINDS];
  const kinds = String(lastValue(value)).split(",");
  for (const [index, kind] of kinds.entries()) {
    if (!(UNIT_KINDS as readonly string[]).includes(kind)) {
      throw new UserError(`--only: "${kind}" is not a unit`, suggestion(kind, UNIT_KINDS));
    }
    if (kinds.indexOf(kind) !== index)
      throw new UserError(`--only names "${kind}" twice`, "name each unit once, e.g. --only worker,watch");
  }
  return kinds as UnitKind[];
}

/**
 * The watcher's unit is only as good as its folder: installed for a folder that is not
 * there, or that others can write (which `watch` refuses), it would fail and restart
 * forever. Printing only warns, since the folder may be made before the unit is installed
 * by hand.
 */
async function checkJobsFolder(kinds: readonly UnitKind[], jobsDir: string, install: boolean): Promise<void> {
  if (!kinds.includes("watch")) return;
  let message: string;
  let fix = "create it, give another with --jobs DIR, or leave the watcher out with --only worker,dashboard";
  try {
    if (!statSync(jobsDir).isDirectory()) message = `the jobs folder ${jobsDir} is not a folder`;
    else {
      const { identifyJobsFolder } = await import("../jobfiles/scan.ts");
      try {
        await identifyJobsFolder(jobsDir, false);
        return;
      } catch (error) {
        if (!(error instanceof UserError)) throw error;
        message = error.message;
        // A unit runs `watch` without --allow-shared-folder: only the folder's fix applies.
        fix = error.hint.replace(/, or pass --allow-shared-folder.*$/, "");
      }
    }
  } catch (error) {
    if (error instanceof UserError) throw error;
    message = `the jobs folder ${jobsDir} does not exist`;
  }
  if (install) throw new UserError(message, `${fix}; nothing was written`);
  process.stderr.write(`warning: ${message}: the watch unit would fail until that is fixed (${fix})\n`);
}

/** A file store is named by an absolute path: the unit does not run in this folder's cwd. */
function storeUrl(db: string | undefined): string | undefined {
  if (db === undefined || db.trim() === "") return undefined;
  const target = storeTarget(db.trim());
  if ("postgres" in target) return target.postgres;
  return db.trim().startsWith("sqlite://") ? `sqlite://${target.sqlite}` : target.sqlite;
}

/** A URL with a password makes the unit a secret: readable by its owner only. */
function holdsPassword(db: string | undefined): boolean {
  return db !== undefined && /^postgres(ql)?:\/\/[^/@]*:[^/@]*@/i.test(db);
}

export function registerService(cli: CAC): void {
  cli
    .command("service", "Print systemd units for a worker, a watcher and the dashboard, or install them")
    .option(
      "--install",
      "Write the units to ~/.config/systemd/user, or /etc/systemd/system as root (default: print them)",
    )
    // Folders as typed: cac would read a folder named 007 as the number 7.
    .option("--dir <folder>", "Install into this folder instead (default: as --install says)", TEXT_OPTION)
    .option("--only <units>", `Comma-separated: ${UNIT_KINDS.join(", ")} (default: all three)`, TEXT_OPTION)
    .option("--concurrency <n>", "Jobs the worker runs at once (default: 1)", TEXT_OPTION)
    .option(
      "--jobs <dir>",
      "The jobs folder the watcher keeps synced (default: ./jobs, made absolute)",
      TEXT_OPTION,
    )
    .option("--port <port>", "The dashboard's port (default: 8080)", TEXT_OPTION)
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
        cli: selfCommand(),
        home: queuectlHome(),
        db,
        host: process.env.QUEUECTL_HOST?.trim() || undefined,
        path: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
        workingDirectory: process.cwd(),
        concurrency: integerOption("concurrency", lastValue(options.concurrency), 1, 1, MAX_WORKER_SLOTS),
        jobsDir: resolve(String(lastValue(options.jobs) ?? "jobs")),
        port: integerOption("port", lastValue(options.port), 1, 8080),
        dashboardEnvFile: dashboardTokenFile(queuectlHome()),
        scope: folder.scope,
      };
      if (params.port > 65_535) {
        throw new UserError(`--port must be 65535 or less, got ${params.port}`, "e.g. --port 8080");
      }
      await checkJobsFolder(kinds, params.jobsDir, Boolean(options.install));
      // Made even when only printing, so that a printed unit starts as printed.
      const token = kinds.includes("dashboard")
        ? ensureDashboardToken(queuectlHome(), process.env)
        : undefined;
      if (!options.install) {
        const where = options.dir === undefined ? folder.dir : dir;
        process.stdout.write(
          kinds.map((kind) => `# ${join(where, unitName(kind))}\n${unitText(kind, params)}`).join("\n"),
        );
        return;
      }
      try {
        mkdirSync(dir, { recursive: true });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new UserError(
          `cannot make the unit folder ${dir} (${code === "EEXIST" || code === "ENOTDIR" ? "a file is in the way" : (code ?? "error")})`,
          "give --dir a folder, or a path where one can be made",
        );
      }
      const secret = holdsPassword(db);
      for (const kind of kinds) {
        const file = join(dir, unitName(kind));
        writeFileSync(file, unitText(kind, params), { mode: secret ? 0o600 : 0o644 });
        if (secret) chmodSync(file, 0o600);
        console.log(`${colors.green("✓")} Wrote ${file}`);
      }
      const systemctl = folder.scope === "user" ? "systemctl --user" : "systemctl";
      // systemd does not look in a --dir of the user's: enabled by path, it links them in.
      const elsewhere = dir !== folder.dir;
      const names = kinds
        .map((kind) => (elsewhere ? shellWord(join(dir, unitName(kind))) : unitName(kind)))
        .join(" ");
      if (token !== undefined) {
        console.log(
          `\nThe dashboard's token is in ${params.dashboardEnvFile} (readable by you only). Sign in at\n` +
            `  http://127.0.0.1:${params.port}/?token=${token}`,
        );
      }
      console.log(
        `\nThese are ${folder.scope} units. Start them now and at every ${folder.scope === "user" ? "login" : "boot"}:\n` +
          `  ${systemctl} daemon-reload && ${systemctl} enable --now ${names}\n` +
          (folder.scope === "user"
            ? `To keep them running without a login session: loginctl enable-linger ${process.env.USER ?? "$USER"}\n`
            : "") +
          `Their output: journalctl ${folder.scope === "user" ? "--user " : ""}${kinds.map((kind) => `-u queuectl-${kind} `).join("")}-f`,
      );
    });
}
