/**
 * The jobs folder is a door to running commands as the worker's user, so `sync` and
 * `watch` only read what its owner controls: a folder (or subfolder, or file) that other
 * users can write is refused with the reason and the fix unless `--allow-shared-folder`,
 * and a symlink that leads outside the folder is never followed.
 *
 * Run through the real CLI. The ownership cases need root (to hand a folder to `nobody`).
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type CliResult, runCli, type TempHome, tempHome } from "../helpers/cli.ts";

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
function refused(result: CliResult, reason: string): void {
  expect(result.exitCode).toBe(2);
  const lines = result.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain(`the jobs folder ${dir} ${reason}`);
  expect(lines[0]).toContain("anyone who can write there can run commands as this user");
  expect(lines[0]).toContain("chmod go-w");
  expect(lines[0]).toContain("--allow-shared-folder");
}

describe("a jobs folder others can write", () => {
  test("world-writable: sync and watch refuse it and queue nothing; --allow-shared-folder reads it", async () => {
    write(join(dir, "job.yaml"), "command: echo hi\n");
    chmodSync(dir, 0o777);
    refused(await cli("sync", dir), "is writable by every user");
    refused(await cli("sync", dir, "--dry-run"), "is writable by every user");
    refused(await cli("watch", dir), "is writable by every user");
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
      refused(await cli("sync", dir), "is writable by its group");
      chmodSync(dir, 0o700);
      chownSync(dir, 65534, 65534);
      refused(await cli("sync", dir), "belongs to another user (uid 65534)");
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
    // A folder link is never walked, inside or out: nothing from it appears at all.
    expect(result.stdout).not.toContain("outside-folder");
    const queued = await ids();
    expect(queued).not.toContain("outside-file");
    expect(queued).not.toContain("outside-folder");
    expect(queued).toContain("real");
    expect(queued).toContain("target");
  });
});
