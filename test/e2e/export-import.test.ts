/**
 * `queuectl export` / `queuectl import` through the real CLI: a queue moves SQLite →
 * PostgreSQL → SQLite without losing state, history, queue settings or jobfile bookkeeping;
 * import is all or nothing; bad input gives one-line errors. The starting queue is written
 * with the store API (finished, dead and running jobs would need a worker); the rest is CLI.
 */

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { SQL } from "bun";
import { SqliteStore } from "../../src/store/sqlite/backend.ts";
import type { JobRecord, NewJob } from "../../src/store/store.ts";
import { lines, ok, transferHomes } from "../helpers/transfer.ts";

setDefaultTimeout(60_000); // real processes on a busy machine: not the 5 s default

const PG_URL = process.env.QUEUECTL_TEST_PG_URL;
/** A queue's webhook, which travels with it as its limits do. */
const HOOK = "https://hooks.example.com/q";

const homes = transferHomes();
const cli = homes.cli;

/** The job lines of an export, without their `kind`. */
function records(ndjson: string): JobRecord[] {
  return lines(ndjson)
    .filter((line) => line.kind === "job")
    .map(({ kind: _kind, ...record }) => record as unknown as JobRecord);
}

const NOW = Date.now();

function job(
  id: string,
  extra: Omit<Partial<NewJob>, "spec"> & { spec?: Partial<NewJob["spec"]> } = {},
): NewJob {
  return {
    revision: `rev-${id}`,
    maxRetries: 2,
    nextRunAt: NOW,
    source: null,
    ...extra,
    spec: { id, command: `echo ${id}`, ...extra.spec },
  };
}

const ok0 = { signal: null, stdoutBytes: 3, stderrBytes: 0, logPath: null, outputTail: "ok" };

/**
 * A queue with a job in every state, a declared job with two completed revisions, a job
 * canceled by its dead dependency, odd specs, a config value, a queue limit and a schedule.
 */
async function seedQueue(path: string): Promise<void> {
  const store = new SqliteStore(path);
  try {
    await store.jobInsertMany({
      jobs: [
        job("done", { source: "nightly/done.yaml", revision: "v1" }),
        job("dead"),
        job("running"),
        job("waiting", {
          spec: { priority: 7, tags: ["a", "b"], queue: "emails", env: { MODE: "x" }, delay: 90_000 },
          nextRunAt: NOW + 90_000,
        }),
        job("argv", {
          spec: { command: ["printf", "%s\\n", "a b"], timeout: 1.5, run_at: "2030-01-01T00:00:00.000Z" },
        }),
        job("gone"),
        job("child", { spec: { after: ["dead"] } }),
      ],
      now: NOW,
    });
    await store.configSet({ key: "max-retries", value: "5" });
    await store.queueSet({ name: "emails", concurrency: 2 });
    // A queue's webhooks and limits travel with it too.
    await store.queueNotifySet({
      name: "emails",
      notify: [{ url: "https://hooks.example.com/q", events: ["dead"] }],
    });
    await store.queueLimitsSet({ name: "emails", limits: { memory: 1024 ** 3, cpu_time: 600 } });
    await store.scheduleUpsert({
      id: "nightly",
      spec: { id: "nightly", command: "echo nightly", schedule: "0 3 * * *" },
      revision: "n1",
      source: null,
      nextAt: NOW + 3_600_000,
      now: NOW,
    });
    const claim = async (now: number) => {
      const claimed = await store.jobClaim({ workerId: "w1", host: "old-host", now, leaseMs: 60_000 });
      if (!claimed) throw new Error("nothing to claim");
      return claimed;
    };
    const done = await claim(NOW);
    await store.jobComplete({
      id: "done",
      token: done.token,
      now: NOW + 1,
      result: { exitCode: 0, error: null, ...ok0 },
    });
    await store.jobfileApply({
      changes: {
        declarations: [
          {
            ...job("done", { source: "nightly/done.yaml", revision: "v2" }),
            source: "nightly/done.yaml",
            owner: "nightly",
            adoptFrom: null,
          },
        ],
        removals: [],
      },
      now: NOW + 2,
    });
    const v2 = await claim(NOW + 3);
    await store.jobComplete({
      id: "done",
      token: v2.token,
      now: NOW + 4,
      result: { exitCode: 0, error: null, ...ok0 },
    });
    const dead = await claim(NOW + 5);
    await store.jobFail({
      id: "dead",
      token: dead.token,
      now: NOW + 6,
      state: "dead",
      nextRunAt: NOW + 6,
      result: { exitCode: 3, error: "exit code 3", ...ok0 },
    });
    await claim(NOW + 7);
    await store.jobTransition({
      id: "gone",
      from: ["pending"],
      to: "canceled",
      resetAttempts: false,
      now: NOW + 8,
      reason: "canceled by user",
    });
  } finally {
    await store.close();
  }
}

describe("export and import", () => {
  test("export writes the settings, then every job, running ones as pending; --state filters jobs", async () => {
    const a = join(homes.current().home, "a.db");
    await seedQueue(a);
    const exported = ok(await cli(a, ["export"])).stdout;
    expect(lines(exported).map((line) => line.kind)).toEqual([
      "export",
      "config",
      "queue",
      "schedule",
      ...Array(7).fill("job"),
      "end",
    ]);
    expect(lines(exported).slice(0, 4)).toMatchObject([
      { kind: "export", format: 2 },
      { kind: "config", key: "max-retries", value: "5" },
      { kind: "queue", name: "emails", concurrency: 2, paused: false },
      { kind: "schedule", id: "nightly", revision: "n1", next_at: NOW + 3_600_000, last_at: null },
    ]);
    const all = records(exported);
    expect(all.map((r) => [r.id, r.state, r.attempts])).toEqual([
      ["done", "completed", 1],
      ["dead", "dead", 1],
      ["running", "pending", 0],
      ["waiting", "pending", 0],
      ["argv", "pending", 0],
      ["gone", "canceled", 0],
      ["child", "canceled", 0],
    ]);
    expect(all[6]).toMatchObject({ canceled_by: "dead", spec: { after: ["dead"] } });
    expect(all[0]).toMatchObject({
      revision: "v2",
      source: "nightly/done.yaml",
      declared: true,
      completed_revisions: ["v1", "v2"],
    });
    expect(all[1]).toMatchObject({ exit_code: 3, last_error: "exit code 3", finished_at: NOW + 6 });
    expect(all[3]?.spec).toEqual({
      id: "waiting",
      command: "echo waiting",
      priority: 7,
      tags: ["a", "b"],
      queue: "emails",
      env: { MODE: "x" },
      delay: 90_000,
    });

    expect(lines(exported).at(-1)).toEqual({
      kind: "end",
      jobs: 7,
      attempts: 3,
      schedules: 1,
      queues: 1,
      config: 1,
    });

    const dead = lines(ok(await cli(a, ["export", "--state", "dead"])).stdout);
    expect(dead.map((line) => [line.kind, line.id])).toEqual([
      ["export", undefined],
      ["job", "dead"],
      ["end", undefined],
    ]);
    // --json, as every read command takes it, writes the same NDJSON.
    expect(ok(await cli(a, ["export", "--json"])).stdout).toBe(exported);
    const bad = await cli(a, ["export", "--state", "deadd"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('unknown state "deadd"');
  });

  test("SQLite → SQLite keeps every line, and a second import is refused whole, naming the id", async () => {
    const a = join(homes.current().home, "a.db");
    const b = join(homes.current().home, "b.db");
    await seedQueue(a);
    const exported = ok(await cli(a, ["export"])).stdout;
    const imported = ok(await cli(b, ["import"], exported));
    expect(imported.stdout).toContain("Imported 7 jobs and 1 schedule\n");
    expect(lines(ok(await cli(b, ["export"])).stdout)).toEqual(lines(exported));
    // The dependency bookkeeping came along: retrying the dead job re-arms the one it canceled.
    ok(await cli(b, ["dlq", "retry", "dead"]));
    expect(records(ok(await cli(b, ["export"])).stdout).find((r) => r.id === "child")?.state).toBe("pending");

    const again = await cli(b, ["import", "-"], exported);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toMatch(
      /^error: schedule id "nightly" already exists in the target store — nothing was imported/,
    );
    const jobsOnly = exported
      .split("\n")
      .filter((line) => line.startsWith('{"kind":"job"'))
      .join("\n");
    const twice = await cli(b, ["import", "-"], jobsOnly);
    expect(twice.stderr).toMatch(
      /^error: job id "done" already exists in the target store — nothing was imported/,
    );
    expect(records(ok(await cli(b, ["export"])).stdout).length).toBe(7);
  });

  test("export carries attempt history; show lists it after import into another store", async () => {
    const a = join(homes.current().home, "a.db");
    const b = join(homes.current().home, "b.db");
    await seedQueue(a);
    const exported = ok(await cli(a, ["export"])).stdout;
    const done = records(exported).find((record) => record.id === "done");
    expect(
      done?.attempt_history.map((attempt) => [attempt.attempt, attempt.host, attempt.exit_code]),
    ).toEqual([
      [1, "old-host", 0],
      [1, "old-host", 0],
    ]);
    // The running job travels without its unfinished attempt.
    expect(records(exported).find((record) => record.id === "running")?.attempt_history).toEqual([]);
    ok(await cli(b, ["import"], exported));
    const shown = JSON.parse(ok(await cli(b, ["show", "dead", "--json"])).stdout) as {
      attempts: { exit_code: number; host: string }[];
    };
    expect(shown.attempts.map((attempt) => [attempt.exit_code, attempt.host])).toEqual([[3, "old-host"]]);
  });

  test("import --merge adds what is missing, skips ids that exist, and says how many of each", async () => {
    const a = join(homes.current().home, "a.db");
    const b = join(homes.current().home, "b.db");
    await seedQueue(a);
    const exported = ok(await cli(a, ["export"])).stdout;
    ok(await cli(b, ["enqueue", '{"id":"done","command":"echo mine"}']));
    ok(await cli(b, ["config", "set", "max-retries", "1"]));
    const merged = ok(await cli(b, ["import", "--merge"], exported));
    expect(merged.stdout).toBe("✓ Imported 6 jobs and 1 schedule; skipped 1 job already in the store\n");
    const after = records(ok(await cli(b, ["export"])).stdout);
    expect(after.map((record) => record.id).sort()).toEqual([
      "argv",
      "child",
      "dead",
      "done",
      "gone",
      "running",
      "waiting",
    ]);
    expect(after.find((record) => record.id === "done")?.spec.command).toBe("echo mine");
    expect(ok(await cli(b, ["config", "get", "max-retries"])).stdout.trim()).toBe("1");
    const again = ok(await cli(b, ["import", "--merge", "--json"], exported));
    expect(JSON.parse(again.stdout)).toMatchObject({ imported: 0, skipped: { jobs: 7, schedules: 1 } });
  });

  test("an export written before attempt history existed still imports", async () => {
    const b = join(homes.current().home, "b.db");
    const a = join(homes.current().home, "a.db");
    await seedQueue(a);
    // Nor was the export framed then (format 1).
    const old = lines(ok(await cli(a, ["export"])).stdout)
      .filter((line) => line.kind !== "export" && line.kind !== "end")
      .map(({ attempt_history: _history, ...line }) => JSON.stringify(line))
      .join("\n");
    expect(ok(await cli(b, ["import"], old)).stdout).toContain("Imported 7 jobs");
  });

  test("bad input is refused with the line and field, and nothing is imported", async () => {
    const b = join(homes.current().home, "b.db");
    const a = join(homes.current().home, "a.db");
    await seedQueue(a);
    const jobLines = ok(await cli(a, ["export"]))
      .stdout.trim()
      .split("\n")
      .filter((line) => line.startsWith('{"kind":"job"'));
    const broken = JSON.parse(jobLines[1] ?? "{}");
    broken.atempts = broken.attempts;
    delete broken.attempts;
    const file = join(homes.current().home, "broken.ndjson");
    writeFileSync(file, `${jobLines[0]}\n${JSON.stringify(broken)}\n`);
    const result = await cli(b, ["import", file]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(
      `${file}:2: \`atempts\` is not a field of an exported job — did you mean \`attempts\`?`,
    );
    expect(records(ok(await cli(b, ["export"])).stdout)).toEqual([]);

    const running = await cli(
      b,
      ["import"],
      `${jobLines[0]?.replace('"state":"completed"', '"state":"processing"')}\n`,
    );
    expect(running.exitCode).toBe(2);
    expect(running.stderr).toContain('stdin:1: `state` "processing" cannot be imported');

    const pastItsRuns = JSON.parse(jobLines[0] ?? "{}");
    Object.assign(pastItsRuns, { state: "failed", attempts: pastItsRuns.max_retries + 1 });
    const refused = await cli(b, ["import"], `${JSON.stringify(pastItsRuns)}\n`);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain(
      `stdin:1: \`attempts\` ${pastItsRuns.attempts} leaves a failed job no run under max_retries ${pastItsRuns.max_retries}`,
    );
    // A result no worker would store (an archive line carries one): the worker's own rule.
    const twice = { ...JSON.parse(jobLines[0] ?? "{}"), result: '{"a":1,"a":2}', progress_pct: null };
    const duplicated = await cli(b, ["import"], `${JSON.stringify(twice)}\n`);
    expect(duplicated.exitCode).toBe(2);
    expect(duplicated.stderr).toContain(
      'stdin:1: `result` must be a result a job could store, and it gives the key "a" twice',
    );
    expect(records(ok(await cli(b, ["export"])).stdout)).toEqual([]);
  });
});

describe.skipIf(!PG_URL)("export and import through PostgreSQL", () => {
  const schema = `qc_e2e_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
  const pg = `${PG_URL}${PG_URL?.includes("?") ? "&" : "?"}schema=${schema}`;
  afterAll(async () => {
    const admin = new SQL(PG_URL ?? "");
    await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.close();
  });

  test("SQLite → PostgreSQL → SQLite round trip keeps the queue, and PostgreSQL refuses a duplicate whole", async () => {
    const a = join(homes.current().home, "a.db");
    const c = join(homes.current().home, "c.db");
    await seedQueue(a);
    const fromSqlite = ok(await cli(a, ["export"])).stdout;
    const queue = lines(fromSqlite).find((line) => line.kind === "queue");
    expect(JSON.stringify([queue?.notify, queue?.limits])).toBe(
      `[[{"url":"${HOOK}","events":["dead"]}],{"memory":"1G","cpu_time":"10m"}]`,
    );
    expect(ok(await cli(pg, ["import"], fromSqlite)).stdout).toContain("Imported 7 jobs and 1 schedule\n");
    const fromPostgres = ok(await cli(pg, ["export"])).stdout;
    expect(lines(fromPostgres)).toEqual(lines(fromSqlite));
    ok(await cli(c, ["import"], fromPostgres));
    expect(lines(ok(await cli(c, ["export"])).stdout)).toEqual(lines(fromSqlite));

    const list = JSON.parse(ok(await cli(pg, ["list", "--json"])).stdout) as { id: string; state: string }[];
    expect(list.map((j) => [j.id, j.state])).toEqual(records(fromSqlite).map((r) => [r.id, r.state]));

    const fresh = records(fromSqlite).map((r) => ({
      ...r,
      id: `new-${r.id}`,
      spec: { ...r.spec, id: `new-${r.id}` },
    }));
    const mixed = [...fresh, records(fromSqlite)[2]]
      .map((r) => JSON.stringify({ kind: "job", ...r }))
      .join("\n");
    const refused = await cli(pg, ["import"], mixed);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('job id "running" already exists in the target store');
    expect(records(ok(await cli(pg, ["export"])).stdout).length).toBe(7);
  });
});
