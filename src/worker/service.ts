/**
 * A worker's periodic task (renewal, rescue, schedule ticks, retention) on a timer of its
 * own, so that a slow one never delays another: each waits only for its own previous tick.
 * Ticks of one service never overlap; an error is reported and the next tick comes as usual.
 */

export interface ServiceOptions {
  /** Read before every wait, so a config change takes effect at the next tick. */
  intervalMs: () => number;
  tick: () => Promise<void>;
  onError: (error: unknown) => void;
}

export class PeriodicService {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private current: Promise<void> | null = null;
  private started = false;
  private stopped = false;
  /** A poke arrived during a tick: run another as soon as it ends. */
  private again = false;

  constructor(private readonly options: ServiceOptions) {}

  /** The first tick comes at once. */
  start(): void {
    this.started = true;
    this.schedule(0);
  }

  /** Runs a tick now instead of at its time (e.g. a `kill` signalled the worker). */
  poke(): void {
    if (!this.started || this.stopped) return;
    if (this.current) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.schedule(0);
  }

  /** No tick starts from now on; resolves once a running one has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.current;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.current = this.run();
    }, ms);
  }

  private async run(): Promise<void> {
    try {
      await this.options.tick();
    } catch (error) {
      this.options.onError(error);
    }
    this.current = null;
    const again = this.again;
    this.again = false;
    this.schedule(again ? 0 : this.options.intervalMs());
  }
}
