import { accessSync, closeSync, constants, existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { CAC } from "cac";
import { TEXT_OPTION } from "../cli-argv.ts";
import { parseDurationMs } from "../core/duration.ts";
import { UserError } from "../core/errors.ts";
import { queuectlHome } from "../core/home.ts";
import type { JobState } from "../core/job.ts";
import { colors, firstNamed, printJson, safeText } from "../render.ts";
import { ArchiveWriteError, openArchive } from "../worker/archive.ts";
import { purgeFinishedJobs } from "../worker/retention.ts";
import { type GlobalOptions, lastValue, parseStatesOption, withExistingStore } from "./context.ts";

interface PurgeOptions extends GlobalOptions {
  state?: string | string[];
  olderThan?: string | number;
  dryRun?: boolean;
  archive?: string | string[];
}

const PURGEABLE = ["completed", "dead", "canceled"] as const;

export function registerPurge(cli: CAC): void {
  cli
    .command("purge", "Delete finished jobs and their history; pending and running jobs are never touched")
    .option(
      "--state <state>",
      "completed, dead or canceled; repeat or comma-separate (default: all three)",
      TEXT_OPTION,
    )
    .option(
      "--older-than <duration>",
      "Only jobs finished longer ago than this, e.g. 7d or 12h (default: 7d)",
      TEXT_OPTION,
    )
    .option("--dry-run", "List what would be deleted without deleting (default: off)")
    .option(
      "--archive <file>",
      "Append each job with its attempts to this NDJSON file before deleting it; `queuectl import` reads it back (default: none)",
      TEXT_OPTION,
    )
    .option("--json", "Print the purged ids as JSON (default: human text)")
    .example("queuectl purge --state completed --older-than 7d --dry-run")
    .example("queuectl purge --older-than 30d --archive ~/queuectl-archive.ndjson")
    .action(async (options: PurgeOptions) => {
      // Named as `list` takes them (any case, a known state), then refused if live.
      const requested = parseStatesOption(options.state, "--state completed,dead") ?? [];
      for (const state of requested) {
        if (!(PURGEABLE as readonly string[]).includes(state)) {
          throw new UserError(
            `purge --state "${state}" is not allowed`,
            "use completed, dead or canceled; live jobs are never purged",
          );
        }
      }
      const states = (requested.length > 0 ? requested : [...PURGEABLE]) as JobState[];
      const olderThanMs = parseDurationMs(lastValue(options.olderThan) ?? "7d", "--older-than");
      const archivePath = lastValue(options.archive);
      const archive =
        archivePath === undefined ? null : writableArchive(String(archivePath), Boolean(options.dryRun));
      await withExistingStore(options, async (store) => {
        let ids: string[];
        try {
          ids = await purgeFinishedJobs(store, {
            states,
            finishedBefore: (await store.clockNow()) - olderThanMs,
            dryRun: Boolean(options.dryRun),
            home: queuectlHome(),
            archive: options.dryRun ? null : archive,
          });
        } catch (error) {
          // A file that opens may still refuse the write (/dev/full, a full disk); the purge rolled back.
          if (error instanceof ArchiveWriteError) throw archiveRefused(String(archivePath), error.code);
          throw error;
        }
        if (options.json) printJson({ dry_run: Boolean(options.dryRun), purged: ids });
        else if (options.dryRun)
          console.log(
            `would purge ${ids.length} job(s)${ids.length ? `: ${firstNamed(ids.map((id) => safeText(id)))}` : ""}`,
          );
        else
          console.log(
            `${colors.green("✓")} purged ${ids.length} job(s)${archive && ids.length > 0 ? `, archived to ${archive}` : ""}`,
          );
      });
    });
}

/** The archive's absolute path, once it is known to be writable, so a purge never fails half-way on it. */
function writableArchive(path: string, dryRun: boolean): string {
  const absolute = resolve(path);
  try {
    // A dry run writes nothing, not even an empty archive: it only asks whether it could, by
    // the real purge's rules (a FIFO, a folder or a device is refused there too).
    if (dryRun) {
      const present = existsSync(absolute);
      if (present && !statSync(absolute).isFile())
        throw Object.assign(new Error(), { code: "not a regular file" });
      accessSync(present ? absolute : dirname(absolute), constants.W_OK);
    } else closeSync(openArchive(absolute));
  } catch (error) {
    throw archiveRefused(path, (error as NodeJS.ErrnoException).code ?? (error as Error).message);
  }
  return absolute;
}

/** `path` as typed; `reason` is the system's code (EISDIR, ENOSPC, …). */
function archiveRefused(path: string, reason: string): UserError {
  return new UserError(
    `purge --archive ${path}: cannot write it (${reason})`,
    "give a file in an existing folder you can write to, on a disk with room",
  );
}
