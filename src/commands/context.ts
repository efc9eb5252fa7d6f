/** What every command adapter shares: opening the store from global flags, and common lookups. */

import { UserError } from "../core/errors.ts";
import type { Job } from "../core/job.ts";
import { safeText } from "../render.ts";
import { openStore } from "../store/open.ts";
import type { Store } from "../store/store.ts";

export interface GlobalOptions {
  /** `--db`: the store URL or path (default: $QUEUECTL_DB, then $QUEUECTL_HOME/jobs.db). */
  db?: string;
  json?: boolean;
}

/** Opens the store for the duration of `work` and always closes it. */
export async function withStore<T>(options: GlobalOptions, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore({ url: options.db });
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

export async function requireJob(store: Store, id: string): Promise<Job> {
  const job = await store.jobGet({ id });
  if (!job)
    throw new UserError(`no job with id "${safeText(id)}"`, "see `queuectl list` for the ids in the queue");
  return job;
}

/** cac turns numeric-looking values into numbers; this validates a whole-number flag. */
export function integerOption(name: string, value: unknown, min: number, fallback: number): number {
  if (value === undefined) return fallback;
  // Text (from a TEXT_OPTION) must be decimal digits: Number() would take 0x10 and 1e3.
  const number =
    typeof value === "number" ? value : /^\s*[+-]?\d+\s*$/.test(String(value)) ? Number(value) : Number.NaN;
  // Safe integers only: SQLite refuses 1e20 as a LIMIT with a bare "datatype mismatch".
  if (!Number.isSafeInteger(number) || number < min) {
    throw new UserError(
      `--${name} must be a whole number of at least ${min}, got "${String(value)}"`,
      `e.g. --${name} ${Math.max(min, 1)}`,
    );
  }
  return number;
}

/** cac passes repeated flags as arrays; commands take the last one, as most CLIs do. */
export function lastValue<T>(value: T | T[] | undefined): T | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value;
}
