/**
 * The read index lets a sync skip unchanged files; these tests hold it to never skipping a
 * real change. Most edits happen "long after" the indexing sync (its clock is moved 10 s
 * ahead), so only the stat key can catch them; the racy test keeps the real clock and
 * forges a stat-key collision, so only the racy rule can.
 */

import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  chmodSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { readJobsFolder } from "../../src/jobfiles/read-folder.ts";
import { statKey } from "../../src/jobfiles/settle.ts";
import { syncIndexPath } from "../../src/jobfiles/sync-index.ts";
import type { Store } from "../../src/store/store.ts";
import { runCli } from "../helpers/cli.ts";
import { type JobsFixture, jobsFixture, sync } from "./helpers.ts";

setDefaultTimeout(60_000);

let fixture: JobsFixture;
let store: Store;
let indexDir: string;
afterEach(() => fixture?.cleanup());

async function setUp(): Promise<void> {
  fixture = jobsFixture();
  store = await fixture.store();
  indexDir = join(fixture.home, "sync-index");
}

const isRoot = process.getuid?.() === 0;

function indexPath(): string {
  return syncIndexPath(indexDir, fixture.root);
}

function readIndex(): { startedAt: number; entries: Record<string, { key: string; parsed: unknown }> } {
  return JSON.parse(readFileSync(indexPath(), "utf8"));
}

function writeIndex(data: unknown, mode = 0o600): void {
  writeFileSync(indexPath(), JSON.stringify(data), { mode });
  chmodSync(indexPath(), mode);
}

/** As if the sync that wrote the index ran 10 s after every file was last touched. */
function ageIndex(): void {
  const data = readIndex();
  const later = new Date(Date.now() + 10_000);
  writeIndex({ ...data, startedAt: data.startedAt + 10_000 });
  utimesSync(indexPath(), later, later);
}

async function commands(): Promise<Record<string, unknown>> {
  const { desired } = await readJobsFolder({ store, dir: fixture.dir, now: Date.now(), indexDir });
  const problems = desired.problems.map((problem) => `${problem.file}: ${problem.message}`);
  return { ...Object.fromEntries(desired.jobs.map((job) => [job.spec.id, job.spec.command])), problems };
}

/** A job whose command is `echo <word>`; the same length for every 3-letter word. */
function job(word: string): string {
  return `command: echo ${word}\n`;
}

describe("unchanged files", () => {
  test("are taken from the index without reading, and the index is not rewritten", async () => {
    await setUp();
    fixture.write("a.yaml", job("one"));
    expect(await commands()).toEqual({ a: "echo one", problems: [] });
    ageIndex();
    // A forged parse proves the file was not read: only the index says "forged".
    const data = readIndex() as {
      entries: Record<string, { parsed: { jobs: { spec: { command: string } }[] } }>;
    };
    const entry = data.entries["a.yaml"];
    if (!entry?.parsed.jobs[0]) throw new Error("the index has no entry for a.yaml");
    entry.parsed.jobs[0].spec.command = "echo forged";
    writeIndex(data);
    const before = statSync(indexPath()).mtimeMs;
    expect(await commands()).toEqual({ a: "echo forged", problems: [] });
    expect(statSync(indexPath()).mtimeMs).toBe(before);
  });

  test("a re-sync through the index plans exactly what a sync without it plans", async () => {
    await setUp();
    fixture.write("a.yaml", "command: [echo, a]\nafter: [b]\nenv: { HOME: /x }\ntags: [t]\npriority: 3\n");
    fixture.write("b.json", '{"command": "true", "timeout": "5m"}');
    fixture.write("c.yaml", "jobs:\n  - id: c1\n    command: true\n  - command: false\n");
    fixture.write("d.yaml", "schedule: '*/5 * * * *'\ncommand: date\n");
    await sync(store, fixture.dir, { indexDir });
    ageIndex();
    const plain = await readJobsFolder({ store, dir: fixture.dir, now: 1000 });
    const indexed = await readJobsFolder({ store, dir: fixture.dir, now: 1000, indexDir });
    expect(indexed).toEqual(plain);
    expect(new Set(plain.desired.problems.map((problem) => problem.file))).toEqual(new Set(["c.yaml"]));
    const again = await sync(store, fixture.dir, { indexDir });
    expect(again.plan.changes).toEqual([]);
  });
});

describe("every real change is caught", () => {
  test("a namespace given to the folder later changes every revision, though no jobfile changed", async () => {
    await setUp();
    fixture.write("a.yaml", "command: echo one\nafter: [b]\n");
    fixture.write("b.yaml", job("two"));
    await commands();
    ageIndex();
    fixture.write(".queuectl.yaml", "namespace: blog\n");
    const plain = await readJobsFolder({ store, dir: fixture.dir, now: 1000 });
    const indexed = await readJobsFolder({ store, dir: fixture.dir, now: 1000, indexDir });
    expect(indexed.desired.jobs.map((entry) => entry.spec.id)).toEqual(["blog/a", "blog/b"]);
    expect(indexed).toEqual(plain);
  });

  test("a symlink pointed at another file", async () => {
    await setUp();
    fixture.write("x.yaml.txt", job("one"));
    fixture.write("y.yaml.txt", job("two"));
    symlinkSync("x.yaml.txt", join(fixture.dir, "a.yaml"));
    expect(await commands()).toEqual({ a: "echo one", problems: [] });
    ageIndex();
    fixture.remove("a.yaml");
    symlinkSync("y.yaml.txt", join(fixture.dir, "a.yaml"));
    expect(await commands()).toEqual({ a: "echo two", problems: [] });
  });

  test("a same-size edit that keeps the old mtime (ctime differs)", async () => {
    await setUp();
    const path = fixture.write("a.yaml", job("one"));
    // A whole-second mtime, so that putting it back restores it exactly.
    const mtime = new Date("2020-02-02T02:02:02Z");
    utimesSync(path, mtime, mtime);
    await commands();
    ageIndex();
    writeFileSync(path, job("two"));
    utimesSync(path, mtime, mtime);
    expect(statSync(path).mtimeMs).toBe(mtime.getTime());
    expect(await commands()).toEqual({ a: "echo two", problems: [] });
  });

  test("touch -d to an old mtime with new content", async () => {
    await setUp();
    const path = fixture.write("a.yaml", job("one"));
    await commands();
    ageIndex();
    writeFileSync(path, job("second"));
    const old = new Date("2001-01-01T00:00:00Z");
    utimesSync(path, old, old);
    expect(await commands()).toEqual({ a: "echo second", problems: [] });
  });

  test("a file replaced by a rename over it", async () => {
    await setUp();
    const path = fixture.write("a.yaml", job("one"));
    const { mtime } = statSync(path);
    await commands();
    ageIndex();
    const temporary = fixture.write("a.yaml.tmp", job("two"));
    utimesSync(temporary, mtime, mtime);
    renameSync(temporary, path);
    expect(await commands()).toEqual({ a: "echo two", problems: [] });
  });

  test("permission changes: writable by others, then private again", async () => {
    await setUp();
    const path = fixture.write("a.yaml", job("one"));
    await commands();
    ageIndex();
    chmodSync(path, 0o606);
    expect(await commands()).toEqual({ problems: ["a.yaml: this file is writable by every user"] });
    chmodSync(path, 0o600);
    expect(await commands()).toEqual({ a: "echo one", problems: [] });
  });

  test.skipIf(isRoot)("permission changes: unreadable, then readable again", async () => {
    await setUp();
    const path = fixture.write("a.yaml", job("one"));
    await commands();
    ageIndex();
    chmodSync(path, 0o000);
    expect(await commands()).toEqual({ problems: ["a.yaml: cannot be read (EACCES)"] });
    chmodSync(path, 0o600);
    expect(await commands()).toEqual({ a: "echo one", problems: [] });
  });

  test("a same-size rewrite within the timestamp granularity of the read (racy) is read again", async () => {
    await setUp();
    const path = fixture.write("a.yaml", job("one"));
    await commands();
    writeFileSync(path, job("two"));
    // Forge the collision a coarse clock makes: the entry's stat key equals the new stat.
    const data = readIndex();
    const entry = data.entries["a.yaml"];
    if (!entry) throw new Error("the index has no entry for a.yaml");
    entry.key = statKey(statSync(path));
    writeIndex(data);
    expect(await commands()).toEqual({ a: "echo two", problems: [] });
  });
});

describe("an index that cannot be trusted is ignored", () => {
  async function forged(): Promise<{
    entries: Record<string, { parsed: { jobs: { spec: { command: string } }[] } }>;
  }> {
    fixture.write("a.yaml", job("one"));
    await commands();
    ageIndex();
    const data = readIndex() as Awaited<ReturnType<typeof forged>>;
    const first = data.entries["a.yaml"]?.parsed.jobs[0];
    if (!first) throw new Error("the index has no entry for a.yaml");
    first.spec.command = "echo forged";
    return data;
  }

  test("corrupt JSON, a wrong shape, or a truncated file", async () => {
    await setUp();
    await forged();
    for (const text of [
      "{not json",
      '{"format":1}',
      "[]",
      "null",
      '{"format":1,"root":1,"entries":{"a.yaml":1}}',
    ]) {
      writeFileSync(indexPath(), text, { mode: 0o600 });
      expect(await commands()).toEqual({ a: "echo one", problems: [] });
    }
  });

  test("an index of another folder", async () => {
    await setUp();
    const data = await forged();
    writeIndex({ ...data, root: `${fixture.root}-other` });
    expect(await commands()).toEqual({ a: "echo one", problems: [] });
  });

  test("an index others can write (whoever writes it decides what runs)", async () => {
    await setUp();
    const data = await forged();
    writeIndex(data, 0o644);
    expect(await commands()).toEqual({ a: "echo one", problems: [] });
    writeIndex(data, 0o620);
    expect(await commands()).toEqual({ a: "echo one", problems: [] });
  });

  test("a deleted file leaves the index, and an unwritable index folder only costs speed", async () => {
    await setUp();
    fixture.write("a.yaml", job("one"));
    fixture.write("b.yaml", job("two"));
    await commands();
    fixture.remove("b.yaml");
    expect(await commands()).toEqual({ a: "echo one", problems: [] });
    expect(Object.keys(readIndex().entries)).toEqual(["a.yaml"]);
    indexDir = join(fixture.dir, "a.yaml", "not-a-folder");
    expect(await commands()).toEqual({ a: "echo one", problems: [] });
  });
});

describe("queuectl sync", () => {
  test("keeps the index in $QUEUECTL_HOME/sync-index, 0600, and still applies the next edit", async () => {
    await setUp();
    const path = fixture.write("a.yaml", job("one"));
    const first = await runCli(["sync", fixture.dir], { env: fixture.env });
    expect(first.exitCode).toBe(0);
    expect(statSync(indexPath()).mode & 0o777).toBe(0o600);
    expect(Object.keys(readIndex().entries)).toEqual(["a.yaml"]);
    writeFileSync(path, job("two"));
    const second = await runCli(["sync", fixture.dir], { env: fixture.env });
    expect(second.exitCode).toBe(0);
    const [facts] = await store.jobDeclarations({ ids: ["a"] });
    expect(facts?.spec.command).toBe("echo two");
  });
});
