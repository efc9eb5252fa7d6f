/** readSettled on real files: a file is read only once it held still, and only if it held still while read. */

import { afterEach, expect, test } from "bun:test";
import { statSync, writeFileSync } from "node:fs";
import { readSettled } from "../../src/jobfiles/settle.ts";
import { type JobsFixture, jobsFixture } from "./helpers.ts";

let fixture: JobsFixture;
afterEach(() => fixture?.cleanup());

function scanned(rel: string) {
  const path = fixture.write(rel, "command: echo whole\n");
  return { rel, real: path, source: path, stats: statSync(path) };
}

test("a file changed within the settle time waits until it has held still for it", async () => {
  fixture = jobsFixture();
  const file = scanned("a.yaml");
  const mtime = file.stats.mtimeMs;
  expect(await readSettled(file, 500, () => mtime + 100)).toEqual({ kind: "wait", at: mtime + 500 });
  const read = await readSettled(file, 500, () => mtime + 500);
  expect(read.kind).toBe("read");
  expect(read.kind === "read" && read.parsed.jobs[0]?.spec.command).toBe("echo whole");
});

test("a file that changed between the check and the read waits again instead of being parsed", async () => {
  fixture = jobsFixture();
  const file = scanned("a.yaml");
  // The writer truncates and starts over after the file was found settled.
  writeFileSync(file.real, "command: echo ha");
  const later = Date.now() + 60_000;
  expect(await readSettled(file, 200, () => later)).toEqual({ kind: "wait", at: later + 200 });
});

test("a file gone before it could be read is reported gone, not as an empty file", async () => {
  fixture = jobsFixture();
  const file = scanned("a.yaml");
  fixture.remove("a.yaml");
  expect(await readSettled(file, 0, Date.now)).toEqual({ kind: "gone" });
});
