import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UserError } from "../../src/core/errors.ts";
import { readFolderSettings, SETTINGS_FILE } from "../../src/jobfiles/folder-settings.ts";

let dir = "";
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "queuectl-settings-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function settingsOf(text: string) {
  writeFileSync(join(dir, SETTINGS_FILE), text);
  return readFolderSettings(dir);
}

async function refusal(text: string): Promise<string> {
  const error = await settingsOf(text).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(UserError);
  return (error as UserError).message;
}

describe("readFolderSettings", () => {
  test("no file, an empty file and a namespace", async () => {
    expect(await readFolderSettings(dir)).toEqual({ namespace: null });
    expect(await settingsOf("")).toEqual({ namespace: null });
    expect(await settingsOf("# nothing yet\n")).toEqual({ namespace: null });
    expect(await settingsOf("namespace: teamA\n")).toEqual({ namespace: "teamA" });
  });

  test("a file saved as UTF-16 with a byte-order mark is read as jobfiles are", async () => {
    const text = "namespace: blog\n";
    const bytes = new Uint8Array(2 + text.length * 2);
    bytes.set([0xff, 0xfe]);
    for (let i = 0; i < text.length; i++) bytes[2 + i * 2] = text.charCodeAt(i);
    writeFileSync(join(dir, SETTINGS_FILE), bytes);
    expect(await readFolderSettings(dir)).toEqual({ namespace: "blog" });
  });

  test("YAML problems are one line naming the file, line and column", async () => {
    const path = join(dir, SETTINGS_FILE);
    expect(await refusal("namespace: a\nnamespace: b\n")).toBe(
      `${path}:2:1: invalid YAML (Map keys must be unique)`,
    );
    expect(await refusal("namespace: [x\n")).toStartWith(`${path}:1:14: invalid YAML (`);
    expect(await refusal("namespace: !foo x\n")).toStartWith(`${path}:1:12: invalid YAML (Unresolved tag`);
    expect(await refusal("namespace: a\n---\nnamespace: b\n")).toBe(
      `${path}: must hold one YAML document, not several`,
    );
  });

  test("unknown keys and invalid names are refused", async () => {
    expect(await refusal("namepsace: a\n")).toEndWith(
      "`namepsace` is not a folder setting (did you mean `namespace`?)",
    );
    expect(await refusal("owner: a\n")).toEndWith("`owner` is not a folder setting");
    expect(await refusal("namespace: a b\n")).toEndWith('namespace "a b" is not a valid name');
  });

  test("a settings file under a jobfile's other names is refused, not skipped as a dotfile", async () => {
    for (const name of [".queuectl.yml", ".queuectl.json"]) {
      const path = join(dir, name);
      writeFileSync(path, "namespace: blog\n");
      const error = await readFolderSettings(dir).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(UserError);
      expect((error as UserError).message).toBe(
        `${path} is not read: the folder's settings file is named .queuectl.yaml`,
      );
      rmSync(path);
    }
    expect(await readFolderSettings(dir)).toEqual({ namespace: null });
    writeFileSync(join(dir, SETTINGS_FILE), "namespace: blog\n");
    writeFileSync(join(dir, ".queuectl.yml"), "namespace: news\n");
    expect(await refusal("namespace: blog\n")).toStartWith(`${join(dir, ".queuectl.yml")} is not read`);
  });

  test("a named pipe, a link to a device or a file over 1 MiB is refused, never read", async () => {
    const path = join(dir, SETTINGS_FILE);
    const refused = async () => {
      const error = await readFolderSettings(dir).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(UserError);
      return (error as UserError).message;
    };
    // Read, a named pipe blocked the sync until something wrote to it; /dev/zero never ended.
    expect(Bun.spawnSync(["mkfifo", path]).exitCode).toBe(0);
    expect(await refused()).toBe(`${path}: is not a regular file (a named pipe, a device or a socket)`);
    rmSync(path);
    // A link to a device is refused unread as any link that leads outside the folder is.
    symlinkSync("/dev/zero", path);
    expect(await refused()).toBe(
      `${path}: is a symlink that leads outside the jobs folder, so it is not followed`,
    );
    rmSync(path);
    mkdirSync(path);
    expect(await refused()).toBe(`${path}: is a folder, not a file`);
    rmSync(path, { recursive: true });
    expect(await refusal(`# ${"x".repeat(1024 * 1024)}\nnamespace: blog\n`)).toBe(
      `${path}: is larger than 1024 KiB`,
    );
  });

  test("a link is followed inside the folder and refused, unread, when it leads outside", async () => {
    const path = join(dir, SETTINGS_FILE);
    writeFileSync(join(dir, "settings.txt"), "namespace: inside\n");
    symlinkSync("settings.txt", path);
    expect(await readFolderSettings(dir)).toEqual({ namespace: "inside" });
    rmSync(path);
    const outside = mkdtempSync(join(tmpdir(), "queuectl-settings-outside-"));
    try {
      writeFileSync(join(outside, "theirs.yaml"), "namespace: theirs\n");
      symlinkSync(join(outside, "theirs.yaml"), path);
      const error = (await readFolderSettings(dir).catch((caught: unknown) => caught)) as UserError;
      expect(error).toBeInstanceOf(UserError);
      expect(error.message).toBe(
        `${path}: is a symlink that leads outside the jobs folder, so it is not followed`,
      );
      // To a folder outside: the same, not "is a folder".
      rmSync(path);
      symlinkSync(outside, path);
      const folder = (await readFolderSettings(dir).catch((caught: unknown) => caught)) as UserError;
      expect(folder.message).toBe(
        `${path}: is a symlink that leads outside the jobs folder, so it is not followed`,
      );
      // Leading nowhere: its namespace is unknown, not none.
      rmSync(path);
      symlinkSync("gone.yaml", path);
      const dangling = (await readFolderSettings(dir).catch((caught: unknown) => caught)) as UserError;
      expect(dangling.message).toBe(`${path}: is a symlink that cannot be followed (ENOENT)`);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
