import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserError } from "../../src/core/errors.ts";
import type { JobfileProblem } from "../../src/jobfiles/problem.ts";
import {
  isIgnoredName,
  isJobfileName,
  resolveJobsFolder,
  scanJobsFolder,
  scanPath,
} from "../../src/jobfiles/scan.ts";
import { type JobsFixture, jobsFixture } from "./helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

let fixture: JobsFixture;
afterEach(() => fixture?.cleanup());

async function scan(allowShared = false) {
  return scanJobsFolder(await resolveJobsFolder(fixture.dir, allowShared), allowShared);
}

const isRoot = process.getuid?.() === 0;

/**
 * Pastes a hint's command into a shell started elsewhere, as a user does: sync names
 * files relative to the jobs folder, which is rarely the folder the user typed it in.
 */
function runHint(hint: string): void {
  const command = /`([^`]+)`/.exec(hint)?.[1] ?? "";
  const run = Bun.spawnSync(["sh", "-c", command], { cwd: tmpdir(), stderr: "pipe" });
  expect(run.exitCode, `${command}: ${run.stderr.toString()}`).toBe(0);
}

const hints = (problems: JobfileProblem[]) => Object.fromEntries(problems.map((p) => [p.file, p.hint]));

describe("names", () => {
  test("jobfiles are .yaml, .yml and .json, in any case", () => {
    for (const name of ["a.yaml", "b.yml", "c.json", "D.YAML"]) expect(isJobfileName(name)).toBe(true);
    for (const name of ["a.txt", "a.yaml.bak", "a.ndjson", "yaml"]) expect(isJobfileName(name)).toBe(false);
  });

  test("dotfiles and the temp and backup files of vim and emacs are ignored", () => {
    const leftovers = [
      ".a.yaml",
      ".a.yaml.swp",
      ".a.yaml.swx",
      "a.yaml~",
      "4913",
      "#a.yaml#",
      ".#a.yaml",
      "a.yaml.tmp",
      "x.tmp",
    ];
    for (const name of leftovers) expect(isIgnoredName(name), name).toBe(true);
    expect(isIgnoredName("a.yaml")).toBe(false);
  });

  test("the copies `git mergetool` keeps beside a conflicted file are ignored, by a scan and an event alike", async () => {
    const copies = ["deploy_BASE_31758.yaml", "deploy_LOCAL_31758.yaml", "deploy_REMOTE_31758.yml"];
    copies.push("deploy_BACKUP_31758.json", "nightly.v2_BASE_7.yaml", "Makefile_LOCAL_12");
    for (const name of copies) expect(isIgnoredName(name), name).toBe(true);
    // Only git's own spelling: a pid, upper case.
    for (const name of ["db_local_1.yaml", "deploy_BASE.yaml", "deploy_BASE_x1.yaml", "BASE_1.yaml"]) {
      expect(isJobfileName(name), name).toBe(true);
    }
    fixture = jobsFixture();
    fixture.write("deploy.yaml", "command: echo\n");
    for (const name of copies) fixture.write(`sub/${name}`, "command: echo copy\n");
    expect((await scan()).files.map((file) => file.rel)).toEqual(["deploy.yaml"]);
    const root = await resolveJobsFolder(fixture.dir, false);
    expect(await scanPath(root, `sub/${copies[0]}`, false)).toEqual({ kind: "ignored" });
  });
});

describe("scanJobsFolder", () => {
  test("walks subfolders in order and skips dot-folders and leftovers", async () => {
    fixture = jobsFixture();
    fixture.write("b.yaml", "command: echo\n");
    fixture.write("a/z.json", "{}");
    fixture.write(".git/config.yaml", "x");
    fixture.write("#b.yaml#", "half");
    fixture.write("b.yaml~", "old");
    fixture.write("notes.txt", "x");
    const result = await scan();
    expect(result.files.map((file) => file.rel)).toEqual(["a/z.json", "b.yaml"]);
    expect(result.files[0]?.source).toBe(join(fixture.root, "a", "z.json"));
    expect(result.problems).toEqual([]);
  });

  test("a folder gone between being found and being walked is an error, not an empty folder", async () => {
    fixture = jobsFixture();
    fixture.write("a.yaml", "command: echo\n");
    const root = await resolveJobsFolder(fixture.dir, false);
    rmSync(fixture.dir, { recursive: true });
    await expect(scanJobsFolder(root, false)).rejects.toThrow(`the jobs folder ${root} does not exist`);
  });

  test("follows a symlink to a file inside the folder, never one leading outside", async () => {
    fixture = jobsFixture();
    fixture.write("real.yaml", "command: echo\n");
    const outside = mkdtempSync(join(tmpdir(), "queuectl-outside-"));
    try {
      writeFileSync(join(outside, "evil.yaml"), "command: echo evil\n");
      symlinkSync(join(fixture.dir, "real.yaml"), join(fixture.dir, "alias.yaml"));
      symlinkSync(join(outside, "evil.yaml"), join(fixture.dir, "evil.yaml"));
      symlinkSync(outside, join(fixture.dir, "outside-dir"));
      symlinkSync(join(fixture.dir, "gone.yaml"), join(fixture.dir, "dangling.yaml"));
      const result = await scan();
      expect(result.files.map((file) => [file.rel, file.real])).toEqual([
        ["alias.yaml", join(fixture.root, "real.yaml")],
        ["real.yaml", join(fixture.root, "real.yaml")],
      ]);
      expect(result.problems.map((problem) => problem.file)).toEqual([
        "dangling.yaml",
        "evil.yaml",
        "outside-dir/",
      ]);
      expect(result.problems[1]?.message).toContain("outside");
      expect(result.blocked).toEqual(["dangling.yaml", "evil.yaml", "outside-dir/"]);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  test("a link to a folder outside is a problem naming the link, one inside is skipped without a word", async () => {
    fixture = jobsFixture();
    fixture.write("in/a.yaml", "command: echo\n");
    const outside = mkdtempSync(join(tmpdir(), "queuectl-outside-"));
    try {
      writeFileSync(join(outside, "o.yaml"), "command: echo o\n");
      symlinkSync(outside, join(fixture.dir, "ext"));
      symlinkSync("../..", join(fixture.dir, "in", "up"));
      symlinkSync("in", join(fixture.dir, "in-again"));
      // Links that are not jobfiles and lead to no folder say nothing, as plain files do.
      symlinkSync(join(outside, "o.yaml"), join(fixture.dir, "notes"));
      symlinkSync("nowhere", join(fixture.dir, "gone"));
      const result = await scan();
      expect(result.files.map((file) => file.rel)).toEqual(["in/a.yaml"]);
      expect(result.problems.map((p) => [p.file, p.message])).toEqual([
        ["ext/", "is a symlink to a folder outside the jobs folder, so it is not followed"],
        ["in/up/", "is a symlink to a folder outside the jobs folder, so it is not followed"],
      ]);
      expect(result.problems[0]?.hint).toBe(
        "move or copy that folder into the jobs folder, or remove the link",
      );
      expect(result.blocked).toEqual(["ext/", "in/up/"]);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  test("a symlink loop is reported as a loop, not as a missing file", async () => {
    fixture = jobsFixture();
    symlinkSync("loop.yaml", join(fixture.dir, "loop.yaml"));
    symlinkSync("pong.yml", join(fixture.dir, "ping.yml"));
    symlinkSync("ping.yml", join(fixture.dir, "pong.yml"));
    symlinkSync("gone.yaml", join(fixture.dir, "dangling.yaml"));
    const result = await scan();
    expect(result.problems.map((p) => [p.file, p.message, p.hint])).toEqual([
      [
        "dangling.yaml",
        "is a symlink to a missing file",
        "fix the link or remove it; its jobs are left as they are",
      ],
      [
        "loop.yaml",
        "is a symlink loop: following it never reaches a file",
        "fix the link or remove it; its jobs are left as they are",
      ],
      [
        "ping.yml",
        "is a symlink loop: following it never reaches a file",
        "fix the link or remove it; its jobs are left as they are",
      ],
      [
        "pong.yml",
        "is a symlink loop: following it never reaches a file",
        "fix the link or remove it; its jobs are left as they are",
      ],
    ]);
    expect(result.blocked).toEqual(["dangling.yaml", "loop.yaml", "ping.yml", "pong.yml"]);
  });

  test("a jobfile or folder whose name is not UTF-8 is a problem; another such file is ignored", async () => {
    fixture = jobsFixture();
    writeFileSync(join(fixture.dir, "ok.yaml"), "command: echo ok\n");
    const latin1 = (name: string) =>
      Buffer.concat([Buffer.from(`${fixture.dir}/`), Buffer.from(name, "latin1")]);
    writeFileSync(latin1("caf\u00e9.yaml"), "command: echo latin1\n");
    mkdirSync(latin1("caf\u00e9"));
    writeFileSync(latin1("notes-\u00e9.txt"), "not a jobfile\n");
    // Read as the same name: one problem.
    writeFileSync(latin1("caf\u00ff.yaml"), "command: echo latin1\n");
    const result = await scan();
    expect(result.files.map((file) => file.rel)).toEqual(["ok.yaml"]);
    const unreadable = "has a name that is not UTF-8, so it cannot be opened";
    expect(result.problems.map((p) => [p.file, p.message])).toEqual([
      ["caf\uFFFD/", unreadable],
      ["caf\uFFFD.yaml", unreadable],
    ]);
    // The watcher's look at one path an event named (fs.watch names it with U+FFFD too).
    const root = await resolveJobsFolder(fixture.dir, false);
    const file = await scanPath(root, "caf\uFFFD.yaml", false);
    expect(file.kind === "refused" && file.problems.map((p) => p.message)).toEqual([unreadable]);
    expect((await scanPath(root, "caf\uFFFD", false)).kind).toBe("folder");
  });
});

describe("scanPath", () => {
  test("a path an event names is judged as a full scan judges it", async () => {
    fixture = jobsFixture();
    fixture.write("in/a.yaml", "command: echo\n");
    symlinkSync("loop.yaml", join(fixture.dir, "loop.yaml"));
    const root = await resolveJobsFolder(fixture.dir, false);
    expect(await scanPath(root, "loop.yaml", false)).toMatchObject({
      kind: "refused",
      problems: [{ file: "loop.yaml", message: "is a symlink loop: following it never reaches a file" }],
    });
    const outside = mkdtempSync(join(tmpdir(), "queuectl-outside-"));
    try {
      // The watcher keeps folder problems from its full scans: a folder link needs one.
      symlinkSync(outside, join(fixture.dir, "ext"));
      expect(await scanPath(root, "ext", false)).toEqual({ kind: "folder" });
      rmSync(join(fixture.dir, "ext"));
      symlinkSync("in", join(fixture.dir, "ext"));
      expect(await scanPath(root, "ext", false)).toEqual({ kind: "folder" });
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe("a folder others can write is refused", () => {
  test("a world-writable jobs folder, unless --allow-shared-folder", async () => {
    fixture = jobsFixture();
    chmodSync(fixture.dir, 0o777);
    const error = await resolveJobsFolder(fixture.dir, false).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toContain("writable by every user");
    expect((error as UserError).hint).toContain("--allow-shared-folder");
    expect(await resolveJobsFolder(fixture.dir, true)).toBe(fixture.root);
  });

  test("a world-writable subfolder or file is in error and skipped", async () => {
    fixture = jobsFixture();
    fixture.write("open/a.yaml", "command: echo\n");
    chmodSync(join(fixture.dir, "open"), 0o777);
    chmodSync(fixture.write("loose.yaml", "command: echo\n"), 0o666);
    fixture.write("fine.yaml", "command: echo\n");
    const result = await scan();
    expect(result.files.map((file) => file.rel)).toEqual(["fine.yaml"]);
    expect(result.blocked).toEqual(["loose.yaml", "open/"]);
    expect((await scan(true)).files.map((file) => file.rel)).toEqual([
      "fine.yaml",
      "loose.yaml",
      "open/a.yaml",
    ]);
  });

  const rootGroupIsPrivate =
    isRoot &&
    readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .every((line) => line.split(":")[3] !== "0" || line.split(":")[2] === "0") &&
    /^root:[^:]*:0:$/m.test(readFileSync("/etc/group", "utf8"));

  test.skipIf(!rootGroupIsPrivate)(
    "a folder writable only by the user's own private group is accepted",
    async () => {
      fixture = jobsFixture();
      fixture.write("team/a.yaml", "command: echo\n");
      chmodSync(join(fixture.dir, "team"), 0o770);
      chmodSync(fixture.dir, 0o770);
      chownSync(fixture.dir, 0, 0);
      const result = await scan();
      expect(result.problems).toEqual([]);
      expect(result.files.map((file) => file.rel)).toEqual(["team/a.yaml"]);
    },
  );

  test.skipIf(!isRoot)("a folder writable by a shared group, or owned by another user", async () => {
    fixture = jobsFixture();
    const shared = join(fixture.dir, "team");
    mkdirSync(shared, { mode: 0o770 });
    chmodSync(shared, 0o770);
    chownSync(shared, 0, 1); // group "daemon": not this user's private group
    chownSync(fixture.write("theirs.yaml", "command: echo\n"), 4321, 0);
    const result = await scan();
    expect(result.problems.map((problem) => [problem.file, problem.message])).toEqual([
      ["team/", "this folder is writable by its group"],
      ["theirs.yaml", "this file belongs to another user (uid 4321)"],
    ]);
  });

  test("each hint's command names the absolute path, works from any folder and clears the refusal", async () => {
    fixture = jobsFixture();
    fixture.write("open/a.yaml", "command: echo\n");
    chmodSync(join(fixture.dir, "open"), 0o777);
    chmodSync(fixture.write("loose.yaml", "command: echo\n"), 0o666);
    fixture.write("it's $HOME/b.yaml", "command: echo\n");
    chmodSync(join(fixture.dir, "it's $HOME"), 0o777);
    const result = await scan();
    const byFile = hints(result.problems);
    expect(Object.keys(byFile)).toEqual(["it's $HOME/", "loose.yaml", "open/"]);
    expect(byFile["loose.yaml"]).toContain(`\`chmod go-w ${join(fixture.root, "loose.yaml")}\``);
    expect(byFile["open/"]).toContain(`\`chmod go-w ${join(fixture.root, "open")}\``);
    for (const hint of Object.values(byFile)) runHint(hint);
    const fixed = await scan();
    expect(fixed.problems).toEqual([]);
    expect(fixed.files.map((file) => file.rel)).toEqual(["it's $HOME/b.yaml", "loose.yaml", "open/a.yaml"]);
  });

  test("the jobs folder's own hint names its absolute path", async () => {
    fixture = jobsFixture();
    chmodSync(fixture.dir, 0o777);
    // Given as the user typed it from the folder above, so a hint repeating it breaks elsewhere.
    const cwd = process.cwd();
    process.chdir(fixture.home);
    let error: UserError;
    try {
      error = (await resolveJobsFolder("jobs", false).catch((e: unknown) => e)) as UserError;
    } finally {
      process.chdir(cwd);
    }
    expect(error.hint).toContain(`\`chmod go-w ${fixture.root}\``);
    runHint(error.hint);
    expect(await resolveJobsFolder(fixture.dir, false)).toBe(fixture.root);
  });

  test.skipIf(!isRoot)("a file or folder another user owns: the hint hands it back, not chmod", async () => {
    fixture = jobsFixture();
    chownSync(fixture.write("theirs.yaml", "command: echo\n"), 4321, 0);
    const both = fixture.write("both.yaml", "command: echo\n");
    chownSync(both, 4321, 1);
    chmodSync(both, 0o664);
    chownSync(fixture.write("their/a.yaml", "command: echo\n"), 4321, 0);
    chownSync(join(fixture.dir, "their"), 4321, 0);
    const result = await scan();
    expect(result.problems.map((problem) => [problem.file, problem.message])).toEqual([
      ["both.yaml", "this file is writable by its group and belongs to another user (uid 4321)"],
      ["their/", "this folder belongs to another user (uid 4321)"],
      ["theirs.yaml", "this file belongs to another user (uid 4321)"],
    ]);
    const byFile = hints(result.problems);
    expect(byFile["theirs.yaml"]).toContain(`\`chown 0 ${join(fixture.root, "theirs.yaml")}\``);
    expect(byFile["theirs.yaml"]).not.toContain("chmod");
    expect(byFile["their/"]).toContain(`\`chown -R 0 ${join(fixture.root, "their")}\``);
    for (const hint of Object.values(byFile)) {
      expect(hint).toContain("--allow-shared-folder");
      runHint(hint);
    }
    const fixed = await scan();
    expect(fixed.problems).toEqual([]);
    expect(fixed.files.map((file) => file.rel)).toEqual(["both.yaml", "their/a.yaml", "theirs.yaml"]);
  });
});
