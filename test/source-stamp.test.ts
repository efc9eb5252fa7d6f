/**
 * The stamps the built binary compares on every start (cli-self.ts): every change a build
 * would see changes it, and nothing a build ignores does.
 */

import { afterEach, beforeEach, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { listedStamp, sourceStamp } from "../src/cli-self.ts";

setDefaultTimeout(20_000);

let root: string;
let src: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "queuectl-stamp-"));
  src = join(root, "src");
  mkdirSync(join(src, "store", "sqlite"), { recursive: true });
  writeFileSync(join(root, "package.json"), "{}");
  writeFileSync(join(src, "cli.ts"), "export {};\n");
  writeFileSync(join(src, "store", "sqlite", "claim.ts"), "export const a = 1;\n");
  writeFileSync(join(src, "page.css"), "body {}\n");
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

test("an edit in place deep in the tree, even of the same size, changes the stamp", () => {
  const before = sourceStamp(src);
  expect(sourceStamp(src)).toBe(before);
  const file = join(src, "store", "sqlite", "claim.ts");
  writeFileSync(file, "export const a = 2;\n");
  utimesSync(file, new Date(2030, 0, 1), new Date(2030, 0, 1));
  expect(sourceStamp(src)).not.toBe(before);
});

test("a new source, a removed one and a changed manifest change it", () => {
  const before = sourceStamp(src);
  writeFileSync(join(src, "store", "new.ts"), "export {};\n");
  const added = sourceStamp(src);
  expect(added).not.toBe(before);
  rmSync(join(src, "page.css"));
  expect(sourceStamp(src)).not.toBe(added);
  const removed = sourceStamp(src);
  writeFileSync(join(root, "package.json"), '{"version":"2.0.0"}');
  expect(sourceStamp(src)).not.toBe(removed);
});

test("editor leftovers, dot-folders, other kinds of file and links are not sources", () => {
  const before = sourceStamp(src);
  writeFileSync(join(src, "store", ".claim.ts.swp"), "swap");
  writeFileSync(join(src, "store", "#claim.ts#"), "autosave");
  symlinkSync("user@host.1:1", join(src, "store", ".#claim.ts"));
  mkdirSync(join(src, ".cache", "deep"), { recursive: true });
  writeFileSync(join(src, ".cache", "deep", "built.ts"), "export {};\n");
  writeFileSync(join(src, "notes.md"), "# notes\n");
  symlinkSync("missing.ts", join(src, "dangling.ts"));
  expect(sourceStamp(src)).toBe(before);
});

test("links to folders are not followed: a loop is no error, and what a link leads to is not stamped", () => {
  const before = sourceStamp(src);
  symlinkSync("..", join(src, "store", "loop"));
  const outside = join(root, "outside");
  mkdirSync(outside);
  writeFileSync(join(outside, "other.ts"), "export {};\n");
  symlinkSync(outside, join(src, "linked"));
  expect(sourceStamp(src)).toBe(before);
  writeFileSync(join(outside, "other.ts"), "export const changed = true;\n");
  expect(sourceStamp(src)).toBe(before);
});

test("a direct call's stamp follows its listed files and the manifest, nothing else", () => {
  const listed = ["cli.ts", "store/sqlite/claim.ts"];
  const before = listedStamp(src, listed);
  writeFileSync(join(src, "page.css"), "body { color: red }\n");
  writeFileSync(join(src, "store", "new.ts"), "export {};\n");
  expect(listedStamp(src, listed)).toBe(before);
  const file = join(src, "store", "sqlite", "claim.ts");
  writeFileSync(file, "export const a = 2;\n");
  utimesSync(file, new Date(2030, 0, 1), new Date(2030, 0, 1));
  const edited = listedStamp(src, listed);
  expect(edited).not.toBe(before);
  rmSync(join(src, "cli.ts"));
  const removed = listedStamp(src, listed);
  expect(removed).not.toBe(edited);
  writeFileSync(join(root, "package.json"), '{"version":"2.0.0"}');
  expect(listedStamp(src, listed)).not.toBe(removed);
});
