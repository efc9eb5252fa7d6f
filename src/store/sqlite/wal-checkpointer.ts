/**
 * Checkpoints a worker's WAL on a thread of its own.
 *
 * SQLite checkpoints inside whichever commit pushes the WAL past `wal_autocheckpoint`
 * pages, and with `synchronous=NORMAL` that checkpoint syncs the WAL and the database file:
 * a stall of milliseconds in the middle of a worker's claim loop, once every hundred or so
 * rounds, that cost a third of the claim + complete rate (bench row 5). A worker's
 * connection instead raises its own threshold to FALLBACK_AUTOCHECKPOINT_PAGES and asks
 * this thread for a PASSIVE checkpoint every COMMITS_PER_CHECKPOINT commits. Durability is
 * unchanged: a commit is in the WAL before it returns, whoever later copies it.
 */

import type { Database } from "bun:sqlite";
import { entryPointModule } from "../../cli-self.ts";

export type CheckpointRequest =
  | { kind: "open"; path: string }
  | { kind: "checkpoint"; sequence: number }
  | { kind: "close" };

export type CheckpointReply =
  | { kind: "opened" }
  | { kind: "checkpointed"; sequence: number }
  | { kind: "failed"; message: string; sequence?: number }
  | { kind: "closed" };

/** How many write transactions between two checkpoint requests; a 4-slot round writes ~30 pages. */
export const COMMITS_PER_CHECKPOINT = 64;

/**
 * The connection's own threshold while the thread runs (SQLite's default is 1,000 pages):
 * should the thread fall behind or fail, the WAL still stops growing at about 40 MB.
 */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 10_000;

/** How long close waits for the thread to close its connection before ending it. */
const CLOSE_WAIT_MS = 2_000;

export class WalCheckpointer {
  private readonly thread: Worker;
  private commits = 0;
  private requested = 0;
  private answered = 0;
  private waiters: { sequence: number; resolve: () => void }[] = [];
  private onClosed: (() => void) | null = null;
  /** The last failure the thread reported, for tests and diagnostics. */
  lastFailure: string | null = null;

  constructor(
    private readonly db: Database,
    path: string,
  ) {
    db.run(`PRAGMA wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
    this.thread = new Worker(entryPointModule("store/sqlite/wal-checkpoint-thread.ts"));
    this.thread.onmessage = (event: MessageEvent<CheckpointReply>) => this.receive(event.data);
    // The thread must never keep a finished worker process alive (Bun's Worker has unref;
    // the DOM type this project compiles against does not).
    (this.thread as Worker & { unref(): void }).unref();
    this.send({ kind: "open", path });
  }

  /** Called after each commit on the owning connection. */
  noteCommit(): void {
    this.commits++;
    // One at a time: while a slow disk holds one up, more requests would only pile up.
    if (this.commits % COMMITS_PER_CHECKPOINT === 0 && this.answered >= this.requested) {
      this.requestCheckpoint();
    }
  }

  requestCheckpoint(): number {
    this.requested++;
    this.send({ kind: "checkpoint", sequence: this.requested });
    return this.requested;
  }

  /** Resolves once the thread has answered every checkpoint asked for so far. */
  settled(): Promise<void> {
    if (this.answered >= this.requested) return Promise.resolve();
    const sequence = this.requested;
    return new Promise((resolve) => this.waiters.push({ sequence, resolve }));
  }

  /** Closes the thread's connection first, so that the owner's close may remove the WAL. */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      this.onClosed = resolve;
      setTimeout(resolve, CLOSE_WAIT_MS).unref();
    });
    this.send({ kind: "close" });
    await closed;
    this.thread.terminate();
  }

  private send(request: CheckpointRequest): void {
    this.thread.postMessage(request);
  }

  private receive(reply: CheckpointReply): void {
    if (reply.kind === "closed") {
      this.onClosed?.();
      return;
    }
    if (reply.kind === "failed") this.lastFailure = reply.message;
    if (reply.kind === "failed" && reply.sequence === undefined) {
      // The thread has no connection: SQLite's own threshold must bound the WAL again.
      try {
        this.db.run("PRAGMA wal_autocheckpoint = 1000");
      } catch {
        // Closed meanwhile.
      }
    }
    if (reply.kind === "checkpointed" || (reply.kind === "failed" && reply.sequence !== undefined)) {
      this.answered = Math.max(this.answered, reply.sequence ?? 0);
      const ready = this.waiters.filter((waiter) => waiter.sequence <= this.answered);
      this.waiters = this.waiters.filter((waiter) => waiter.sequence > this.answered);
      for (const waiter of ready) waiter.resolve();
    }
  }
}
