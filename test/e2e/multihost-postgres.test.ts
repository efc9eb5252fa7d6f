/**
 * Several hosts on one PostgreSQL queue, simulated on this machine: worker processes with
 * their own host name (QUEUECTL_HOST) and data folder (QUEUECTL_HOME), sharing one fresh
 * schema. Every job runs exactly once, a SIGKILLed host's job is rescued by another host
 * once its lease runs out, and `worker stop --all` on one host drains every host.
 */

import { afterAll, afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL, type Subprocess } from "bun";
import { openPostgresStore, type PostgresStore } from "../../src/store/postgres/backend.ts";
import { CLI_PATH, runCli, type TempHome, tempHome, waitFor } from "../helpers/cli.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const PG_URL = process.env.QUEUECTL_TEST_PG_URL;
/** Real worker processes on a shared machine: a deadline, not a speed requirement. */
const PROCESS_TEST_MS = 90_000;

if (!PG_URL) {
  console.warn(
    "skipping the multi-host PostgreSQL test: set QUEUECTL_TEST_PG_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run it",
  );
}

interface Host {
  name: string;
  home: TempHome;
  env: Record<string, string>;
}

describe.skipIf(!PG_URL)("several hosts sharing one PostgreSQL queue", () => {
  const schemas: string[] = [];
  let db = "";
  let hosts: Host[] = [];
  let workers: Subprocess[] = [];
  /** Job processes orphaned by a SIGKILLed worker; killed by pid when the test ends. */
  let strays: number[] = [];
  let shared = "";
  let store: PostgresStore | null = null;

  function host(name: string): Host {
    const home = tempHome();
    const h = { name, home, env: { ...home.env, QUEUECTL_DB: db, QUEUECTL_HOST: name } };
    hosts.push(h);
    return h;
  }

  function startWorker(on: Host, concurrency = 1): Subprocess {
    const child = Bun.spawn(["bun", CLI_PATH, "worker", "run", "--concurrency", String(concurrency)], {
      env: on.env,
      stdin: "ignore",
      stdout: Bun.file(join(on.home.home, `worker-${workers.length}.out`)),
      stderr: Bun.file(join(on.home.home, `worker-${workers.length}.err`)),
    });
    workers.push(child);
    return child;
  }

  async function cli(on: Host, args: string[], stdin?: string) {
    const result = await runCli(args, { env: on.env, stdin });
    if (result.exitCode !== 0) throw new Error(`queuectl ${args.join(" ")}: ${result.stderr}`);
    return result;
  }

  async function setUp(): Promise<PostgresStore> {
    const schema = `qc_hosts_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
    schemas.push(schema);
    db = `${PG_URL}${PG_URL?.includes("?") ? "&" : "?"}schema=${schema}`;
    shared = mkdtempSync(join(tmpdir(), "queuectl-hosts-"));
    store = await openPostgresStore(db);
    return store;
  }

  const lines = (file: string) =>
    existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [];

  afterEach(async () => {
    for (const child of workers) if (child.exitCode === null) child.kill("SIGKILL");
    await Promise.all(workers.map((child) => child.exited));
    for (const pid of strays) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await store?.close();
    for (const h of hosts) h.home.cleanup();
    rmSync(shared, { recursive: true, force: true });
    workers = [];
    strays = [];
    hosts = [];
    store = null;
  });

  afterAll(async () => {
    const admin = new SQL(PG_URL ?? "");
    for (const schema of schemas) await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.close();
  });

  test(
    "every job runs exactly once across two hosts with two workers each",
    async () => {
      const queue = await setUp();
      const [a, b] = [host("hostA"), host("hostB")];
      for (const on of [a, a, b, b]) startWorker(on, 2);
      await waitFor(async () => (await queue.workerList()).length === 4, {
        timeoutMs: 20_000,
        what: "4 workers",
      });

      const out = join(shared, "runs.txt");
      const total = 40;
      const jobs = Array.from({ length: total }, (_, i) =>
        JSON.stringify({ id: `job-${i}`, command: `sleep 0.2; echo job-${i} >> '${out}'` }),
      );
      await cli(a, ["enqueue", "-f", "-"], `${jobs.join("\n")}\n`);
      await waitFor(async () => (await queue.jobCounts()).completed === total, {
        timeoutMs: 60_000,
        what: "every job to complete",
      });

      const ran = lines(out);
      expect(ran.length).toBe(total);
      expect(new Set(ran).size).toBe(total);
      const attempts = (await Promise.all(ran.map((id) => queue.attemptList({ jobId: id })))).flat();
      expect(attempts.length).toBe(total);
      expect(new Set(attempts.map((attempt) => attempt.host))).toEqual(new Set(["hostA", "hostB"]));
    },
    PROCESS_TEST_MS,
  );

  test(
    "a SIGKILLed host's job is rescued and finished by another host once its lease runs out",
    async () => {
      const queue = await setUp();
      const [a, b] = [host("hostA"), host("hostB")];
      await cli(a, ["config", "set", "lease", "2s"]);
      const victim = startWorker(a);
      await waitFor(async () => (await queue.workerList()).length === 1, {
        timeoutMs: 20_000,
        what: "hostA's worker",
      });

      const out = join(shared, "runs.txt");
      const mark = join(shared, "first-run-started");
      const pidfile = join(shared, "first-run.pid");
      // The first run marks itself and hangs; the rescued run sees the mark and finishes.
      const command = `if [ -e '${mark}' ]; then echo second-run >> '${out}'; else touch '${mark}'; echo $$ > '${pidfile}'; echo first-run >> '${out}'; exec sleep 600; fi`;
      await cli(a, ["enqueue", JSON.stringify({ id: "victim", command })]);
      await waitFor(() => lines(out).includes("first-run") && existsSync(pidfile), {
        timeoutMs: 20_000,
        what: "hostA to start the job",
      });
      strays.push(Number(readFileSync(pidfile, "utf8").trim()));
      victim.kill("SIGKILL");
      await victim.exited;

      startWorker(b);
      await waitFor(() => lines(out).includes("second-run"), {
        timeoutMs: 30_000,
        what: "hostB to rerun the job",
      });
      await waitFor(async () => (await queue.jobGet({ id: "victim" }))?.state === "completed", {
        timeoutMs: 10_000,
        what: "the rescued job to complete",
      });
      const attempts = await queue.attemptList({ jobId: "victim" });
      expect(attempts.map((attempt) => [attempt.attempt, attempt.host, attempt.exit_code])).toEqual([
        [1, "hostA", null],
        [2, "hostB", 0],
      ]);
      expect(attempts[0]?.error).toContain("lease expired");
      expect(lines(out)).toEqual(["first-run", "second-run"]);
    },
    PROCESS_TEST_MS,
  );

  test(
    "`worker stop --all` on one host drains the workers of every host",
    async () => {
      const queue = await setUp();
      const [a, b] = [host("hostA"), host("hostB")];
      const onA = startWorker(a);
      const onB = startWorker(b);
      await waitFor(async () => (await queue.workerList()).length === 2, {
        timeoutMs: 20_000,
        what: "2 workers",
      });

      const out = join(shared, "runs.txt");
      const jobs = ["slow-1", "slow-2"].map((id) =>
        JSON.stringify({ id, command: `sleep 1; echo ${id} >> '${out}'` }),
      );
      await cli(a, ["enqueue", "-f", "-"], `${jobs.join("\n")}\n`);
      await waitFor(async () => (await queue.jobCounts()).processing === 2, {
        timeoutMs: 20_000,
        what: "both hosts to run a job",
      });

      const stop = await cli(a, ["worker", "stop", "--all", "--json"]);
      expect(JSON.parse(stop.stdout)).toMatchObject({ remote_asked: 1 });
      await waitFor(() => onA.exitCode !== null && onB.exitCode !== null, {
        timeoutMs: 30_000,
        what: "every host's worker to exit",
      });
      expect([onA.exitCode, onB.exitCode]).toEqual([0, 0]);
      // Drained, not interrupted: both running jobs finished before their workers left.
      expect(await queue.jobCounts()).toMatchObject({ completed: 2, pending: 0, processing: 0 });
      expect(lines(out).sort()).toEqual(["slow-1", "slow-2"]);
      expect(await queue.workerList()).toEqual([]);
    },
    PROCESS_TEST_MS,
  );
});
