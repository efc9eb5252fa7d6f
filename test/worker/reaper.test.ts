/**
 * The reaper with real processes: a job started by a process that then dies by SIGKILL is
 * killed with its whole group, and a reaper killed on its own is replaced without losing
 * the groups it watched.
 */

import { afterEach, beforeEach, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { isProcessAlive } from "../../src/worker/process-info.ts";
import { JOURNAL_COMPACT_BYTES } from "../../src/worker/reaper-journal.ts";
import { waitFor } from "../helpers/cli.ts";

setDefaultTimeout(60_000);

const REAPER = resolve(import.meta.dir, "../../src/worker/reaper.ts");

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "queuectl-reaper-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in worker: starts a job in its own group under a reaper, reports pids, then waits. */
function owner(extra = ""): Bun.Subprocess {
  const script = `
    const { Reaper } = await import(${JSON.stringify(REAPER)});
    const reaper = new Reaper();
    const job = Bun.spawn(["sh", "-c", "sleep 300 & echo $! > ${dir}/child; exec sleep 300"], {
      detached: true, stdio: ["ignore", "ignore", "ignore"], env: { ...process.env, ...reaper.envEntry },
    });
    reaper.watch(job.pid);
    await Bun.write(${JSON.stringify(join(dir, "leader"))}, String(job.pid));
    ${extra}
    setInterval(() => {}, 1000);`;
  return Bun.spawn(["bun", "-e", script], { stdio: ["ignore", "inherit", "inherit"] });
}

const pidIn = (name: string) => Number(readFileSync(join(dir, name), "utf8").trim());
// Both files exist and hold a pid: a file read between its truncation and its write is empty.
const started = () =>
  existsSync(join(dir, "leader")) &&
  existsSync(join(dir, "child")) &&
  pidIn("leader") > 0 &&
  pidIn("child") > 0;
const groupKilled = (leader: number, child: number, what: string) =>
  waitFor(() => !isProcessAlive(leader) && !isProcessAlive(child), { timeoutMs: 15_000, what });

test("SIGKILL of the owner: its job's whole group dies", async () => {
  const worker = owner();
  await waitFor(() => started() && pidIn("child") > 0, { timeoutMs: 20_000, what: "the job to start" });
  const [leader, child] = [pidIn("leader"), pidIn("child")];
  expect(isProcessAlive(leader)).toBe(true);
  worker.kill("SIGKILL");
  await worker.exited;
  await groupKilled(leader, child, "the job's group to be killed");
});

test("a reaper killed on its own is replaced and still kills the group when the owner dies", async () => {
  // The owner kills its first reaper through its private field: nothing else names that pid.
  const worker = owner(`
    const first = reaper.child.pid;
    process.kill(first, "SIGKILL");
    await new Promise((done) => { const t = setInterval(() => { if (reaper.child.pid !== first) { clearInterval(t); done(); } }, 10); });
    await Bun.write(${JSON.stringify(join(dir, "replaced"))}, "yes");`);
  // The job's shell writes the child's pid on its own time, which can come after "replaced".
  await waitFor(() => existsSync(join(dir, "replaced")) && started() && pidIn("child") > 0, {
    timeoutMs: 20_000,
    what: "the reaper to be replaced and the job to start",
  });
  const [leader, child] = [pidIn("leader"), pidIn("child")];
  worker.kill("SIGKILL");
  await worker.exited;
  await groupKilled(leader, child, "the job's group to be killed by the new reaper");
});

test("SIGKILL of the owner: a process that left its job's group with setsid dies by its attempt's mark", async () => {
  // The group is recorded, but the escaped process is outside it: only the reaper's /proc
  // scan for the worker's tag, which the attempt's own entry starts with, finds it.
  const script = `
    const { Reaper } = await import(${JSON.stringify(REAPER)});
    const reaper = new Reaper();
    const mark = reaper.attemptMark();
    const job = Bun.spawn(["sh", "-c", "setsid sh -c 'echo $$ > ${dir}/child; exec sleep 300' & exec sleep 300"], {
      detached: true, stdio: ["ignore", "ignore", "ignore"], env: { ...process.env, [mark.name]: mark.value },
    });
    reaper.watch(job.pid);
    await Bun.write(${JSON.stringify(join(dir, "leader"))}, String(job.pid));
    setInterval(() => {}, 1000);`;
  const worker = Bun.spawn(["bun", "-e", script], { stdio: ["ignore", "inherit", "inherit"] });
  try {
    await waitFor(started, { timeoutMs: 20_000, what: "the job and its escaped process to start" });
    const [leader, child] = [pidIn("leader"), pidIn("child")];
    // It really left: a session and group of its own.
    expect(readFileSync(`/proc/${child}/stat`, "utf8").split(") ")[1]?.split(" ")[2]).toBe(String(child));
    worker.kill("SIGKILL");
    await worker.exited;
    await groupKilled(leader, child, "the group and the escaped process to be killed");
  } finally {
    worker.kill("SIGKILL");
    for (const name of ["leader", "child"]) {
      // Never 0: that signals this test's own process group.
      if (!existsSync(join(dir, name)) || !(pidIn(name) > 0)) continue;
      try {
        process.kill(pidIn(name), "SIGKILL");
      } catch {
        // Already gone, as it should be.
      }
    }
  }
});

test("a full pipe loses no line: a reaper starved of CPU still learns every group", async () => {
  // Without a journal (no temporary folder to make it in), every line goes down the pipe.
  // The reaper is stopped while the owner records groups until the pipe is full (pgids past
  // any pid_max, forgotten again before the end), then the job: its `+` line is refused by
  // the full pipe and must wait, not vanish. The job has no QUEUECTL_REAPER entry, so
  // the /proc scan cannot stand in for the line.
  const script = `
    process.env.TMPDIR = ${JSON.stringify(join(dir, "no-such-folder"))};
    const { Reaper } = await import(${JSON.stringify(REAPER)});
    const reaper = new Reaper();
    if (reaper.journal !== null) throw new Error("a journal was made without a temporary folder");
    await Bun.write(${JSON.stringify(join(dir, "reaper"))}, String(reaper.child.pid));
    process.kill(reaper.child.pid, "SIGSTOP");
    const fakes = [];
    for (let pgid = 5_000_000; reaper.unsent === "" && pgid < 6_000_000; pgid++) {
      reaper.watch(pgid);
      fakes.push(pgid);
    }
    const job = Bun.spawn(["sh", "-c", "sleep 300 & echo $! > ${dir}/child; exec sleep 300"], {
      detached: true, stdio: ["ignore", "ignore", "ignore"],
    });
    reaper.watch(job.pid);
    for (const pgid of fakes) reaper.forget(pgid);
    await Bun.write(${JSON.stringify(join(dir, "pending"))}, String(reaper.unsent.length));
    process.kill(reaper.child.pid, "SIGCONT");
    await new Promise((done) => { const t = setInterval(() => { if (reaper.unsent === "") { clearInterval(t); done(); } }, 10); });
    await Bun.write(${JSON.stringify(join(dir, "leader"))}, String(job.pid));
    setInterval(() => {}, 1000);`;
  const worker = Bun.spawn(["bun", "-e", script], { stdio: ["ignore", "inherit", "inherit"] });
  try {
    await waitFor(() => started() && pidIn("child") > 0, {
      timeoutMs: 20_000,
      what: "every line to reach the reaper",
    });
    const [leader, child] = [pidIn("leader"), pidIn("child")];
    worker.kill("SIGKILL");
    await worker.exited;
    await groupKilled(leader, child, "the job's group to be killed");
    // And the pipe really was full: lines were waiting when the reaper was let go.
    expect(pidIn("pending")).toBeGreaterThan(0);
  } finally {
    worker.kill("SIGKILL");
    // A reaper left stopped (the script failed before SIGCONT) would never exit.
    if (existsSync(join(dir, "reaper"))) {
      try {
        process.kill(pidIn("reaper"), "SIGKILL");
      } catch {
        // Exited with its owner, as it should.
      }
    }
    if (existsSync(join(dir, "leader"))) {
      try {
        process.kill(-pidIn("leader"), "SIGKILL");
      } catch {
        // Already gone, as it should be.
      }
    }
  }
});

/**
 * An owner that starts `kept` and `ended` (each a `sleep` in a group of its own, with no
 * QUEUECTL_REAPER entry, so only the recorded groups can reach them) and records both; runs
 * `middle`, forgets `ended` as if it had stopped it, runs `middle` again, writes both pids
 * and waits.
 */
function recordingOwner(middle: string): Bun.Subprocess {
  const script = `
    const { Reaper } = await import(${JSON.stringify(REAPER)});
    const reaper = new Reaper();
    const start = () => Bun.spawn(["sleep", "300"], { detached: true, stdio: ["ignore", "ignore", "ignore"] });
    const kept = start();
    const ended = start();
    reaper.watch(kept.pid);
    reaper.watch(ended.pid);
    { ${middle} }
    reaper.forget(ended.pid);
    { ${middle} }
    // The forget travels with the next line: a group past any pid_max, forgotten in turn.
    reaper.watch(7_000_000);
    reaper.forget(7_000_000);
    await Bun.write(${JSON.stringify(join(dir, "leader"))}, String(kept.pid));
    await Bun.write(${JSON.stringify(join(dir, "child"))}, String(ended.pid));
    setInterval(() => {}, 1000);`;
  return Bun.spawn(["bun", "-e", script], { stdio: ["ignore", "inherit", "inherit"] });
}

/** SIGKILL of the owner: the recorded group dies, the forgotten one is left alone. */
async function onlyRecordedGroupDies(worker: Bun.Subprocess): Promise<void> {
  try {
    await waitFor(started, { timeoutMs: 20_000, what: "both groups to start" });
    const [kept, ended] = [pidIn("leader"), pidIn("child")];
    worker.kill("SIGKILL");
    await worker.exited;
    await waitFor(() => !isProcessAlive(kept), {
      timeoutMs: 15_000,
      what: "the recorded group to be killed",
    });
    // The reaper has acted (the kill above); a forgotten group's pgid may be someone else's by now.
    expect(isProcessAlive(ended)).toBe(true);
  } finally {
    worker.kill("SIGKILL");
    for (const name of ["leader", "child"]) {
      if (!existsSync(join(dir, name)) || !(pidIn(name) > 0)) continue;
      try {
        process.kill(-pidIn(name), "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }
}

test("a group recorded only in the journal dies with its owner; a forgotten one is left alone", async () => {
  await onlyRecordedGroupDies(recordingOwner(""));
});

test("a reaper killed on its own, twice: its replacement still kills the live group and leaves the forgotten one", async () => {
  await onlyRecordedGroupDies(
    recordingOwner(`
      const first = reaper.child.pid;
      process.kill(first, "SIGKILL");
      await new Promise((done) => {
        const t = setInterval(() => { if (reaper.child.pid !== first) { clearInterval(t); done(); } }, 10);
      });`),
  );
});

test("the journal, emptied many times over, still holds every live group and none that was forgotten", async () => {
  // Twice 10,000 groups past any pid_max, each recorded and forgotten: each time several
  // times the size at which the journal is emptied, after the live groups went down the pipe.
  // The forgotten group was live when the first were emptied, and is gone by the last.
  await onlyRecordedGroupDies(
    recordingOwner(`
      if (reaper.journal === null) throw new Error("no journal");
      for (let i = 0; i < 10_000; i++) {
        const pgid = (globalThis.nextFake = (globalThis.nextFake ?? 5_000_000) + 1);
        reaper.watch(pgid);
        reaper.forget(pgid);
      }
      const size = (await import("node:fs")).fstatSync(reaper.journal.fd).size;
      if (size > ${JOURNAL_COMPACT_BYTES}) throw new Error("the journal was not emptied: " + size + " bytes");`),
  );
});

test("a journal that fails (a full disk) is given up: the live groups go down the pipe, and not the forgotten", async () => {
  // Its descriptor closed under it, the next append fails as a write to a full disk would.
  // The forgotten group was live when the journal was given up, and is forgotten after.
  await onlyRecordedGroupDies(
    recordingOwner(`
      if (reaper.journal) {
        (await import("node:fs")).closeSync(reaper.journal.fd);
        reaper.watch(6_000_000);
        if (reaper.journal !== null) throw new Error("the journal was not given up");
      }`),
  );
});

test("a snapshot cut off in the pipe by the owner's death leaves the reaper's groups as they were", async () => {
  // 1,000 live groups past any pid_max and then a real one: each emptying of the journal
  // sends them all (several writes). The reaper is stopped, so the pipe fills; the owner dies
  // right after a snapshot was cut off by the full pipe, the real group's line unsent.
  const script = `
    const { writeFileSync } = await import("node:fs");
    const { Reaper } = await import(${JSON.stringify(REAPER)});
    const reaper = new Reaper();
    if (reaper.journal === null) throw new Error("no journal");
    for (let pgid = 5_000_000; pgid < 5_001_000; pgid++) reaper.watch(pgid);
    const job = Bun.spawn(["sleep", "300"], { detached: true, stdio: ["ignore", "ignore", "ignore"] });
    reaper.watch(job.pid);
    writeFileSync(${JSON.stringify(join(dir, "reaper"))}, String(reaper.child.pid));
    process.kill(reaper.child.pid, "SIGSTOP");
    for (let pgid = 6_000_000; reaper.unsent === "" && pgid < 7_000_000; pgid++) {
      reaper.watch(pgid);
      reaper.forget(pgid);
    }
    if (!reaper.unsent.includes("+ " + job.pid + " .")) throw new Error("the real group's line went whole");
    writeFileSync(${JSON.stringify(join(dir, "leader"))}, String(job.pid));
    process.kill(process.pid, "SIGKILL");`;
  const worker = Bun.spawn(["bun", "-e", script], { stdio: ["ignore", "inherit", "inherit"] });
  try {
    await worker.exited;
    expect(existsSync(join(dir, "leader"))).toBe(true);
    const leader = pidIn("leader");
    expect(isProcessAlive(leader)).toBe(true);
    process.kill(pidIn("reaper"), "SIGCONT");
    await waitFor(() => !isProcessAlive(leader), { timeoutMs: 15_000, what: "the real group to be killed" });
  } finally {
    for (const name of ["reaper", "leader"]) {
      if (!existsSync(join(dir, name))) continue;
      try {
        process.kill(name === "leader" ? -pidIn(name) : pidIn(name), "SIGKILL");
      } catch {
        // Gone, as it should be.
      }
    }
  }
});
