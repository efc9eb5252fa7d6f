/**
 * `list`: one aligned row per job, newest first, 50 by default, states that combine. The
 * jobs are put in place through the store (as a bulk `enqueue -f` would), so only `list`
 * runs as a process.
 */

import { expect, setDefaultTimeout, test } from "bun:test";
import { moveJob } from "../../src/flow/moves.ts";
import { runCliJson } from "../helpers/cli.ts";
import { enqueueSpecs } from "../helpers/enqueue.ts";
import { withStore, workerTestContext } from "../worker/helpers.ts";

setDefaultTimeout(60_000);

const context = workerTestContext();
const cli = context.cli;

function enqueueMany(count: number): Promise<void> {
  const specs = Array.from({ length: count }, (_, i) => ({ id: `job-${i + 1}`, command: `echo ${i + 1}` }));
  return withStore(context.home, (store) => enqueueSpecs(store, specs));
}

const firstColumn = (out: string) =>
  out
    .trimEnd()
    .split("\n")
    .slice(1, -1)
    .map((line) => line.split(/ {2,}/)[0]);

test("50 rows by default, newest first, aligned, with a footer that says how many there are", async () => {
  await enqueueMany(120);
  const result = await cli("list");
  expect(result.exitCode).toBe(0);
  const lines = result.stdout.trimEnd().split("\n");
  expect(lines).toHaveLength(52);
  expect(lines[0]).toMatch(/^ID +STATE +ATTEMPTS +QUEUE +TIME +COMMAND$/);
  expect(firstColumn(result.stdout).slice(0, 3)).toEqual(["job-120", "job-119", "job-118"]);
  expect(lines[51]).toBe("50 of 120 shown — --limit N, --all");
  // Aligned: every row's command starts in the header's COMMAND column.
  const column = lines[0]?.indexOf("COMMAND") ?? -1;
  for (const line of lines.slice(1, 51)) expect(line.slice(column)).toMatch(/^echo \d+$/);
});

test("--limit and --all; both at once is bad input", async () => {
  await enqueueMany(60);
  const limited = await cli("list", "--limit", "3");
  expect(firstColumn(limited.stdout)).toEqual(["job-60", "job-59", "job-58"]);
  expect(limited.stdout).toEndWith("3 of 60 shown — --limit N, --all\n");
  const all = await cli("list", "--all");
  expect(firstColumn(all.stdout)).toHaveLength(60);
  expect(all.stdout).toEndWith("\n60 jobs\n");
  const both = await cli("list", "--all", "--limit", "3");
  expect(both.exitCode).toBe(2);
  expect(both.stderr).toContain("give --limit or --all, not both");
});

test("repeated --state and --state a,b combine", async () => {
  await withStore(context.home, async (store) => {
    await enqueueSpecs(
      store,
      ["p", "x", "q"].map((id) => ({ id, command: "true" })),
    );
    await moveJob(store, "x", "cancel", Date.now());
  });
  for (const states of [
    ["--state", "pending", "--state", "canceled"],
    ["--state", "pending,canceled"],
  ]) {
    const out = (await cli("list", ...states)).stdout;
    expect(firstColumn(out)).toEqual(["q", "x", "p"]);
  }
  expect(firstColumn((await cli("list", "--state", "canceled", "--state", "dead")).stdout)).toEqual(["x"]);
  const json = await runCliJson<{ id: string }[]>(["list", "--state", "pending", "--state", "canceled"], {
    env: context.home.env,
  });
  expect(json.map((job) => job.id)).toEqual(["p", "x", "q"]);
  const bad = await cli("list", "--state", "pending,pendng");
  expect(bad.exitCode).toBe(2);
  expect(bad.stderr).toContain("did you mean `pending`?");
});

test("--json keeps its shape and order (oldest first, every job); --ids prints ids only", async () => {
  await enqueueMany(60);
  const json = await runCliJson<{ id: string; state: string }[]>(["list"], { env: context.home.env });
  expect(json).toHaveLength(60);
  expect(json[0]).toMatchObject({ id: "job-1", state: "pending", command: "echo 1" });
  const ids = await cli("list", "--ids", "--limit", "2");
  expect(ids.stdout).toBe("job-60\njob-59\n");
  // With --limit the same jobs the table shows, the newest, still oldest first.
  const limited = await runCliJson<{ id: string }[]>(["list", "--limit", "2"], { env: context.home.env });
  expect(limited.map((job) => job.id)).toEqual(["job-59", "job-60"]);
});

test("--tag and --queue match the characters typed, even when they look like numbers", async () => {
  const job = JSON.stringify({ id: "n", command: "true", tags: ["007"], queue: "2024.10" });
  expect((await cli("enqueue", job)).exitCode).toBe(0);
  expect(firstColumn((await cli("list", "--tag", "007")).stdout)).toEqual(["n"]);
  expect(firstColumn((await cli("list", "--queue", "2024.10")).stdout)).toEqual(["n"]);
  expect(firstColumn((await cli("list", "--queue=2024.10", "--tag=007")).stdout)).toEqual(["n"]);
  expect((await cli("list", "--tag", "7")).stdout).toBe("No jobs found.\n");
});

test("--limit is a whole number as typed in decimal: 0x10 and 1e3 are refused", async () => {
  for (const limit of ["0x10", "1e3", "2.0"]) {
    const result = await cli("list", "--limit", limit);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(`--limit must be a whole number of at least 1, got "${limit}"`);
  }
});
