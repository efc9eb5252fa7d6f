/**
 * SIGKILL chaos: several real `worker run` processes on one SQLite file while random ones
 * are killed with SIGKILL and replaced. Every job records each execution itself, so the
 * count of re-runs comes from the jobs, not from what the queue believes.
 *
 * What must hold: every job completes, nothing is left in `processing`, and a job runs
 * again only because a kill interrupted it, so re-executions never exceed the kills
 * (each worker runs one job at a time).
 *
 * The seed is printed; QUEUECTL_TEST_SEED=<seed> replays the kill choices.
 */

import { Database } from "bun:sqlite";
import { expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, waitFor } from "../helpers/cli.ts";
import { seededRandom, testSeed } from "../helpers/seed.ts";
import { config, ForegroundWorker, ok, workerTestContext } from "../worker/helpers.ts";
import { integrityCheck, jobStates, lineCounts, readDb } from "./helpers.ts";

setDefaultTimeout(120_000);

const context = workerTestContext();

const JOBS = 60;
const WORKERS = 4;
const KILLS = 10;

test("random workers SIGKILLed and restarted: every job completes, re-runs never exceed kills", async () => {
  const db = join(context.home.home, "jobs.db");
  const runs = join(context.home.home, "runs.log");
  // Short leases so rescue is quick; retries wait 1 s (base 1) and never run out.
  await config(context.home, "lease", "2s");
  await config(context.home, "backoff-base", "1");
  await config(context.home, "poll-interval", "0.2");
  const specs = Array.from({ length: JOBS }, (_, i) =>
    JSON.stringify({
      id: `chaos-${i}`,
      // The record comes first, so an execution cut short by a kill still counts.
      command: `echo "$QUEUECTL_JOB_ID" >> ${runs}; sleep 0.${2 + (i % 5)}`,
      max_retries: 100,
    }),
  );
  writeFileSync(join(context.home.home, "jobs.ndjson"), specs.join("\n"));
  ok(await runCli(["enqueue", "-f", join(context.home.home, "jobs.ndjson")], { env: context.home.env }));

  const start = () => {
    const worker = new ForegroundWorker(context.home);
    context.spawned.push(worker);
    return worker;
  };
  let live = Array.from({ length: WORKERS }, start);

  const completed = () => Object.values(jobStates(db)).filter((state) => state === "completed").length;
  // The seed replays which worker dies after how long; the moment each kill lands in a
  // worker's work still depends on the machine's timing.
  const next = seededRandom(testSeed("chaos"));
  let kills = 0;
  while (kills < KILLS && completed() < JOBS) {
    // Let the workers get going, then kill one in the middle of whatever it does.
    await Bun.sleep(300 + Math.floor(next() * 700));
    const victim = live[Math.floor(next() * live.length)];
    if (!victim) break;
    victim.process.kill("SIGKILL");
    await victim.process.exited;
    kills++;
    live = live.filter((worker) => worker !== victim);
    live.push(start());
  }

  await waitFor(() => completed() === JOBS, {
    timeoutMs: 90_000,
    intervalMs: 200,
    what: `all ${JOBS} jobs to complete (states: ${JSON.stringify(jobStates(db))})`,
  });

  const states = jobStates(db);
  expect(Object.values(states).filter((state) => state !== "completed")).toEqual([]);
  const counts = lineCounts(runs);
  for (let i = 0; i < JOBS; i++) expect(counts.get(`chaos-${i}`) ?? 0).toBeGreaterThanOrEqual(1);
  const executions = [...counts.values()].reduce((sum, n) => sum + n, 0);
  console.log(`kills ${kills}, executions ${executions}`);
  expect(kills).toBeGreaterThan(0);
  expect(executions - JOBS).toBeLessThanOrEqual(kills);
  expect(integrityCheck(db)).toBe("ok");
  // The survivors never saw the store fail, locked or otherwise.
  for (const worker of live) expect(worker.output).not.toContain("error:");
});

test("a worker frozen past its lease (SIGSTOP): the job runs again elsewhere; on waking the worker stops its run and its result is discarded", async () => {
  const runs = join(context.home.home, "runs.log");
  await config(context.home, "lease", "2s");
  await config(context.home, "backoff-base", "1");
  const workers = [new ForegroundWorker(context.home), new ForegroundWorker(context.home)];
  context.spawned.push(...workers);
  // Deadlines, not waits: the suite runs beside this test, and a loaded machine stretches each step.
  await Promise.all(workers.map((worker) => worker.waitForOutput("started (pid", 45_000)));
  ok(
    await runCli(
      [
        "enqueue",
        JSON.stringify({
          id: "frozen",
          // The first run outlasts any rescue a loaded machine allows (the deadline below), so the
          // worker wakes to a run still going; the second is short.
          command: `echo "start-$QUEUECTL_ATTEMPT" >> ${runs}; if [ "$QUEUECTL_ATTEMPT" = 1 ]; then sleep 90; else sleep 1; fi; echo "end-$QUEUECTL_ATTEMPT" >> ${runs}`,
        }),
      ],
      { env: context.home.env },
    ),
  );
  const db = join(context.home.home, "jobs.db");
  const holderId = await waitFor(
    () =>
      readDb(db, (d) => d.query("SELECT worker_id FROM jobs WHERE state = 'processing'").get()) as {
        worker_id: string;
      } | null,
    { what: "the job to start", timeoutMs: 45_000 },
  );
  const frozen = workers.find((worker) => holderId.worker_id.includes(`-${worker.pid}-`));
  if (!frozen) throw new Error(`no spawned worker holds the job (${holderId.worker_id})`);
  const other = workers.find((worker) => worker !== frozen);
  // Each wait that fails names the other worker's output too: which of them did not do its part.
  const withOther = (error: Error) => {
    throw new Error(`${error.message}; the other worker wrote: ${other?.output.slice(-3000)}`);
  };
  // Claimed is not yet running: frozen between the two, the worker would never start it.
  await waitFor(() => lineCounts(runs).get("start-1") === 1, {
    what: "the first run to start",
    timeoutMs: 45_000,
  }).catch(withOther);
  // The worker stops; the job, in its own process group, keeps running. Stopped inside a
  // write (a lease renewal, say), it would hold SQLite's write lock and stall every writer
  // until it wakes: that is another scenario, so such a freeze is thawed and tried again.
  freezeOutsideWrite(db, frozen.pid);
  try {
    // A deadline, not a wait: rescue takes lease + heartbeat, which a machine under load stretches.
    await waitFor(() => lineCounts(runs).get("start-2") === 1, {
      timeoutMs: 60_000,
      what: "the other worker to rescue and start the job again",
    }).catch(withOther);
  } finally {
    process.kill(frozen.pid, "SIGCONT");
  }
  // Woken, the worker learns of the rescue from its renewal or its lease watch; on a loaded
  // machine the watch's read may miss its window (a quarter of the lease), and the run is
  // stopped as unrenewed instead. Either way it stops before the job's first run ends.
  await waitFor(
    () =>
      frozen.output.includes("frozen: lease lost to another worker; stopping it") ||
      frozen.output.includes("job frozen: its lease could not be renewed for 2s; stopping it"),
    { timeoutMs: 45_000, what: () => `the woken worker to stop its run (its output: ${frozen.output})` },
  ).catch(withOther);
  await waitFor(() => jobStates(db).frozen === "completed", {
    timeoutMs: 45_000,
    what: "the second run",
  }).catch(withOther);
  await frozen
    .waitForOutput("frozen: result discarded, a newer attempt owns the job", 45_000)
    .catch(withOther);
  // Two runs overlapped while the first worker was frozen; the first never finished.
  expect(Object.fromEntries(lineCounts(runs))).toEqual({ "start-1": 1, "start-2": 1, "end-2": 1 });
}, 240_000);

/** SIGSTOPs `pid` at a moment it holds no write lock on `path`: a few tries, thawing between. */
function freezeOutsideWrite(path: string, pid: number): void {
  for (let attempt = 1; ; attempt++) {
    process.kill(pid, "SIGSTOP");
    const db = new Database(path);
    try {
      db.run("PRAGMA busy_timeout = 0");
      db.run("BEGIN IMMEDIATE");
      db.run("ROLLBACK");
      return;
    } catch (error) {
      if (attempt >= 20) throw error;
      process.kill(pid, "SIGCONT");
      Bun.sleepSync(20);
    } finally {
      db.close();
    }
  }
}
