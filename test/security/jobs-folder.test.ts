/**
 * The jobs folder is a door to running commands as the worker's user, so `sync` and
 * `watch` only read what its owner controls: a folder (or subfolder, or file) that other
 * users can write is refused with the reason and the fix unless `--allow-shared-folder`,
 * and a symlink that leads outside the folder is never followed but reported.
 *
 * Run through the real CLI. The ownership cases need root (to hand a folder to `nobody`).
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  mkdirSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { cliAsNobody, nobodyCanRunTheCli } from "../faults/helpers.ts";
import { type CliResult, runCli, type TempHome, tempHome, waitFor } from "../helpers/cli.ts";
import { startCli } from "../jobfiles/helpers.ts";

setDefaultTimeout(120_000);

let home: TempHome;
let dir: string;
beforeEach(() => {
  home = tempHome();
  dir = join(home.home, "jobs");
  mkdirSync(dir, { mode: 0o700 });
});
afterEach(() => home.cleanup());

const cli = (...args: string[]) => runCli(args, { env: home.env });
const write = (path: string, text: string) => writeFileSync(path, text, { mode: 0o600 });

async function ids(): Promise<string[]> {
  const result = await cli("list", "--json");
  return (JSON.parse(result.stdout) as { id: string }[]).map((job) => job.id).sort();
}

/** A refusal: exit 2, one line naming the folder, the reason and both ways out. */
function refused(result: CliResult, reason: string, fix: string): void {
  expect(result.exitCode).toBe(2);
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(`the jobs folder ${dir} ${reason}`);
  expect(lines[0]).toContain("can run commands as this user");
  expect(lines[0]).toContain(`\`${fix}\``);
  expect(lines[0]).toContain("--allow-shared-folder");
}

/** Runs each hint's command in `cwd`, as a user pastes it where they typed `sync`. */
function runHints(output: string, cwd: string): void {
  const commands = [...output.matchAll(/`((?:chown|chmod) [^`]+)`/g)].map((match) => match[1] ?? "");
  expect(commands.length).toBeGreaterThan(0);
  for (const command of commands) {
    const run = Bun.spawnSync(["sh", "-c", command], { cwd, stderr: "pipe" });
    expect(run.exitCode, `${command}: ${run.stderr.toString()}`).toBe(0);
  }
}

describe("a jobs folder others can write", () => {
  test("world-writable: sync and watch refuse it and queue nothing; --allow-shared-folder reads it", async () => {
    write(join(dir, "job.yaml"), "command: echo hi\n");
    chmodSync(dir, 0o777);
    const fix = `chmod go-w ${realpathSync(dir)}`;
    refused(await cli("sync", dir), "is writable by every user", fix);
    refused(await cli("sync", dir, "--dry-run"), "is writable by every user", fix);
    refused(await cli("watch", dir), "is writable by every user", fix);
    expect(await ids()).toEqual([]);
    // The flag may come before the folder, as users type it.
    const allowed = await cli("sync", "--allow-shared-folder", dir);
    expect(allowed.exitCode).toBe(0);
    expect(await ids()).toEqual(["job"]);
  });

  test.skipIf(process.getuid?.() !== 0)(
    "group-writable by a group with other members, or owned by someone else: refused",
    async () => {
      write(join(dir, "job.yaml"), "command: echo hi\n");
      // nogroup is the primary group of `nobody`: its members include another account.
      chownSync(dir, 0, 65534);
      chmodSync(dir, 0o770);
      refused(await cli("sync", dir), "is writable by its group", `chmod go-w ${realpathSync(dir)}`);
      chmodSync(dir, 0o700);
      chownSync(dir, 65534, 65534);
      refused(
        await cli("sync", dir),
        "belongs to another user (uid 65534)",
        `chown -R 0 ${realpathSync(dir)}`,
      );
      expect(await ids()).toEqual([]);
      expect((await cli("sync", dir, "--allow-shared-folder")).exitCode).toBe(0);
      expect(await ids()).toEqual(["job"]);
    },
  );

  test("a writable subfolder or file inside a private folder: only those are refused, the rest applies", async () => {
    write(join(dir, "fine.yaml"), "command: echo fine\n");
    mkdirSync(join(dir, "open"), { mode: 0o700 });
    write(join(dir, "open", "inside.yaml"), "command: echo inside\n");
    chmodSync(join(dir, "open"), 0o777);
    write(join(dir, "loose.yaml"), "command: echo loose\n");
    chmodSync(join(dir, "loose.yaml"), 0o666);
    const result = await cli("sync", dir);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toMatch(/open\/:1:1: this folder is writable by every user/);
    expect(result.stdout).toMatch(/loose\.yaml:1:1: this file is writable by every user/);
    expect(await ids()).toEqual(["fine"]);
  });
});

describe("the fix a refusal names", () => {
  test("works when pasted where the user typed `sync jobs`, for a file, a subfolder and an owner", async () => {
    write(join(dir, "fine.yaml"), "command: echo fine\n");
    write(join(dir, "g.yaml"), "command: echo g\n");
    chmodSync(join(dir, "g.yaml"), 0o666);
    mkdirSync(join(dir, "shared"), { mode: 0o700 });
    write(join(dir, "shared", "s.yaml"), "command: echo s\n");
    chmodSync(join(dir, "shared"), 0o777);
    const isRoot = process.getuid?.() === 0;
    // Only root can hand a file to someone else, and so only root can take it back.
    if (isRoot) {
      write(join(dir, "o.yaml"), "command: echo o\n");
      chmodSync(join(dir, "o.yaml"), 0o644);
      chownSync(join(dir, "o.yaml"), 65534, 65534);
    }
    // Hints name the real path: the one that still works if a link on the way changes.
    const real = realpathSync(dir);
    const sync = () => runCli(["sync", "jobs"], { env: home.env, cwd: home.home });
    const first = await sync();
    expect(first.exitCode).toBe(2);
    expect(first.stdout).toContain(`g.yaml:1:1: this file is writable by every user`);
    expect(first.stdout).toContain(`\`chmod go-w ${join(real, "g.yaml")}\``);
    expect(first.stdout).toContain(`\`chmod go-w ${join(real, "shared")}\``);
    if (isRoot) {
      expect(first.stdout).toContain("o.yaml:1:1: this file belongs to another user (uid 65534)");
      expect(first.stdout).toContain(`\`chown 0 ${join(real, "o.yaml")}\``);
    }
    runHints(first.stdout, home.home);
    const second = await sync();
    expect(second.stderr).toBe("");
    expect(second.exitCode).toBe(0);
    expect(await ids()).toEqual(isRoot ? ["fine", "g", "o", "shared/s"] : ["fine", "g", "shared/s"]);
  });
});

describe("symlinks in a jobs folder", () => {
  test("a link to a file or folder outside is not followed; a link inside the folder is", async () => {
    const outside = join(home.home, "outside");
    mkdirSync(outside, { mode: 0o700 });
    write(join(outside, "secret.yaml"), "id: outside-file\ncommand: echo pwned\n");
    mkdirSync(join(outside, "more"), { mode: 0o700 });
    write(join(outside, "more", "job.yaml"), "id: outside-folder\ncommand: echo pwned\n");
    write(join(dir, "real.yaml"), "id: real\ncommand: echo real\n");
    symlinkSync(join(outside, "secret.yaml"), join(dir, "link-out.yaml"));
    symlinkSync("../outside/secret.yaml", join(dir, "relative-out.yaml"));
    symlinkSync(join(outside, "more"), join(dir, "folder-out"));
    // Dot-folders are not read themselves; the link is what brings this file in.
    mkdirSync(join(dir, ".shared"), { mode: 0o700 });
    write(join(dir, ".shared", "target.yaml"), "id: target\ncommand: echo target\n");
    symlinkSync(join(dir, ".shared", "target.yaml"), join(dir, "link-in.yml"));

    const result = await cli("sync", dir);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toMatch(
      /link-out\.yaml:1:1: is a symlink that leads outside the jobs folder, so it is not followed/,
    );
    expect(result.stdout).toMatch(/relative-out\.yaml:1:1: is a symlink that leads outside the jobs folder/);
    // A folder link is never walked, inside or out; one leading outside is named, not read.
    expect(result.stdout).toMatch(
      /folder-out\/:1:1: is a symlink to a folder outside the jobs folder, so it is not followed — move or copy/,
    );
    expect(result.stdout).not.toContain("outside-folder");
    const queued = await ids();
    expect(queued).not.toContain("outside-file");
    expect(queued).not.toContain("outside-folder");
    expect(queued).toContain("real");
    expect(queued).toContain("target");
  });

  test("a folder of jobs replaced by a link outside is in error and keeps its jobs; the rest applies", async () => {
    const outside = join(home.home, "outside");
    mkdirSync(join(outside, "team"), { recursive: true, mode: 0o700 });
    write(join(outside, "team", "t.yaml"), "command: echo pwned\n");
    mkdirSync(join(dir, "team"), { mode: 0o700 });
    write(join(dir, "team", "t.yaml"), "command: echo t\n");
    expect((await cli("sync", dir)).exitCode).toBe(0);
    rmSync(join(dir, "team"), { recursive: true });
    symlinkSync(join(outside, "team"), join(dir, "team"));
    write(join(dir, "new.yaml"), "command: echo new\n");

    const result = await cli("sync", dir);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toContain(
      "! error  team/:1:1: is a symlink to a folder outside the jobs folder, so it is not followed — move or copy that folder into the jobs folder, or remove the link",
    );
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/^error: 1 jobfile problem .* — /);
    const jobs = JSON.parse((await cli("list", "--json")).stdout) as { id: string; state: string }[];
    expect(jobs.map((job) => [job.id, job.state]).sort()).toEqual([
      ["new", "pending"],
      ["team/t", "pending"],
    ]);
  });

  test("watch reports a folder link leading outside, and clears it when re-pointed inside, as sync does", async () => {
    const outside = join(home.home, "outside");
    mkdirSync(outside, { mode: 0o700 });
    mkdirSync(join(dir, "in"), { mode: 0o700 });
    write(join(dir, "a.yaml"), "command: echo a\n");
    // Older than the watcher's settle time, so its first sync takes a.yaml: the sync after
    // the re-pointing then has nothing else to do and says `up to date`.
    const past = new Date(Date.now() - 10_000);
    utimesSync(join(dir, "a.yaml"), past, past);
    symlinkSync(outside, join(dir, "ext"));
    const reported = (line: string) =>
      line.includes("! error  ext/:1:1: is a symlink to a folder outside the jobs folder");
    // `ln -sfn`: a new link renamed over the old one, so the folder never lacks it.
    const repoint = (target: string) => {
      symlinkSync(target, join(dir, "ext.new"));
      renameSync(join(dir, "ext.new"), join(dir, "ext"));
    };
    // The periodic re-sync is far off: only the events can bring each change up in time.
    const watching = startCli(["watch", dir, "--resync", "1h"], home.env);
    try {
      await watching.waitForLine(reported, "the link reported by the first sync");
      // The first sync prints before the folder is watched: a change made in between would
      // wait for the hourly re-sync.
      await waitFor(() => watching.stderrLines.some((line) => line.includes("watching ")), {
        what: "the watcher to watch the folder",
      });
      repoint("in");
      await watching.waitForLine((line) => line.includes("up to date"), "the problem cleared");
      repoint(outside);
      await waitFor(() => watching.stdoutLines.filter(reported).length === 2, {
        what: "the link reported again",
      });
    } finally {
      await watching.stop();
    }
  });

  test("a symlink loop is reported as a loop, with the way out", async () => {
    write(join(dir, "fine.yaml"), "command: echo fine\n");
    symlinkSync("loop.yaml", join(dir, "loop.yaml"));
    const result = await cli("sync", dir);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toContain(
      "! error  loop.yaml:1:1: is a symlink loop: following it never reaches a file — fix the link or remove it",
    );
    expect(result.stdout).not.toContain("missing");
    expect(await ids()).toEqual(["fine"]);
  });
});

describe.skipIf(!nobodyCanRunTheCli())("a jobs folder its user may not read (run as nobody)", () => {
  test("sync and watch refuse it, or its settings file, as bad input: one line, exit 2, nothing queued", async () => {
    write(join(dir, "job.yaml"), "command: echo hi\n");
    // Everything is nobody's, as if nobody had made it; only the folder's mode shuts it out.
    chownSync(home.home, 65534, 65534);
    chownSync(dir, 65534, 65534);
    chownSync(join(dir, "job.yaml"), 65534, 65534);
    chmodSync(dir, 0o000);
    const asNobody = cliAsNobody(home.env);
    try {
      for (const command of ["sync", "watch"]) {
        const result = asNobody(command, dir);
        expect(result.exitCode).toBe(2);
        expect(result.stderr.trimEnd().split("\n")).toEqual([
          `error: cannot read the jobs folder ${dir} (EACCES) — check its permissions`,
        ]);
      }
      // Searchable but not readable: the folder's listing is what is refused.
      chmodSync(dir, 0o100);
      expect(asNobody("sync", dir)).toMatchObject({
        exitCode: 2,
        stderr: `error: cannot read the jobs folder ${dir} (EACCES) — check its permissions\n`,
      });
      // Its settings file unreadable: the file is named, with the fix that fits.
      chmodSync(dir, 0o700);
      const settings = join(dir, ".queuectl.yaml");
      write(settings, "namespace: team\n");
      chownSync(settings, 65534, 65534);
      chmodSync(settings, 0o000);
      expect(asNobody("sync", dir)).toMatchObject({
        exitCode: 2,
        stderr: `error: ${settings}: cannot be read (EACCES) — check its permissions; nothing was applied\n`,
      });
      expect(asNobody("list", "--json").stdout.trim()).toBe("[]");
    } finally {
      chmodSync(dir, 0o700);
    }
  });
});
