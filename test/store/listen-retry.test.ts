/**
 * Bun's driver says a failed LISTEN (a PostgreSQL restart) with console.warn in its own
 * words; the queue says it as its other warnings read: `warning: …`, one line. Anything else
 * written with console.warn passes through untouched.
 */

import { afterEach, expect, test } from "bun:test";
import { rewordListenRetries } from "../../src/store/postgres/changes.ts";

const originalWarn = console.warn;
const originalWrite = process.stderr.write.bind(process.stderr);
afterEach(() => {
  console.warn = originalWarn;
  process.stderr.write = originalWrite;
});

test("Bun's LISTEN retry line is reworded; other warnings pass through", () => {
  const passed: unknown[][] = [];
  console.warn = (...args: unknown[]) => {
    passed.push(args);
  };
  rewordListenRetries();
  const written: string[] = [];
  process.stderr.write = ((chunk: string) => {
    written.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  console.warn('bun:sql LISTEN "queuectl:public" failed, retrying: the database system is shutting down');
  console.warn("something else", 1);
  expect(written).toEqual([
    "warning: PostgreSQL's change notifications stopped (the database system is shutting down); reconnecting, and waiting by polling meanwhile\n",
  ]);
  expect(passed).toEqual([["something else", 1]]);
});
