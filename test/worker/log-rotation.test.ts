/**
 * Background worker and watcher logs stay capped: the unit cases rotate real files held
 * open for appending, as a detached worker's stdout is; the last case starts real detached
 * workers, since what `worker start` hands its children is the point.
 */

import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROTATE_LOG_ENV, rotateIfLarge } from "../../src/worker/log-rotation.ts";
import { waitFor } from "../helpers/cli.ts";
import { enqueue, jobState, ok, workerTestContext } from "./helpers.ts";

setDefaultTimeout(60_000);

describe("rotateIfLarge", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "queuectl-rotate-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test("a small log is left alone", () => {
    const log = join(dir, "worker-1.log");
    const fd = openSync(log, "a");
    writeSync(fd, "short\n");
    expect(rotateIfLarge(log, 100, 3)).toBe(false);
    expect(readFileSync(log, "utf8")).toBe("short\n");
    closeSync(fd);
  });

  test("a full log moves to .1, older copies shift, the oldest goes, and appends start afresh", () => {
    const log = join(dir, "worker-1.log");
    const fd = openSync(log, "a");
    for (const generation of ["one", "two", "three", "four"]) {
      writeSync(fd, `${generation}\n`.padEnd(100, "."));
      expect(rotateIfLarge(log, 100, 3)).toBe(true);
    }
    // The writer's fd still appends, and its output lands at the start of the emptied file.
    writeSync(fd, "five\n");
    closeSync(fd);
    expect(readFileSync(log, "utf8")).toBe("five\n");
    expect(readFileSync(`${log}.1`, "utf8")).toStartWith("four\n");
    expect(readFileSync(`${log}.2`, "utf8")).toStartWith("three\n");
    expect(readFileSync(`${log}.3`, "utf8")).toStartWith("two\n");
    expect(() => readFileSync(`${log}.4`)).toThrow();
  });

  test("a missing log is not an error", () => {
    expect(rotateIfLarge(join(dir, "gone.log"), 1, 3)).toBe(false);
  });
});

describe("worker start", () => {
  const context = workerTestContext();

  test("hands each worker its log to rotate, and jobs do not inherit that", async () => {
    const started = JSON.parse(ok(await context.cli("worker", "start", "--json"))) as {
      workers: { pid: number; log: string }[];
    };
    const [worker] = started.workers;
    const environ = readFileSync(`/proc/${worker?.pid}/environ`, "utf8").split("\0");
    expect(environ).toContain(`${ROTATE_LOG_ENV}=${join(context.home.home, "workers", "worker-{pid}.log")}`);
    expect(worker?.log).toBe(join(context.home.home, "workers", `worker-${worker?.pid}.log`));
    const out = join(context.home.home, "job-env.txt");
    await enqueue(context.home, { id: "env", command: `env > ${out}` });
    await waitFor(async () => (await jobState(context.home, "env")) === "completed", { what: "the env job" });
    expect(readFileSync(out, "utf8")).not.toContain(ROTATE_LOG_ENV);
  });
});
