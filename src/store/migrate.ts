/**
 * The one migration runner both backends use. Migrations are numbered files under each
 * backend's migrations/ folder, the same numbers and names in both, immutable once shipped.
 * The pending ones run in one transaction that excludes other migrators and re-checks the
 * recorded version inside it, so two processes (or hosts) migrating at once apply each
 * exactly once; a store recorded at a newer version than these files know is refused.
 *
 * bun:sqlite is synchronous and must stay so (a SqliteStore opens in its constructor), while
 * Bun.sql is not: the runner therefore works on values that may or may not be promises, and
 * stays synchronous when its target is.
 */

import { schemaTooNewError } from "./errors.ts";

export interface Migration {
  version: number;
  /** Recorded in schema_migrations; the file's name is this name made lowercase with dashes. */
  name: string;
  sql: string;
}

type Maybe<T> = T | Promise<T>;

/** What a backend gives the runner: its few statements, in its own dialect and transactions. */
export interface MigrationTarget<Tx> {
  /** Where the store lives, for messages. */
  location: string;
  /** The recorded version if it can be read cheaply without writing, else null. */
  quickVersion(): Maybe<number | null>;
  /**
   * Refuses a database that holds someone else's tables, creates schema_migrations if
   * missing, and returns the recorded version (0 for a new store).
   */
  prepare(): Maybe<number>;
  /** Runs `work` in one transaction that no other migrator runs beside. */
  transaction(work: (tx: Tx) => Maybe<void>): Maybe<void>;
  recordedVersion(tx: Tx): Maybe<number>;
  execute(tx: Tx, sql: string): Maybe<void>;
  record(tx: Tx, migration: Migration, appliedAt: number): Maybe<void>;
}

/**
 * A backend's migrations, refused at load unless numbered 1, 2, 3… in that order: the runner
 * applies them in list order and skips any at or below the recorded version, so a gap or a
 * swap would leave one unapplied for good.
 */
export function inVersionOrder(...migrations: Migration[]): readonly Migration[] {
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new Error(
        `migration ${migration.name} is number ${migration.version} but stands at ${index + 1}`,
      );
    }
  });
  return migrations;
}

/** The version a store has once every migration of `migrations` ran. */
export function schemaVersion(migrations: readonly Migration[]): number {
  return Math.max(...migrations.map((migration) => migration.version));
}

/** `then` that calls `next` at once, not on a later tick, when `value` is not a promise. */
function after<T, R>(value: Maybe<T>, next: (value: T) => Maybe<R>): Maybe<R> {
  return value instanceof Promise ? value.then(next) : next(value);
}

function eachInTurn<T>(items: readonly T[], step: (item: T) => Maybe<void>, from = 0): Maybe<void> {
  if (from >= items.length) return;
  return after(step(items[from] as T), () => eachInTurn(items, step, from + 1));
}

/** Brings the store up to date; nearly every open finds it current after one cheap read. */
export function migrate<Tx>(target: MigrationTarget<Tx>, migrations: readonly Migration[]): Maybe<void> {
  const latest = schemaVersion(migrations);
  return after(target.quickVersion(), (quick) => {
    if (quick === latest) return;
    return after(target.prepare(), (found) => {
      if (found > latest) throw schemaTooNewError(target.location, found, latest);
      const pending = migrations.filter((migration) => migration.version > found);
      // One transaction for all of them: a new SQLite store took a commit, with its syncs,
      // per migration (about 15 ms of a first command), and an upgrade is now all or nothing.
      return target.transaction((tx) =>
        after(target.recordedVersion(tx), (current) =>
          eachInTurn(
            pending.filter((migration) => migration.version > current),
            (migration) =>
              after(target.execute(tx, migration.sql), () => target.record(tx, migration, Date.now())),
          ),
        ),
      );
    });
  });
}
