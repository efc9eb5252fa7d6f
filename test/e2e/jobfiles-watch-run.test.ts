/**
 * End to end with real processes: a watcher and a worker on one store, and jobfiles dropped
 * into the watched folder. Nothing here touches the store directly; the jobs' commands
 * write marker files, so "it ran" means a real process ran the real command.
 */

import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCliJson, waitFor } from "../helpers/cli.ts";
import { type JobsFixture, jobsFixture, type LiveCli, startCli } from "../jobfiles/helpers.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(120_000);

let fixture: JobsFixture;
const processes: LiveCli[] = [];

afterEach(async () => {
  for (const live of processes.splice(0)) await live.stop("SIGKILL");
  fixture?.cleanup();
});

interface ListedJob {
  id: string;
  state: string;
  attempts: number;
  revision: string;
}

async function job(id: string): Promise<ListedJob | undefined> {
  return (await runCliJson<ListedJob[]>(["list"], { env: fixture.env })).find(
    (candidate) => candidate.id === id,
  );
}

function start(args: string[]): LiveCli {
  const live = startCli(args, fixture.env);
  processes.push(live);
  return live;
}

test("a file dropped into a watched folder runs on a worker; edits re-run it, reformatting does not", async () => {
  fixture = jobsFixture();
  const marks = join(fixture.home, "marks");
  const watcher = start(["watch", fixture.dir]);
  const worker = start(["worker", "run"]);
  await watcher.waitForLine((line) => line.includes("up to date"), "the watcher's first sync");

  fixture.write("hello.yaml", `command: echo v1 >> ${marks}\n`);
  await waitFor(async () => (await job("hello"))?.state === "completed", {
    // A deadline, not a wait: a loaded machine stretches the watcher's settle and the claim.
    timeoutMs: 60_000,
    what: "the dropped jobfile to run",
  });
  expect(readFileSync(marks, "utf8")).toBe("v1\n");

  // Same spec, new formatting: the revision is the same, so nothing runs again.
  fixture.write("hello.yaml", `# reformatted\ncommand: 'echo v1 >> ${marks}'\n`);
  fixture.write("second.json", JSON.stringify({ command: ["sh", "-c", `echo second >> ${marks}`] }));
  await waitFor(async () => (await job("second"))?.state === "completed", {
    timeoutMs: 30_000,
    what: "the second jobfile to run",
  });
  expect((await job("hello"))?.attempts).toBe(1);

  // A real change is new declared work: it runs once more.
  const before = (await job("hello"))?.revision;
  fixture.write("hello.yaml", `command: echo v2 >> ${marks}\n`);
  await waitFor(
    async () => {
      const current = await job("hello");
      return current?.state === "completed" && current.revision !== before;
    },
    { timeoutMs: 30_000, what: "the edited jobfile to run again" },
  );
  expect(readFileSync(marks, "utf8").split("\n").filter(Boolean).sort()).toEqual(["second", "v1", "v2"]);

  expect(await watcher.stop("SIGTERM")).toBe(0);
  expect(await worker.stop("SIGTERM")).toBe(0);
});

test("a watcher given a relative folder keeps to that path when a parent folder is renamed", async () => {
  fixture = jobsFixture();
  const repo = join(fixture.home, "repo");
  mkdirSync(join(repo, "jobs"), { recursive: true, mode: 0o700 });
  writeFileSync(join(repo, "jobs", "a.yaml"), "command: echo v1\n");
  const watcher = startCli(["watch", "jobs"], fixture.env, repo);
  processes.push(watcher);
  const said = (text: string) =>
    [...watcher.stdoutLines, ...watcher.stderrLines].some((line) => line.includes(text));
  // Its events are heard from the "watching" line on.
  await waitFor(() => said("watching"), { timeoutMs: 30_000, what: "the watcher to start" });
  const first = await waitFor(() => job("a"), { timeoutMs: 30_000, what: "the watcher's first sync" });
  expect(first?.state).toBe("pending");

  // The checkout is moved aside (as before a fresh clone in its place) and then edited: the
  // folder the watcher was given is gone, so nothing of the moved one may be applied.
  const moved = join(fixture.home, "moved");
  renameSync(repo, moved);
  writeFileSync(join(moved, "jobs", "a.yaml"), "command: echo v2\n");
  // Either way the watcher says so: it finds the folder gone, or (wrongly) follows it.
  await waitFor(() => said("does not exist") || said("re-pointed"), {
    timeoutMs: 30_000,
    what: "the watcher to find its folder gone",
  });
  expect(said("re-pointed")).toBe(false);
  expect((await job("a"))?.revision).toBe(first?.revision as string);
});
