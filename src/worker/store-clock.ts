/**
 * The clock a worker stamps leases with. On PostgreSQL it is the server's: workers on
 * several hosts write `lease_until` and judge it expired (rescue) on one clock, so a host
 * whose clock is off by minutes neither loses its leases early nor keeps a dead worker's
 * jobs for longer. The offset to the server is measured when the worker starts and at each
 * heartbeat (the start of the round trip is taken as the server's moment), so a host's clock
 * jumping is corrected within one heartbeat; between measurements it costs nothing.
 * SQLite lives on one host, whose clock it is.
 */

import type { Store } from "../store/store.ts";

export class StoreClock {
  /** Server minus local, in ms. */
  private offset = 0;

  /** `local` is this host's wall clock (tests move it). Default Date.now. */
  constructor(
    private readonly store: Store,
    private readonly local: () => number = Date.now,
  ) {}

  now(): number {
    return this.local() + this.offset;
  }

  async sync(): Promise<void> {
    if (this.store.backend !== "postgres") return;
    const before = this.local();
    const server = await this.store.clockNow();
    // The server read its clock somewhere between `before` and now. Taking the largest
    // offset that allows keeps this clock from running behind the server's: with the middle
    // of the round trip, a job queued for "now" by a process on the server's host (whose
    // clock it shares) could look a millisecond early to a claim, and wait a whole poll
    // interval. This clock may run ahead by one round trip instead, nothing next to a lease.
    this.offset = server - before;
  }

  /**
   * Measures now, then every `intervalMs` until the returned function is called: for a
   * long-running process with no heartbeat of its own to measure at (the dashboard, a watcher).
   */
  async follow(intervalMs: number): Promise<() => void> {
    await this.sync();
    const timer = setInterval(() => this.sync().catch(() => {}), intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}
