/** `queuectl sync` as users run it: the real CLI on a real folder, git repositories and a git hook. */

import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CLI_PATH, runCli, runCliJson } from "../helpers/cli.ts";
import { claimAll, completeAll, type JobsFixture, jobsFixture } from "../jobfiles/helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let fixture: JobsFixture;
afterEach(() => fixture?.cleanup());

interface SyncJson {
  dry_run: boolean;
  plan: {
    changes: { id: string; action: string; state: string | null; fields: { field: string }[] }[];
    counts: Record<string, number>;
    unchanged: number;
    errors: { file: string; line: number; column: number; field: string | null; message: string }[];
  };
  applied: (Record<string, string[]> & { counts: Record<string, number> }) | null;
}

async function syncJson(args: string[], cwd?: string) {
  const result = await runCli(["sync", ...args, "--json"], { env: fixture.env, cwd });
  return { ...result, json: JSON.parse(result.stdout) as SyncJson };
}

function git(cwd: string, ...args: string[]) {
  const result = Bun.spawnSync(
    ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", ...args],
    {
      cwd,
      env: fixture.env,
    },
  );
  if (result.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${result.stderr.toString()}`);
  return result.stdout.toString().trim();
}

describe("queuectl sync", () => {
  test("prints the plan like terraform, applies what is valid and exits 2 on errors", async () => {
    fixture = jobsFixture();
    fixture.write("keep.yaml", "command: echo keep\n");
    fixture.write("change.yaml", "command: echo v1\n");
    fixture.write("remove.yaml", "command: echo bye\n");
    expect((await runCli(["sync", fixture.dir], { env: fixture.env })).exitCode).toBe(0);

    fixture.write("change.yaml", "command: echo v2\n");
    fixture.remove("remove.yaml");
    fixture.write("new.yaml", "command: echo new\n");
    fixture.write("broken.yaml", "command: echo\nmax_retry: 1\n");
    const result = await runCli(["sync", fixture.dir], { env: fixture.env });
    expect(result.exitCode).toBe(2);
    const lines = result.stdout.split("\n");
    expect(lines).toContain("  + new     create  new.yaml");
    expect(lines).toContain("  ~ change  update: replaces the pending run, attempts reset  change.yaml");
    expect(lines).toContain('      ~ command: "echo v1" → "echo v2"');
    expect(lines).toContain("  - remove  cancel: jobfile removed (was pending)  remove.yaml");
    expect(lines).toContain(
      "  ! error  broken.yaml:2:1: `max_retry` is not a job field — did you mean `max_retries`?",
    );
    expect(result.stdout).toContain("Plan: 1 to create, 1 to update, 1 to cancel, 1 error; 1 unchanged.");
    expect(result.stdout).toContain("Applied: 1 created, 1 updated, 1 canceled.");
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toStartWith("error: 1 jobfile problem (listed above) — fix it and sync again");

    const states = await runCliJson<{ id: string; state: string }[]>(["list"], { env: fixture.env });
    expect(states.map((job) => [job.id, job.state])).toEqual([
      ["change", "pending"],
      ["keep", "pending"],
      ["remove", "canceled"],
      ["new", "pending"],
    ]);
  });

  test("--dry-run plans without applying; --json is stable and machine-readable", async () => {
    fixture = jobsFixture();
    fixture.write("a.yaml", "command: echo a\n");
    const dry = await syncJson([fixture.dir, "--dry-run"]);
    expect(dry.exitCode).toBe(0);
    expect(dry.json.dry_run).toBe(true);
    expect(dry.json.plan.changes.map((job) => [job.id, job.action])).toEqual([["a", "create"]]);
    expect(dry.json.applied).toBeNull();
    expect(await runCliJson<unknown[]>(["list"], { env: fixture.env })).toEqual([]);
    const human = await runCli(["sync", fixture.dir, "--dry-run"], { env: fixture.env });
    expect(human.stdout).toContain("Dry run: nothing was applied.");

    const real = await syncJson([fixture.dir]);
    expect(real.json.applied?.create).toEqual(["a"]);
    expect(real.json.applied?.counts).toEqual(real.json.plan.counts);
    const again = await runCli(["sync", fixture.dir], { env: fixture.env });
    expect(again.stdout.trim()).toBe("No changes: 1 declaration up to date.");
  });

  test("DIR defaults to ./jobs; a missing folder is an error that cancels nothing", async () => {
    fixture = jobsFixture();
    fixture.write("a.yaml", "command: echo a\n");
    expect((await runCli(["sync"], { env: fixture.env, cwd: fixture.home })).exitCode).toBe(0);
    const missing = await runCli(["sync"], { env: fixture.env, cwd: fixture.dir });
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toBe(
      "error: the jobs folder jobs does not exist — check the path, or create the folder; if its last jobfile was removed (git drops an empty folder), create it empty and the next sync cancels their jobs\n",
    );
    const [job] = await runCliJson<{ state: string }[]>(["list"], { env: fixture.env });
    expect(job?.state).toBe("pending");
    // What the hint says: the folder back, empty, cancels the jobs of its removed files.
    rmSync(fixture.dir, { recursive: true });
    expect((await runCli(["sync"], { env: fixture.env, cwd: fixture.home })).exitCode).toBe(2);
    mkdirSync(fixture.dir);
    expect((await runCli(["sync"], { env: fixture.env, cwd: fixture.home })).exitCode).toBe(0);
    const [canceled] = await runCliJson<{ state: string }[]>(["list"], { env: fixture.env });
    expect(canceled?.state).toBe("canceled");
  });

  test("problems: --json says where they are listed, status names how many it leaves out, sync --watch points to watch", async () => {
    fixture = jobsFixture();
    for (let i = 1; i <= 5; i++) fixture.write(`bad${i}.yaml`, `command: echo ${i}\nmax_retry: 1\n`);
    const json = await runCli(["sync", fixture.dir, "--json"], { env: fixture.env });
    expect(json.exitCode).toBe(2);
    expect(JSON.parse(json.stdout).plan.errors).toHaveLength(5);
    expect(json.stderr).toStartWith("error: 5 jobfile problems (listed in the JSON output, under errors) — ");
    const status = await runCli(["status"], { env: fixture.env });
    const listed = status.stdout.split("\n").filter((line) => line.includes("is not a job field"));
    expect(listed).toHaveLength(3);
    expect(status.stdout).toContain(
      `      … and 2 more: queuectl sync --dry-run ${fixture.dir} lists them all\n`,
    );
    const watch = await runCli(["sync", "--watch", fixture.dir], { env: fixture.env });
    expect(watch.exitCode).toBe(2);
    expect(watch.stderr).toBe(
      "error: unknown option `--watch` — to keep syncing as files change, run `queuectl watch [folder]`\n",
    );
  });

  test("a folder others can write is refused unless --allow-shared-folder", async () => {
    fixture = jobsFixture();
    fixture.write("a.yaml", "command: echo a\n");
    chmodSync(fixture.dir, 0o777);
    const refused = await runCli(["sync", fixture.dir], { env: fixture.env });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain(
      "is writable by every user — anyone who can write there can run commands",
    );
    const allowed = await runCli(["sync", fixture.dir, "--allow-shared-folder"], { env: fixture.env });
    expect(allowed.exitCode).toBe(0);
  });

  test("the example jobs/ folder syncs cleanly", async () => {
    fixture = jobsFixture();
    cpSync(resolve(import.meta.dir, "../../jobs"), join(fixture.home, "examples"), { recursive: true });
    const result = await syncJson([join(fixture.home, "examples")]);
    expect(result.exitCode).toBe(0);
    expect(result.json.plan.errors).toEqual([]);
    expect(result.json.plan.counts.create).toBeGreaterThanOrEqual(5);
  });
});

describe("git workflow", () => {
  test("commit, sync, run; checking out an older commit and back re-runs nothing", async () => {
    fixture = jobsFixture();
    const repo = join(fixture.home, "repo");
    mkdirSync(join(repo, "jobs", "nightly"), { recursive: true });
    git(repo, "init", "-q", "-b", "main");
    writeFileSync(join(repo, "jobs", "build.yaml"), "command: echo build v1\n");
    writeFileSync(join(repo, "jobs", "nightly", "backup.yaml"), "command: [echo, backup]\n");
    git(repo, "add", "jobs");
    git(repo, "commit", "-q", "-m", "first jobs");
    const first = git(repo, "rev-parse", "HEAD");
    const store = await fixture.store();

    expect((await syncJson([], repo)).json.applied?.create).toEqual(["build", "nightly/backup"]);
    expect(await completeAll(store)).toEqual(["build", "nightly/backup"]);

    writeFileSync(join(repo, "jobs", "build.yaml"), "command: echo build v2\n");
    writeFileSync(join(repo, "jobs", "deploy.yaml"), "command: echo deploy\n");
    git(repo, "add", "jobs");
    git(repo, "commit", "-q", "-m", "second jobs");
    const second = await syncJson([], repo);
    expect(second.json.applied?.replace).toEqual(["build"]);
    expect(second.json.applied?.create).toEqual(["deploy"]);
    expect(await completeAll(store)).toEqual(["build", "deploy"]);

    for (const ref of [first, "main", first, "main"]) {
      git(repo, "checkout", "-q", ref);
      const result = await syncJson([], repo);
      expect(result.exitCode).toBe(0);
      expect(result.json.applied?.create).toEqual([]);
      expect(result.json.applied?.replace).toEqual([]);
      // build shows the revision the checkout declares, which it completed before.
      expect(result.json.applied?.show_completed).toEqual(["build"]);
      expect(await claimAll(store)).toEqual([]);
    }
    const attempts = await Promise.all(
      ["build", "nightly/backup", "deploy"].map(
        async (id) => (await store.attemptList({ jobId: id })).length,
      ),
    );
    expect(attempts).toEqual([2, 1, 1]);
  });

  test("a post-merge hook syncs what a pull brings", async () => {
    fixture = jobsFixture();
    const origin = join(fixture.home, "origin");
    mkdirSync(join(origin, "jobs"), { recursive: true });
    git(origin, "init", "-q", "-b", "main");
    writeFileSync(join(origin, "jobs", "first.yaml"), "command: echo first\n");
    git(origin, "add", "jobs");
    git(origin, "commit", "-q", "-m", "first");
    const clone = join(fixture.home, "clone");
    git(fixture.home, "clone", "-q", origin, clone);
    const hook = join(clone, ".git", "hooks", "post-merge");
    writeFileSync(
      hook,
      `#!/bin/sh\n# Runs in the repository's top folder after every pull or merge.\nbun ${JSON.stringify(CLI_PATH)} sync jobs || echo "queuectl sync failed; see above" >&2\n`,
    );
    chmodSync(hook, 0o755);

    writeFileSync(join(origin, "jobs", "second.yaml"), "command: echo second\n");
    git(origin, "add", "jobs");
    git(origin, "commit", "-q", "-m", "second");
    git(clone, "pull", "-q", "--ff-only");
    const jobs = await runCliJson<{ id: string }[]>(["list"], { env: fixture.env });
    expect(jobs.map((job) => job.id)).toEqual(["first", "second"]);
  });
});
