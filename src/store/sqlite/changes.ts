/**
 * Wake-ups for idle workers. SQLite has no notifications; PRAGMA data_version changes when
 * another connection commits and is a cheap in-memory check (no table read), so polling it
 * every few ms wakes an idle worker fast while costing well under 1% of a core. PostgreSQL's
 * changes.ts listens for NOTIFY instead.
 */

import { type SqliteConnection, withFailures } from "./connection.ts";

/** How often an idle worker checks data_version for commits by other processes. */
const CHANGE_POLL_MS = 20;

export class ChangeListener {
  constructor(private readonly connection: SqliteConnection) {}

  /** Changes whenever another connection commits. */
  async marker(): Promise<string> {
    const { db, location } = this.connection;
    return withFailures(location, () =>
      String((db.query("PRAGMA data_version").get() as { data_version: number }).data_version),
    );
  }

  /** Resolves on a commit by another connection (since `since`), on `signal`, or after `timeoutMs`. */
  async wait(timeoutMs: number, signal?: AbortSignal, since?: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const start = since ?? (await this.marker());
    if (since !== undefined && (await this.marker()) !== since) return;
    while (Date.now() < deadline && !signal?.aborted) {
      await Bun.sleep(Math.min(CHANGE_POLL_MS, Math.max(0, deadline - Date.now())));
      if ((await this.marker()) !== start) return;
    }
  }

  /** Nothing to release: the poll ends with its wait. */
  async stop(): Promise<void> {}
}
