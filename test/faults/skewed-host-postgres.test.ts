/**
 * Commands run on a host whose clock is an hour off, against one PostgreSQL queue. Workers
 * judge a job's `next_run_at` on the server's clock, so what a command writes must be on it
 * too: stamped with the host's clock, a job queued from a host an hour ahead waited an hour
 * for no reason, and a `--delay` from a host behind ran at once. Real CLI processes whose
 * Date.now is moved by a preload; the server's clock is the real one.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openStore } from "../../src/store/open.ts";
import type { Store } from "../../src/store/store.ts";
import { CLI_PATH, type TempHome, tempHome } from "../helpers/cli.ts";
import { privateSchema } from "../helpers/pg-schema.ts";

setDefaultTimeout(60_000);

const PG_URL = process.env.QUEUECTL_TEST_PG_URL;
const HOUR_MS = 3_600_000;
/** A command's round trips and process start, well inside the hour the clocks disagree by. */
const SLACK_MS = 60_000;

describe.skipIf(!PG_URL)("a host whose clock is an hour off queues work on the server's clock", () => {
  const { url } = privateSchema(PG_URL as string, "qc_skewed");
  let home: TempHome;
  let store: Store;
  let preload: string;

  beforeAll(async () => {
    home = tempHome({ QUEUECTL_DB: url });
    store = await openStore({ url });
    preload = join(home.home, "skew.ts");
  });
  afterAll(async () => {
    await store.close();
    home.cleanup();
  });

  /** Runs `queuectl …args` with this host's clock `offsetMs` off. */
  async function skewed(offsetMs: number, args: string[]): Promise<void> {
    writeFileSync(preload, `const real = Date.now; Date.now = () => real() + ${offsetMs};\n`);
    const child = Bun.spawn(["bun", "--preload", preload, CLI_PATH, ...args], {
      env: home.env,
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
    expect({ args, code, stderr }).toEqual({ args, code: 0, stderr: "" });
  }

  async function dueIn(id: string): Promise<number> {
    const job = await store.jobGet({ id });
    if (!job) throw new Error(`no job ${id}`);
    return job.next_run_at - (await store.clockNow());
  }

  test("add, enqueue, rerun and sync from a host an hour ahead are due now", async () => {
    await skewed(HOUR_MS, ["add", "-q", "--id", "added", "--", "true"]);
    await skewed(HOUR_MS, ["enqueue", '{"id":"enqueued","command":"true"}']);
    await skewed(HOUR_MS, ["cancel", "added"]);
    await skewed(HOUR_MS, ["rerun", "added"]);
    const folder = join(home.home, "jobs");
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    writeFileSync(join(folder, "declared.yaml"), "command: 'true'\n");
    await skewed(HOUR_MS, ["sync", folder]);
    const dueNow: Record<string, boolean> = {};
    for (const id of ["added", "enqueued", "declared"]) dueNow[id] = (await dueIn(id)) < SLACK_MS;
    expect(dueNow).toEqual({ added: true, enqueued: true, declared: true });
  });

  test("a job killed from a host an hour behind ended now, not an hour ago", async () => {
    await skewed(0, ["add", "-q", "--id", "to-kill", "--delay", "1h", "--", "true"]);
    await skewed(-HOUR_MS, ["kill", "to-kill"]);
    const job = await store.jobGet({ id: "to-kill" });
    expect(job?.state).toBe("canceled");
    expect((await store.clockNow()) - (job?.finished_at ?? 0)).toBeLessThan(SLACK_MS);
  });

  test("a delay given on a host an hour behind still waits", async () => {
    await skewed(-HOUR_MS, ["add", "-q", "--id", "delayed", "--delay", "30m", "--", "true"]);
    expect(await dueIn("delayed")).toBeGreaterThan(30 * 60_000 - SLACK_MS);
  });
});
