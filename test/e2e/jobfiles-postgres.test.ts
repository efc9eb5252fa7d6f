/**
 * Jobfiles and flow on PostgreSQL through the real CLI: the same reconciliation rules as on
 * SQLite, the git-style "nothing re-runs" promise, a pipeline and a queue limit, all against
 * a fresh schema that is dropped afterwards.
 */

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import { runCli, tempHome } from "../helpers/cli.ts";

setDefaultTimeout(120_000);

const PG_URL = process.env.QUEUECTL_TEST_PG_URL;
if (!PG_URL) {
  console.warn(
    "skipping jobfiles on PostgreSQL: set QUEUECTL_TEST_PG_URL (e.g. postgres://postgres@127.0.0.1:5432/test)",
  );
}

describe.skipIf(!PG_URL)("jobfiles on PostgreSQL", () => {
  const schema = `qc_jobfiles_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
  const home = tempHome({ QUEUECTL_DB: `${PG_URL}${PG_URL?.includes("?") ? "&" : "?"}schema=${schema}` });
  const folder = mkdtempSync(join(tmpdir(), "queuectl-pg-jobs-"));
  const jobs = join(folder, "jobs");
  mkdirSync(jobs, { mode: 0o700 });
  const log = join(folder, "ran.log");

  afterAll(async () => {
    const admin = new SQL(PG_URL ?? "");
    await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.close();
    home.cleanup();
    rmSync(folder, { recursive: true, force: true });
  });

  const cli = async (...args: string[]) => {
    const result = await runCli(args, { env: home.env });
    if (result.exitCode !== 0)
      throw new Error(`queuectl ${args.join(" ")} exited ${result.exitCode}: ${result.stderr}`);
    return result.stdout;
  };
  const states = async () =>
    Object.fromEntries(
      (JSON.parse(await cli("list", "--json")) as { id: string; state: string }[]).map((job) => [
        job.id,
        job.state,
      ]),
    );
  const ran = async () =>
    (await Bun.file(log).exists()) ? (await Bun.file(log).text()).split("\n").filter(Boolean) : [];

  test("sync, run, re-sync and checkout back: nothing re-runs; a removed file cancels", async () => {
    const step = (id: string, after?: string) =>
      `  - id: ${id}\n    command: echo ${id} >> ${log}\n    queue: build\n${after ? `    after: [${after}]\n` : ""}`;
    writeFileSync(
      join(jobs, "pipeline.yaml"),
      `jobs:\n${step("compile")}${step("check", "compile")}${step("ship", "check")}`,
    );
    writeFileSync(join(jobs, "hello.yaml"), `command: echo hello >> ${log}\n`);
    await cli("queue", "set", "build", "--concurrency", "1");
    expect(await cli("sync", jobs)).toContain("Plan: 4 to create");
    await cli("worker", "run", "--drain", "--concurrency", "3");
    expect(await ran()).toEqual(expect.arrayContaining(["compile", "check", "ship", "hello"]));
    const order = (await ran()).filter((id) => id !== "hello");
    expect(order).toEqual(["compile", "check", "ship"]);

    // A new revision of hello, then back to the old one: the old one already completed.
    writeFileSync(join(jobs, "hello.yaml"), `command: echo hello-v2 >> ${log}\n`);
    await cli("sync", jobs);
    await cli("worker", "run", "--drain");
    writeFileSync(join(jobs, "hello.yaml"), `command: echo hello >> ${log}\n`);
    expect(await cli("sync", jobs)).toContain("already completed");
    await cli("worker", "run", "--drain");
    expect((await ran()).filter((line) => line.startsWith("hello"))).toEqual(["hello", "hello-v2"]);

    // A file dropped in and removed before any worker runs: its job is canceled.
    writeFileSync(join(jobs, "later.yaml"), `command: echo later >> ${log}\n`);
    await cli("sync", jobs);
    rmSync(join(jobs, "later.yaml"));
    expect(await cli("sync", jobs)).toContain("- later  cancel: jobfile removed (was pending)");
    expect((await states()).later).toBe("canceled");
    expect(await cli("sync", jobs, "--dry-run")).toContain("No changes");
  });
});
