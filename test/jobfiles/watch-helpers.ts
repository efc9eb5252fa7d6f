/** An embedded watcher on a jobs fixture, with every outcome and error it reported. */

import { renameSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SyncOutcome } from "../../src/jobfiles/sync-outcome.ts";
import { type JobfileWatcher, startWatcher, type WatcherOptions } from "../../src/jobfiles/watch.ts";
import type { Store } from "../../src/store/store.ts";
import type { JobsFixture } from "./helpers.ts";

export interface Watched {
  watcher: JobfileWatcher;
  store: Store;
  outcomes: SyncOutcome[];
  errors: unknown[];
}

export async function startWatched(
  fixture: JobsFixture,
  running: JobfileWatcher[],
  extra: Partial<WatcherOptions> = {},
): Promise<Watched> {
  const store = await fixture.store();
  const outcomes: SyncOutcome[] = [];
  const errors: unknown[] = [];
  const watcher = await startWatcher({
    store,
    dir: fixture.dir,
    onSync: (outcome) => outcomes.push(outcome),
    onError: (error) => errors.push(error),
    ...extra,
  });
  running.push(watcher);
  return { watcher, store, outcomes, errors };
}

export async function commandOf(store: Store, id: string): Promise<unknown> {
  return (await store.jobGet({ id }))?.spec.command;
}

export function all<T>(outcomes: SyncOutcome[], pick: (outcome: SyncOutcome) => T[]): T[] {
  return outcomes.flatMap(pick);
}

/**
 * Puts a finished, long-unchanged file at `rel` in one step (written aside, dated a minute
 * back, renamed into place), so a watcher reads it without waiting out the settle time.
 */
export function dropSettled(folder: string, rel: string, text: string): void {
  const aside = join(folder, `.${rel.replaceAll("/", "_")}.part`);
  writeFileSync(aside, text, { mode: 0o600 });
  const past = new Date(Date.now() - 60_000);
  utimesSync(aside, past, past);
  renameSync(aside, join(folder, rel));
}
