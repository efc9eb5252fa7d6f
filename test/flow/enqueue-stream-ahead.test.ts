/**
 * A streamed enqueue prepares its lines on a second thread once the input is large
 * (prepared-ahead.ts). Whichever thread prepares them, the same file stores the same rows,
 * dependencies and schedules, and a bad line or a repeated id is refused with the same
 * words, storing nothing. The inputs are random, from a printed seed.
 */

import { expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveConfig } from "../../src/core/config.ts";
import { parseJobInput, prepareJobs } from "../../src/core/job-input.ts";
import { enqueuePrepared } from "../../src/flow/enqueue.ts";
import { readInput } from "../../src/flow/enqueue-input.ts";
import { enqueueStream } from "../../src/flow/enqueue-stream.ts";
import { preparedAhead } from "../../src/flow/prepared-ahead.ts";
import type { Store } from "../../src/store/store.ts";
import { CLI_PATH } from "../helpers/cli.ts";
import { seededRandom, testSeed } from "../helpers/seed.ts";
import { forEachBackend } from "./helpers.ts";

setDefaultTimeout(60_000);

const SEED = testSeed("enqueue-stream-ahead");

/**
 * Lines of every kind a bulk file holds: plain, with defaults written out, spaced, blank.
 * `plain` leaves out schedules and `after`; `variety` is how often each optional field is set.
 */
function randomLines(seed: number, count: number, { plain = false, variety = 0.3 } = {}): string[] {
  const random = seededRandom(seed);
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)] as T;
  const lines: string[] = [];
  for (let index = 0; index < count; index++) {
    const job: Record<string, unknown> = {
      id: `job-${index}`,
      command: pick(["true", ["echo", "hi"], "echo é"]),
    };
    if (random() < variety) job.max_retries = pick([0, 3, 5]);
    if (random() < variety) job.priority = pick([0, 1, -2]);
    if (random() < variety) job.queue = pick(["default", "mail", "video"]);
    if (random() < variety) job.tags = pick([[], ["b", "a"], ["night"]]);
    if (random() < variety) job.delay = pick(["0s", "5m"]);
    if (random() < variety) job.env = { Z: "1", A: pick(["x", 2]) };
    if (!plain && random() < 0.1 && index > 0) job.after = [`job-${Math.floor(random() * index)}`];
    const text = random() < 0.1 ? JSON.stringify(job, null, 1).replaceAll("\n", "") : JSON.stringify(job);
    lines.push(text);
    if (!plain && random() < 0.02)
      lines.push(JSON.stringify({ id: `every-${index}`, command: "true", schedule: "0 * * * *" }));
    if (random() < 0.02) lines.push("");
  }
  return lines;
}

async function withFile<T>(lines: string[], use: (path: string) => Promise<T>): Promise<T> {
  const folder = mkdtempSync(join(tmpdir(), "queuectl-ahead-"));
  try {
    const path = join(folder, "jobs.ndjson");
    writeFileSync(path, `${lines.join("\n")}\n`);
    return await use(path);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

const NOW = Date.UTC(2030, 0, 1);

async function enqueueFile(store: Store, path: string, prepareAhead: boolean) {
  const input = await readInput(path, "ndjson");
  if (input.kind !== "stream") throw new Error("expected a streamed input");
  return await enqueueStream(store, input.input, { config: resolveConfig({}), now: NOW, prepareAhead });
}

/** Everything a store holds of its jobs and schedules that the input decides. */
async function stored(store: Store) {
  const jobs = await store.jobExport({ after: null, limit: 100_000 });
  const schedules = await store.scheduleList();
  // Listed too: a job's row holds its priority, queue and tags in columns of their own.
  const listed = await store.jobList({ limit: 100_000 });
  return {
    jobs: jobs.jobs.map((job) => ({ ...job, created_at: 0, updated_at: 0 })),
    listed: listed.map((job) => ({ ...job, created_at: 0, updated_at: 0 })),
    edges: (await store.jobDependentEdges({ ids: listed.map((job) => job.id) }))
      .map((edge) => JSON.stringify(edge))
      .sort(),
    schedules: schedules.map((schedule) => ({ ...schedule, created_at: 0, updated_at: 0 })),
  };
}

async function refusalOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return `${(error as Error).message} — ${(error as { hint?: string }).hint ?? ""}`;
  }
  throw new Error("the input was not refused");
}

forEachBackend((backend) => {
  test("a file prepared on a second thread stores what the same file prepared on this one does", async () => {
    // Read in two chunks or more (Bun's file stream hands out 256 KB first), each sent in
    // blocks of 1,000 lines (prepare-thread.ts): the thread works ahead and numbers lines
    // across both.
    await withFile(randomLines(SEED, 8_000), async (path) => {
      expect(statSync(path).size).toBeGreaterThan(300 * 1024);
      // Schedules are checked once the input has ended, through a second connection.
      const here = await backend.store(2);
      const inline = await enqueueFile(here, path, false);
      const expected = await stored(here);
      const there = await backend.store(2);
      const ahead = await enqueueFile(there, path, true);
      expect(ahead).toEqual(inline);
      const actual = await stored(there);
      // Read whole rather than streamed, each spec written out by JSON.stringify: the lines
      // a streamed enqueue stores as they are must be that text.
      const whole = await backend.store(2);
      const text = readFileSync(path, "utf8");
      await enqueuePrepared(
        whole,
        prepareJobs(parseJobInput(text, path, "ndjson"), path, resolveConfig({}), NOW),
        NOW,
      );
      expect(await stored(whole)).toEqual(expected);
      expect(actual.jobs.length).toBeGreaterThan(7_500);
      expect(actual.edges.length).toBeGreaterThan(400);
      expect(actual).toEqual(expected);
    });
  });

  test("a file of plain jobs, mostly alike, stores the same on either thread", async () => {
    // Mostly alike, so that most hundreds of rows share their columns in one statement.
    await withFile(randomLines(SEED + 4, 12_000, { plain: true, variety: 0.002 }), async (path) => {
      const here = await backend.store(2);
      const inline = await enqueueFile(here, path, false);
      const there = await backend.store(2);
      const ahead = await enqueueFile(there, path, true);
      expect(ahead).toEqual(inline);
      expect(await stored(there)).toEqual(await stored(here));
    });
  });

  test("a bad line or a repeated id is refused alike on either thread, and nothing is stored", async () => {
    const lines = randomLines(SEED + 1, 8_000).filter((line) => !line.includes("schedule"));
    const bad = [...lines];
    bad[7_000] = '{"id":"late","command":"true","retries":3}';
    const repeated = [...lines];
    repeated[6_000] = JSON.stringify({ id: "job-12", command: "true" });
    // Nested deeper than a second thread's stack reaches: refused by the same check.
    const deep = [...lines];
    deep[5_000] = `{"id":"deep","command":"true","env":${"[".repeat(28_000)}${"]".repeat(28_000)}}`;
    // Plain jobs, all alike: whole hundreds of rows in one statement, a repeated id among them.
    const plainRepeated = randomLines(SEED + 5, 8_000, { plain: true, variety: 0 });
    plainRepeated[6_000] = JSON.stringify({ id: "job-12", command: "true" });
    for (const input of [bad, repeated, deep, plainRepeated]) {
      await withFile(input, async (path) => {
        const here = await backend.store();
        const there = await backend.store();
        const inline = await refusalOf(enqueueFile(here, path, false));
        expect(await refusalOf(enqueueFile(there, path, true))).toBe(inline);
        expect(inline).toMatch(/line (7001|6001|5001)/);
        expect((await there.jobCounts()).total).toBe(0);
      });
    }
  });

  test("a plain file repeating an id already stored is refused whole, naming its line, on either thread", async () => {
    const lines = randomLines(SEED + 6, 6_000, { plain: true, variety: 0 });
    lines[4_321] = JSON.stringify({ id: "kept", command: "true" });
    await withFile(lines, async (path) => {
      const here = await backend.store();
      const there = await backend.store();
      for (const store of [here, there])
        await enqueuePrepared(
          store,
          prepareJobs(
            parseJobInput('{"id":"kept","command":"true"}', "a", "json"),
            "a",
            resolveConfig({}),
            NOW,
          ),
          NOW,
        );
      const inline = await refusalOf(enqueueFile(here, path, false));
      expect(await refusalOf(enqueueFile(there, path, true))).toBe(inline);
      expect(inline).toContain('line 4322: job id "kept" already exists');
      expect((await there.jobCounts()).total).toBe(1);
    });
  });
});

test("a failure of the thread's own is a bug report whose stack shows where, on the thread, it failed", async () => {
  await withFile(randomLines(SEED + 2, 10), async (path) => {
    // No config: reading a field of it throws a TypeError inside the thread's preparing.
    const blocks = preparedAhead({ path, readHint: "" }, "jobs.ndjson", null as never, NOW);
    const failure = await blocks.next().then(
      () => null,
      (error: unknown) => error as Error,
    );
    // A plain Error, not a UserError: the CLI reports it as a bug and shows the stack under --debug.
    expect(failure?.constructor).toBe(Error);
    expect(failure?.message).toStartWith("preparing jobs.ndjson failed: ");
    const [, onThread] = (failure?.stack ?? "").split("\non the preparing thread:\n");
    expect(onThread).toContain("prepareJob");
  });
});

test("enqueue -f of a large file exits when its store cannot open: the thread it started early is stopped", async () => {
  await withFile(randomLines(SEED + 3, 30_000), async (path) => {
    expect(statSync(path).size).toBeGreaterThan(1 << 20);
    const folder = mkdtempSync(join(tmpdir(), "queuectl-ahead-home-"));
    try {
      // A leaked thread keeps the process alive: the deadline turns that into a kill.
      const child = Bun.spawn(
        ["bun", CLI_PATH, "enqueue", "-f", path, "--db", join(folder, "none", "jobs.db")],
        {
          env: { ...process.env, QUEUECTL_HOME: folder },
          stdout: "ignore",
          stderr: "pipe",
          timeout: 30_000,
        },
      );
      const stderr = await new Response(child.stderr).text();
      expect(await child.exited).toBe(2);
      expect(child.signalCode).toBeNull();
      expect(stderr).toContain("does not exist");
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
