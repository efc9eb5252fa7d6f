/**
 * The outside tester's schedule reports, replayed through the real CLI and a foreground
 * worker: ids a schedule claims are refused by `enqueue`, `add` and `sync` with exit 2, the
 * jobfile of a schedule stays clean, and the worker's log says what happened to an
 * occurrence it passed over or replaced.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { refused, succeeded } from "../helpers/cli.ts";
import { config, workerTestContext } from "../worker/helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(90_000);

const context = workerTestContext();
const cli = context.cli;

/** A jobs folder in the test's home holding `files`. */
function jobsFolder(files: Record<string, string>): string {
  const dir = join(context.home.home, "jobs");
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** The id of the occurrence of an every-2-seconds schedule about `seconds` from now. */
function occurrenceSoon(scheduleId: string, seconds: number): string {
  const at = Math.floor((Date.now() + seconds * 1000) / 2000) * 2000;
  return `${scheduleId}@${new Date(at).toISOString()}`;
}

describe("ids a schedule claims, through the CLI", () => {
  test("enqueue, add and a jobfile may not take the id of an occurrence; the schedule's own one runs", async () => {
    // Every owed occurrence is queued, however late the worker starts: the one tested among them.
    const every = 'command: echo tick\nschedule: "*/2 * * * * *"\ncatchup: all\noverlap: allow\n';
    const jobs = jobsFolder({ "sec.yaml": every });
    succeeded(await cli("sync", jobs));
    const taken = occurrenceSoon("sec", 6);
    refused(
      await cli("enqueue", JSON.stringify({ id: taken, command: "echo HANDMADE; sleep 1" })),
      `job id "${taken}" is the id of an occurrence of schedule "sec" — choose another id`,
    );
    refused(await cli("add", "--id", taken, "--", "echo", "HANDMADE"), 'of an occurrence of schedule "sec"');
    writeFileSync(join(jobs, "hand.yaml"), `id: "${taken}"\ncommand: echo HANDMADE\n`);
    const synced = await cli("sync", jobs);
    expect(synced.exitCode).toBe(2);
    expect(synced.stdout).toContain(
      `hand.yaml:1:1: id "${taken}" is the id of an occurrence of schedule "sec"`,
    );
    const worker = context.foreground();
    await worker.waitForOutput(`${taken}: completed`, 30_000);
    const shown = JSON.parse(succeeded(await cli("show", taken, "--json")));
    expect(shown.spec.command).toBe("echo tick");
  });

  test("add and enqueue may not take a declared schedule's id, so its jobfile stays clean", async () => {
    const jobs = jobsFolder({ "s.yaml": 'command: echo s\nschedule: "0 3 * * *"\n' });
    succeeded(await cli("sync", jobs));
    refused(await cli("add", "--id", "s", "--", "echo", "adhoc"), 'job id "s" is already used by a schedule');
    refused(
      await cli("enqueue", '{"id":"s","command":"echo adhoc"}'),
      'job id "s" is already used by a schedule',
    );
    // A schedule of that id too: it is a schedule that has it, not a job.
    refused(
      await cli("enqueue", '{"id":"s","command":"echo adhoc","schedule":"0 5 * * *"}'),
      'job id "s" is already used by a schedule',
    );
    succeeded(await cli("sync", jobs));
  });
});

describe("what the worker says about schedules", () => {
  test("an occurrence a job made before its schedule holds is skipped out loud", async () => {
    const taken = occurrenceSoon("sec", 8);
    succeeded(await cli("enqueue", JSON.stringify({ id: taken, command: "echo HANDMADE" })));
    const jobs = jobsFolder({ "sec.yaml": 'command: echo tick\nschedule: "*/2 * * * * *"\ncatchup: all\n' });
    succeeded(await cli("sync", jobs));
    const worker = context.foreground();
    await worker.waitForOutput(
      `${taken}: occurrence of schedule sec skipped: a job with this id already exists`,
      40_000,
    );
  });

  test("a run replaced by a newer occurrence is said to be replaced, not lost to another worker", async () => {
    await config(context.home, "lease", "2s");
    succeeded(
      await cli(
        "enqueue",
        JSON.stringify({ id: "rep", command: "sleep 60", schedule: "*/2 * * * * *", overlap: "replace" }),
      ),
    );
    const worker = context.foreground();
    await worker.waitForOutput("canceled while it ran (replaced by a newer occurrence); stopping it", 40_000);
    await worker.waitForOutput(
      "result discarded; the job was canceled while it ran (replaced by a newer occurrence)",
      40_000,
    );
    expect(worker.output).not.toContain("lease lost to another worker");
    expect(worker.output).not.toContain("a newer attempt owns the job");
  });
});
