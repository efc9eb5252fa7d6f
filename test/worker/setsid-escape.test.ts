/**
 * A job's process that leaves its process group with setsid: when the worker stops the run
 * (stop, timeout, `kill`, `worker stop` past its timeout) it dies with the attempt, found by
 * the attempt's own QUEUECTL_REAPER entry; when the job ends by itself it is left alone, as
 * a daemon the job may have started on purpose. Real processes and signals.
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isProcessAlive } from "../../src/worker/process-info.ts";
import { Reaper } from "../../src/worker/reaper.ts";
import { runJob } from "../../src/worker/run.ts";
import { runCliJson, waitFor } from "../helpers/cli.ts";
import { config, enqueue, jobState, workerTestContext } from "./helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const context = workerTestContext();

/**
 * Every escapee pid the test has seen, killed after it whatever it left: kept here, since
 * the home holding their pid files may be removed before this file's afterEach runs.
 */
const escapees = new Set<number>();
let reaper: Reaper;
beforeEach(() => {
  reaper = new Reaper();
});
afterEach(() => {
  reaper.close();
  for (const pid of escapees) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone, as most should be.
    }
  }
  escapees.clear();
});

/** The pid a file holds, or 0 before it holds one; a pid seen is killed after the test. */
function pidIn(file: string): number {
  const pid = existsSync(file) ? Number(readFileSync(file, "utf8").trim()) : 0;
  // Never 0 or less: kill() takes those for whole process groups, this test's own among them.
  if (!Number.isInteger(pid) || pid <= 0) return 0;
  escapees.add(pid);
  return pid;
}

/**
 * A shell line that starts a process in a session of its own, which writes its pid to
 * `name`, and waits until it did; then runs `rest`. The escapee's output goes nowhere, so
 * it does not hold the job's pipes open.
 */
function escaping(name: string, rest: string): { command: string; pidFile: string } {
  const pidFile = join(context.home.home, name);
  const command = `setsid sh -c 'echo $$ > ${pidFile}; exec sleep 300' >/dev/null 2>&1 & while [ ! -s ${pidFile} ]; do sleep 0.05; done; ${rest}`;
  return { command, pidFile };
}

function run(command: string, timeoutMs = 60_000) {
  return runJob({
    jobId: "esc",
    spec: { id: "esc", command },
    attempt: 1,
    token: 1,
    home: context.home.home,
    timeoutMs,
    baseEnv: process.env,
    reaper,
    killGraceMs: 500,
  });
}

async function escapedDies(pidFile: string, what: string): Promise<void> {
  await waitFor(() => pidIn(pidFile) > 0 && !isProcessAlive(pidIn(pidFile)), { timeoutMs: 10_000, what });
}

/** A Perl program that records its pid, counts the SIGTERMs it gets in <name>.terms and ignores them. */
function countingScript(): string {
  return `my $n = "${context.home.home}/$ARGV[0]"; open(my $p, ">", "$n.pid"); print $p "$$\\n"; close $p;
$SIG{TERM} = sub { open(my $f, ">>", "$n.terms"); print $f "TERM\\n"; close $f };
sleep 1 while 1;\n`;
}

describe("a process that left the job's group with setsid", () => {
  test("dies with a run the worker stops, and outlives a run that ended by itself", async () => {
    const stopped = escaping("stopped.pid", "sleep 300");
    const running = run(stopped.command);
    await waitFor(() => pidIn(stopped.pidFile) > 0, { what: "the escapee to start" });
    running.stop("killed by user");
    expect((await running.done).error).toBe("killed by user");
    await escapedDies(stopped.pidFile, "the stopped run's escapee to be killed");

    const daemon = escaping("daemon.pid", "exit 0");
    expect(await run(daemon.command).done).toMatchObject({ exitCode: 0, error: null });
    expect(isProcessAlive(pidIn(daemon.pidFile))).toBe(true);
  });

  test("a stopped run's processes get one SIGTERM each, the job's group and the escapee alike", async () => {
    // Counts the SIGTERMs it gets in <name>.terms and ignores them; SIGKILL ends it.
    const script = join(context.home.home, "count-terms.pl");
    writeFileSync(script, countingScript());
    const running = run(`setsid perl ${script} escapee >/dev/null 2>&1 & exec perl ${script} main`);
    const [main, escapee] = ["main", "escapee"].map((name) => join(context.home.home, name));
    await waitFor(() => pidIn(`${main}.pid`) > 0 && pidIn(`${escapee}.pid`) > 0, {
      what: "both counters to start",
    });
    running.stop("killed by user");
    await running.done;
    await escapedDies(`${escapee}.pid`, "the escapee to be killed");
    const terms = (name: string) => readFileSync(`${name}.terms`, "utf8").split("\n").filter(Boolean).length;
    expect({ main: terms(main as string), escapee: terms(escapee as string) }).toEqual({
      main: 1,
      escapee: 1,
    });
  });

  test("a child left in the group when a stopped job's shell exits gets no second SIGTERM", async () => {
    const script = join(context.home.home, "count-terms.pl");
    writeFileSync(script, countingScript());
    // The shell dies of the stop's SIGTERM; the counter it waits for stays, in its group.
    const running = run(`perl ${script} child; echo done`);
    const child = join(context.home.home, "child");
    await waitFor(() => pidIn(`${child}.pid`) > 0, { what: "the counter to start" });
    running.stop("killed by user");
    await running.done;
    await escapedDies(`${child}.pid`, "the counter to be killed");
    expect(readFileSync(`${child}.terms`, "utf8").split("\n").filter(Boolean)).toHaveLength(1);
  });

  test("a child left in the group when a stopped job's shell exits gets the kill grace to shut down", async () => {
    const script = join(context.home.home, "slow-stop.pl");
    // On SIGTERM it takes 1.5 s to shut down, then says it finished.
    writeFileSync(
      script,
      `my $n = "${context.home.home}/slow"; open(my $p, ">", "$n.pid"); print $p "$$\\n"; close $p;
$SIG{TERM} = sub { select(undef, undef, undef, 1.5); open(my $f, ">", "$n.clean"); close $f; exit 0 };
sleep 1 while 1;\n`,
    );
    const running = runJob({
      jobId: "slow",
      spec: { id: "slow", command: `perl ${script}; echo done` },
      attempt: 1,
      token: 1,
      home: context.home.home,
      timeoutMs: 60_000,
      baseEnv: process.env,
      reaper,
      killGraceMs: 4_000,
    });
    const slow = join(context.home.home, "slow");
    await waitFor(() => pidIn(`${slow}.pid`) > 0, { what: "the slow child to start" });
    running.stop("killed by user");
    await running.done;
    expect(existsSync(`${slow}.clean`)).toBe(true);
  });

  test("dies with a run that timed out", async () => {
    const escapee = escaping("timeout.pid", "sleep 300");
    const result = await run(escapee.command, 1_000).done;
    expect(result.error).toBe("timed out after 1s");
    await escapedDies(escapee.pidFile, "the timed-out run's escapee to be killed");
  });

  test("`kill --retry`: the first attempt's escapee is gone before the retry runs", async () => {
    const [first, second] = ["attempt-1.pid", "attempt-2.pid"].map((name) => join(context.home.home, name));
    await config(context.home, "backoff-base", "1");
    // Each attempt's escapee writes a file of its own, named by the attempt.
    const pidFile = join(context.home.home, "attempt-$QUEUECTL_ATTEMPT.pid");
    await enqueue(context.home, {
      id: "esc",
      command: `setsid sh -c 'echo $$ > ${pidFile}; exec sleep 300' >/dev/null 2>&1 & sleep 300`,
      max_retries: 1,
    });
    context.foreground([], { QUEUECTL_KILL_GRACE_MS: "500" });
    await waitFor(() => pidIn(first as string) > 0, { what: "the first attempt's escapee" });
    await runCliJson(["kill", "esc", "--retry"], { env: context.home.env });
    await waitFor(() => pidIn(second as string) > 0, { timeoutMs: 20_000, what: "the retry's escapee" });
    expect(isProcessAlive(pidIn(first as string))).toBe(false);
  });

  test("dies when `worker stop` runs out of time and hands the job back", async () => {
    const escapee = escaping("worker-stop.pid", "sleep 300");
    await enqueue(context.home, { id: "held", command: escapee.command });
    await runCliJson(["worker", "start"], { env: { ...context.home.env, QUEUECTL_KILL_GRACE_MS: "500" } });
    await waitFor(() => pidIn(escapee.pidFile) > 0, { what: "the escapee to start" });
    const report = await runCliJson<{ forced: number[] }>(["worker", "stop", "--timeout", "0"], {
      env: context.home.env,
    });
    expect(report.forced).toHaveLength(1);
    expect(await jobState(context.home, "held")).toBe("pending");
    await escapedDies(escapee.pidFile, "the handed-back run's escapee to be killed");
  });
});
