/**
 * Wake-ups for idle workers through LISTEN/NOTIFY. Writers that may make work runnable
 * (enqueue, finish, release, transitions, jobfile apply, import, config, stop requests)
 * call `pg_notify` inside their transaction, so the signal arrives only once the change is
 * visible. Claims, lease renewals and heartbeats stay silent: they never create work, and
 * waking every idle worker on each of them would be a thundering herd.
 *
 * NOTIFY is database-wide, so the channel carries the schema name: queues kept in separate
 * schemas of one database never wake each other.
 */

import type { SQL } from "bun";
import { RepeatedLines } from "../../core/repeated-lines.ts";

/** Bun's own line when a LISTEN fails and it retries (after a server restart, say). */
const BUN_LISTEN_RETRY = /^bun:sql LISTEN .+ failed, retrying: ([^\n]*)/;
let listenRetriesReworded = false;

/** Bun's LISTEN retry line as this tool's warnings read (`warning: …`, one line); null for anything else. */
export function listenRetryWarning(args: unknown[]): string | null {
  const match = args.length === 1 && typeof args[0] === "string" ? BUN_LISTEN_RETRY.exec(args[0]) : null;
  return match === null
    ? null
    : `warning: PostgreSQL's change notifications stopped (${match[1]}); reconnecting, and waiting by polling meanwhile`;
}

/** Bun writes that line with console.warn from inside its driver, so that is where it is caught. Once per process. */
function rewordListenRetries(): void {
  if (listenRetriesReworded) return;
  listenRetriesReworded = true;
  const warn = console.warn.bind(console);
  // Bun retries every few seconds while the server is down: the same line, folded.
  const repeated = new RepeatedLines((line) => process.stderr.write(`${line}\n`));
  console.warn = (...args: unknown[]) => {
    const reworded = listenRetryWarning(args);
    if (reworded === null) warn(...args);
    else repeated.print(reworded);
  };
}

export class ChangeListener {
  /** The NOTIFY channel of the queue kept in `schema`. */
  static channelFor(schema: string): string {
    return `queuectl:${schema}`;
  }

  private count = 0;
  private subscription: SQL.ListenSubscription | null = null;
  private starting: Promise<void> | null = null;
  private stopped = false;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly sql: SQL,
    private readonly channel: string,
  ) {}

  /** Subscribes on first use; the listening connection is opened only by processes that wait. */
  start(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    rewordListenRetries();
    this.starting ??= this.sql
      .listen(
        this.channel,
        () => this.bump(),
        // After a reconnect, notifications sent while the connection was down are lost: wake
        // everyone once so they look for themselves.
        () => this.bump(),
      )
      .then(async (subscription) => {
        // close() may have run while the LISTEN was in flight; an open subscription keeps the process alive.
        if (this.stopped) await subscription.unlisten();
        else this.subscription = subscription;
      })
      .catch((error) => {
        this.starting = null;
        throw error;
      });
    return this.starting;
  }

  /** Changes whenever a notification arrives (or the subscription is re-established). */
  async marker(): Promise<string> {
    await this.start();
    return String(this.count);
  }

  /**
   * Never rejects: when the LISTEN cannot be set up (the server is down, or a pooler in
   * transaction mode refuses it) this is a plain sleep, and the worker falls back to polling.
   */
  async wait(timeoutMs: number, signal?: AbortSignal, since?: string): Promise<void> {
    // Read even when `since` is given: it starts the subscription on first use.
    const now = await this.marker().catch(() => null);
    const start = since ?? now;
    if (this.stopped || signal?.aborted || (start !== null && String(this.count) !== start)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      signal?.addEventListener("abort", done, { once: true });
      this.waiters.add(done);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const wake of [...this.waiters]) wake();
    const subscription = this.subscription;
    this.subscription = null;
    await subscription?.unlisten();
  }

  private bump(): void {
    this.count++;
    for (const wake of [...this.waiters]) wake();
  }
}
