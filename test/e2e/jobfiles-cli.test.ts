/**
 * Jobfiles through the real CLI on every backend: attempts that name the revision they ran
 * (`show`, `logs --attempt`, `logs --revision`), two repos sharing one store (the refusal,
 * then a namespace), and `sync --json` counts that equal what was applied.
 */

import { expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../helpers/cli.ts";
import { type BackendTest, forEachBackend } from "../jobfiles/helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(120_000);

async function cli(t: BackendTest, ...args: string[]): Promise<string> {
  const result = await runCli(args, { env: t.fixture.env });
  if (result.exitCode !== 0)
    throw new Error(`queuectl ${args.join(" ")} exited ${result.exitCode}: ${result.stderr}`);
  return result.stdout;
}

interface ShowJson {
  attempts: { attempt: number; token: number; revision: string | null; exit_code: number | null }[];
}

forEachBackend("jobfiles CLI", (t) => {
  test("each attempt names its revision; logs selects one by #n or by revision after edits", async () => {
    await t.setUp();
    const revisions: string[] = [];
    for (const version of ["one", "two", "three"]) {
      t.fixture.write("job.yaml", `command: echo ran-${version}\n`);
      await cli(t, "sync", t.fixture.dir);
      await cli(t, "worker", "run", "--drain");
      revisions.push((JSON.parse(await cli(t, "show", "job", "--json")) as { revision: string }).revision);
    }
    const shown = JSON.parse(await cli(t, "show", "job", "--json")) as ShowJson;
    expect(shown.attempts.map((a) => [a.token, a.attempt, a.revision])).toEqual([
      [1, 1, revisions[0] ?? ""],
      [2, 1, revisions[1] ?? ""],
      [3, 1, revisions[2] ?? ""],
    ]);
    const human = await cli(t, "show", "job");
    for (const [index, revision] of revisions.entries()) {
      expect(human).toContain(`#${index + 1}  rev ${revision?.slice(0, 6)}  try 1  `);
    }
    expect(await cli(t, "logs", "job", "--attempt", "2")).toBe("ran-two\n");
    expect(await cli(t, "logs", "job", "--revision", revisions[0]?.slice(0, 6) ?? "")).toBe("ran-one\n");
    expect(await cli(t, "logs", "job")).toBe("ran-three\n");
    const missing = await runCli(["logs", "job", "--attempt", "4"], { env: t.fixture.env });
    expect([missing.exitCode, missing.stderr]).toEqual([
      2,
      'error: job "job" has no attempt #4; its attempts are #1, #2, #3 — give one of those to --attempt, the # that `queuectl show` lists\n',
    ]);
  });

  test("two repos share one store: the second is refused in one line, then syncs with a namespace", async () => {
    await t.setUp();
    const repos = ["repo-a", "repo-b"].map((name) => {
      const jobs = join(t.fixture.home, name, "jobs");
      mkdirSync(jobs, { recursive: true, mode: 0o700 });
      writeFileSync(join(jobs, "build.yaml"), `command: echo ${name}\n`);
      return jobs;
    });
    const [a, b] = repos as [string, string];
    await cli(t, "sync", a);
    const refused = await runCli(["sync", b], { env: t.fixture.env });
    expect(refused.exitCode).toBe(2);
    const errorLines = refused.stdout.split("\n").filter((line) => line.includes("! error"));
    expect(errorLines).toHaveLength(1);
    expect(errorLines[0]).toContain(`id "build" belongs to the jobs folder ${a}, not to ${b}`);
    expect(errorLines[0]).toContain("--adopt");

    writeFileSync(join(b, ".queuectl.yaml"), "namespace: repo-b\n");
    const synced = JSON.parse(await cli(t, "sync", b, "--json")) as {
      namespace: string;
      plan: { changes: { id: string; action: string }[]; counts: Record<string, number> };
      applied: { counts: Record<string, number> };
    };
    expect(synced.namespace).toBe("repo-b");
    expect(synced.plan.changes).toMatchObject([{ id: "repo-b/build", action: "create" }]);
    expect(synced.applied.counts).toEqual(synced.plan.counts);
    expect((await cli(t, "sync", a)).trim()).toBe("No changes: 1 declaration up to date.");
  });

  test("a removed completed job is forgotten, not canceled, and the counts agree", async () => {
    await t.setUp();
    t.fixture.write("done.yaml", "command: echo done\n");
    await cli(t, "sync", t.fixture.dir);
    await cli(t, "worker", "run", "--drain");
    t.fixture.write("waiting.yaml", "command: echo waiting\n");
    await cli(t, "sync", t.fixture.dir);
    t.fixture.remove("done.yaml");
    t.fixture.remove("waiting.yaml");
    const output = await cli(t, "sync", t.fixture.dir);
    expect(output).toContain("  - done     forget: jobfile removed; completed, history kept  done.yaml");
    expect(output).toContain("  - waiting  cancel: jobfile removed (was pending)  waiting.yaml");
    expect(output).toContain(
      "Plan: 0 to create, 0 to update, 1 to cancel, 1 to forget (file removed, history kept); 0 unchanged.",
    );
    expect(output).toContain("Applied: 1 canceled, 1 forgotten.");
  });
});
