/**
 * A fresh QUEUECTL_HOME for every test of a file, with the CLI and the store set-up bound to
 * it. Call once at the top of a test file: it registers its own beforeEach and afterEach.
 */

import { afterEach, beforeEach } from "bun:test";
import { type CliResult, runCli, runCliJson, type TempHome, tempHome } from "./cli.ts";
import { type HomeStore, homeStore } from "./job-states.ts";

export interface CliHome {
  /** The current test's home. */
  readonly home: TempHome;
  /** The current test's store, for set-up without a CLI call per step. */
  readonly setup: HomeStore;
  cli(...args: string[]): Promise<CliResult>;
  json<T>(...args: string[]): Promise<T>;
}

/** The settings of a new home, as `config get --json` and `status --json` show them. */
export const DEFAULT_CONFIG = {
  "max-retries": 3,
  "backoff-base": 2,
  "backoff-max": 3600,
  "poll-interval": 1,
  "job-timeout": 3600,
  lease: 30,
} as const;

export function cliHomePerTest(): CliHome {
  let home: TempHome | null = null;
  let setup: HomeStore | null = null;
  beforeEach(() => {
    home = tempHome();
    setup = homeStore(home.home);
  });
  afterEach(() => home?.cleanup());
  const current = () => {
    if (!home || !setup) throw new Error("cliHomePerTest: used outside a test");
    return { home, setup };
  };
  return {
    get home() {
      return current().home;
    },
    get setup() {
      return current().setup;
    },
    cli: (...args) => runCli(args, { env: current().home.env }),
    json: <T>(...args: string[]) => runCliJson<T>(args, { env: current().home.env }),
  };
}
