/**
 * For tests of `export` and `import` through the real CLI: a temp home per test, the CLI
 * pointed at a store of the test's choosing, and an export read back line by line.
 */

import { afterEach, beforeEach } from "bun:test";
import { type CliResult, runCli, type TempHome, tempHome } from "./cli.ts";

/** A fresh home for each test of the file that calls it; `current()` is this test's. */
export function transferHomes(): { current: () => TempHome; cli: TransferCli } {
  let home: TempHome | undefined;
  beforeEach(() => {
    home = tempHome();
  });
  afterEach(() => home?.cleanup());
  const current = () => {
    if (home === undefined) throw new Error("transferHomes: no test is running");
    return home;
  };
  return {
    current,
    cli: (db, args, stdin) => runCli(args, { env: { ...current().env, QUEUECTL_DB: db }, stdin }),
  };
}

export type TransferCli = (db: string, args: string[], stdin?: string) => Promise<CliResult>;

/** The result, once it exited 0; else a thrown error with its stderr. */
export function ok(result: CliResult): CliResult {
  if (result.exitCode !== 0) throw new Error(`exit ${result.exitCode}: ${result.stderr}`);
  return result;
}

/** Every line of an export, parsed. */
export function lines(ndjson: string): Record<string, unknown>[] {
  return ndjson
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
