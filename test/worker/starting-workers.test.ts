/**
 * The record of workers a `worker start` launched and that may not have registered yet
 * (src/worker/starting-workers.ts): `worker stop` takes it, and a start that records a
 * worker after the record was taken learns it missed the stop.
 */

import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  forgetStarting,
  recordStarting,
  stillStarting,
  takeStartingWorkers,
} from "../../src/worker/starting-workers.ts";

let dir = "";

afterEach(() => rmSync(dir, { recursive: true, force: true }));

test("a stop takes the live workers recorded, and a worker recorded after that is reported missed", () => {
  dir = mkdtempSync(join(tmpdir(), "queuectl-starting-"));
  // Above Linux's largest pid: no live process has it, so the stop has nothing to signal.
  const gone = 2 ** 22 + 1;
  expect(recordStarting(dir, gone, true)).toBe(true);
  expect(stillStarting(dir, gone)).toBe(true);
  expect(takeStartingWorkers(dir)).toEqual([]);
  expect(readdirSync(dir)).toEqual([]);
  expect(stillStarting(dir, gone)).toBe(false);
  // The next worker of the same start: recorded again, but the start now knows to stop all.
  expect(recordStarting(dir, gone + 1, false)).toBe(false);
  forgetStarting(dir);
  expect(existsSync(join(dir, `starting-${process.pid}.pids`))).toBe(false);
  // A start no stop interrupted records every worker without complaint.
  expect(recordStarting(dir, gone, true)).toBe(true);
  expect(recordStarting(dir, gone + 1, false)).toBe(true);
  forgetStarting(dir);
});
