import type { CAC } from "cac";
import { TEXT_OPTION } from "../cli-argv.ts";
import { runtimeError, UserError } from "../core/errors.ts";
import { hostName, queuectlHome } from "../core/home.ts";
import type { Attempt, Job } from "../core/job.ts";
import { type FollowParams, followJob } from "../flow/logs-follow.ts";
import { patientReads } from "../flow/patient-reads.ts";
import { endText, hasEnded } from "../flow/wait.ts";
import { printJson, safeText } from "../render.ts";
import type { Store } from "../store/store.ts";
import { attemptFiles, dumpAttempt, type LogSink, pickAttempt } from "../worker/attempt-logs.ts";
import { LOG_CAP_BYTES, type LogStream } from "../worker/log-files.ts";
import {
  type GlobalOptions,
  integerOption,
  lastValue,
  requireJob,
  waitingThroughOutages,
  withExistingStore,
} from "./context.ts";

interface LogsOptions extends GlobalOptions {
  attempt?: unknown;
  revision?: unknown;
  follow?: boolean;
  stderr?: boolean;
}

function note(text: string): void {
  process.stderr.write(`${safeText(text)}\n`);
}

/**
 * The attempt a user names: `--attempt N` is the `#N` that `show` lists (the attempt's
 * token, unique for the job's whole life, so edits and reruns never make it ambiguous);
 * `--revision R` is the latest attempt that ran a revision starting with R.
 */
function chooseAttempt(
  attempts: Attempt[],
  number: number | undefined,
  revision: string | undefined,
): Attempt | undefined {
  if (number !== undefined) return attempts.find((attempt) => attempt.token === number);
  if (revision === undefined) return pickAttempt(attempts, undefined);
  const ran = attempts.filter((attempt) => attempt.revision?.startsWith(revision));
  return pickAttempt(ran, undefined);
}

function missingAttempt(
  job: Job,
  attempts: Attempt[],
  number: number | undefined,
  revision: string | undefined,
) {
  const id = safeText(job.id);
  // The numbers are tokens: a job claimed ahead and handed back unstarted skips one, so its
  // first run may be #2. Naming them spares a trip to `show`.
  if (number !== undefined && attempts.length > 0) {
    // The latest ten: the ones worth naming are usually the most recent.
    const listed = attempts.map((attempt) => `#${attempt.token}`);
    return new UserError(
      `job "${id}" has no attempt #${number}; its attempts are ${listed.length > 10 ? `…, ${listed.slice(-10).join(", ")}` : listed.join(", ")}`,
      "give one of those to --attempt, the # that `queuectl show` lists",
    );
  }
  if (number !== undefined)
    return new UserError(`job "${id}" has no attempt ${number}`, "see `queuectl show <id>` for its attempts");
  if (revision !== undefined) {
    return new UserError(
      `job "${id}" has no attempt of revision ${revision}`,
      "see `queuectl show <id>` for the revision each attempt ran",
    );
  }
  // Such a job never runs by itself: waiting for a worker would be waiting forever.
  if (hasEnded(job)) {
    return new UserError(
      `job "${id}" is ${safeText(endText(job))} and never ran`,
      `run it with \`queuectl rerun ${/^[\w.:/@+-]+$/.test(id) ? id : "<id>"}\``,
    );
  }
  return new UserError(
    `job "${id}" has not run yet`,
    "start a worker, or wait with `queuectl logs <id> --follow`",
  );
}

/**
 * Job output goes to the terminal escaped, so it cannot rewrite the screen; piped, it
 * passes through byte for byte. Without --stderr, job stderr goes to our stderr.
 */
/** Where a stream of the job's output goes: `--stderr` prints the job's stderr on stdout. */
function targetOf(stream: LogStream, stderrOnly: boolean): NodeJS.WriteStream {
  return stream === "stderr" && !stderrOnly ? process.stderr : process.stdout;
}

function terminalSink(stderrOnly: boolean): LogSink {
  const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  return (stream, chunk) => {
    const target = targetOf(stream, stderrOnly);
    if (target.isTTY) target.write(safeText(decoders[stream].decode(chunk, { stream: true }), true));
    else target.write(chunk);
  };
}

function describeEnd(attempt: Attempt): string {
  if (attempt.finished_at === null) return "still running";
  if (attempt.error) return attempt.error;
  return attempt.exit_code === null ? "finished" : `exit ${attempt.exit_code}`;
}

function collect(files: ReturnType<typeof attemptFiles>, streams: LogStream[]) {
  const parts: Record<LogStream, Uint8Array[]> = { stdout: [], stderr: [] };
  dumpAttempt(files, streams, (stream, chunk) => parts[stream].push(chunk));
  const text = (stream: LogStream) =>
    streams.includes(stream) ? Buffer.concat(parts[stream]).toString("utf8") : null;
  return { stdout: text("stdout"), stderr: text("stderr") };
}

/** After a followed attempt: how it ended, and any stream the log rotated past unread. */
function noteAttemptEnd(streams: LogStream[]) {
  return (attempt: Attempt, shown: Record<LogStream, number>): void => {
    for (const stream of streams) {
      const total = stream === "stdout" ? attempt.stdout_bytes : attempt.stderr_bytes;
      if (total > shown[stream])
        note(`(${stream}: ${shown[stream]} of ${total} bytes shown; the log keeps only its latest part)`);
    }
    note(`(attempt ${attempt.token}: ${describeEnd(attempt)})`);
  };
}

/** Follows the job through its retries and exits as `wait` does: 1 unless it completed. */
async function followToEnd(store: Store, params: FollowParams): Promise<void> {
  const ended = await followJob(patientReads(store, waitingThroughOutages()), params);
  if (ended?.state === "completed") return;
  throw runtimeError(
    `job "${safeText(params.jobId)}" ${ended === null ? "was purged" : `ended ${safeText(endText(ended))}`}`,
    "see `queuectl show <id>`",
  );
}

export function registerLogs(cli: CAC): void {
  cli
    .command("logs <id>", "Show a job's captured stdout and stderr")
    .option(
      "--attempt <n>",
      "Which attempt: the #n that `show` lists, `token` in its --json (default: the latest)",
      TEXT_OPTION,
    )
    .option(
      "--revision <hash>",
      "The latest attempt that ran this revision, or a prefix of it (default: any)",
      TEXT_OPTION,
    )
    .option(
      "--follow",
      "Keep printing output as the job runs, through its retries, until it ends; exit 1 unless it completed (default: off)",
    )
    .option("--stderr", "Print only the job's stderr, on stdout (default: stdout and stderr)")
    .option("--json", "Print the attempt and its output as JSON (default: the raw output)")
    .example("queuectl logs job1")
    .example("queuectl logs job1 --attempt 2 --stderr")
    .example("queuectl logs job1 --revision 3f9a1c")
    .example("queuectl logs job1 --follow")
    .action(async (id: string, options: LogsOptions) => {
      const number =
        options.attempt === undefined
          ? undefined
          : integerOption("attempt", lastValue(options.attempt), 1, 1);
      const revisionText = lastValue(options.revision as string | string[] | undefined);
      const revision = revisionText === undefined ? undefined : String(revisionText).trim();
      if (revision !== undefined && !/^[0-9a-f]{1,64}$/i.test(revision)) {
        throw new UserError(
          `--revision "${safeText(revision)}" is not a revision`,
          "give the hex revision `show` lists, e.g. --revision 3f9a1c",
        );
      }
      if (number !== undefined && revision !== undefined) {
        throw new UserError("--attempt and --revision cannot be combined", "drop one of them");
      }
      if (options.follow && options.json) {
        throw new UserError("--follow and --json cannot be combined", "drop one of them");
      }
      const streams: LogStream[] = options.stderr ? ["stderr"] : ["stdout", "stderr"];
      const home = queuectlHome();
      const host = hostName();
      await withExistingStore(options, async (store) => {
        const job = await requireJob(store, String(id));
        const attempts = await store.attemptList({ jobId: job.id });
        const attempt = chooseAttempt(attempts, number, revision);
        if (options.follow && (attempt !== undefined || (number === undefined && revision === undefined))) {
          if (!attempt && !hasEnded(job)) note(`job ${job.id} has not started yet; waiting for it…`);
          return followToEnd(store, {
            home,
            host,
            jobId: job.id,
            attempt: attempt ?? null,
            streams,
            sink: terminalSink(Boolean(options.stderr)),
            onAttemptEnd: noteAttemptEnd(streams),
            endsLines: (stream) => Boolean(targetOf(stream, Boolean(options.stderr)).isTTY),
          });
        }
        if (!attempt) throw missingAttempt(job, attempts, number, revision);
        const files = attemptFiles(home, host, attempt);
        if (!files.local) {
          // The store gets an attempt's tail when it ends: one running elsewhere has none yet.
          const runningElsewhere = attempt.finished_at === null && attempt.host !== host;
          const where = runningElsewhere
            ? `it is still running on host ${attempt.host}, which keeps its output until it ends`
            : attempt.host === host
              ? `its log files are not in ${home} (removed, or written under another QUEUECTL_HOME)`
              : `the full log is on host ${attempt.host} in $QUEUECTL_HOME/${files.base}.out and .err`;
          if (options.json) {
            printJson({
              job_id: job.id,
              attempt: attempt.attempt,
              token: attempt.token,
              revision: attempt.revision,
              host: attempt.host,
              source: "store",
              output_tail: attempt.output_tail,
              note: where,
            });
            return;
          }
          if (runningElsewhere) {
            note(
              `(attempt #${attempt.token}: ${where}; run this there to see it now, or add --follow to print it here once it ends)`,
            );
            return;
          }
          // The tail keeps both streams together (as they came, but for a job that ended
          // within 20 ms, read after it exited: stdout first): printed as stderr alone, a
          // script would take the job's stdout for its errors.
          if (options.stderr) {
            throw new UserError(
              `attempt #${attempt.token} of job "${job.id}" has no log files here, and the last few KB the store keeps hold stdout and stderr together, so --stderr cannot pick stderr out (${where})`,
              `run \`queuectl logs ${job.id} --stderr\` on host ${attempt.host}, or leave --stderr out to see both streams here`,
            );
          }
          note(`(the last few KB kept in the store, stdout and stderr together; ${where})`);
          process.stdout.write(safeText(attempt.output_tail ?? "", true));
          return;
        }
        if (options.json) {
          const output = collect(files, streams);
          printJson({
            job_id: job.id,
            attempt: attempt.attempt,
            token: attempt.token,
            revision: attempt.revision,
            host: attempt.host,
            source: "files",
            finished: attempt.finished_at !== null,
            exit_code: attempt.exit_code,
            error: attempt.error,
            stdout_bytes: attempt.stdout_bytes,
            stderr_bytes: attempt.stderr_bytes,
            ...output,
          });
          return;
        }
        const sink = terminalSink(Boolean(options.stderr));
        // What was kept is between half the cap and all of it (the files rotate in halves),
        // so the note counts the bytes shown rather than quoting the cap.
        const shown = { stdout: 0, stderr: 0 };
        dumpAttempt(files, streams, (stream, chunk) => {
          shown[stream] += chunk.length;
          sink(stream, chunk);
        });
        for (const stream of streams) {
          const total = stream === "stdout" ? attempt.stdout_bytes : attempt.stderr_bytes;
          if (total > shown[stream] && total > LOG_CAP_BYTES / 2) {
            note(`(${stream}: only the last ${shown[stream]} of ${total} bytes were kept)`);
          }
        }
      });
    });
}
