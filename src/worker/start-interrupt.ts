/**
 * A signal to `worker start` while it launches: Ctrl-C, a SIGTERM, a closed terminal. The
 * workers it has spawned so far are detached (their own session, out of reach of the
 * terminal's Ctrl-C), so if the command simply died they would run on unseen, claiming jobs
 * the user meant to keep from them. While the start is under way the signal is caught
 * instead: the start stops what it launched, as a failed start does (supervisor.ts), and the
 * command then exits as a signalled one (128 + the signal's number, as a shell reports it),
 * saying what it stopped.
 */

import { constants as osConstants } from "node:os";
import { InterruptedError } from "../core/errors.ts";

/** The signals that end a start early: a second one while it undoes itself is ignored. */
const INTERRUPTS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

export class StartInterrupt {
  /** The first signal caught, or null while none came. */
  signal: NodeJS.Signals | null = null;
  private readonly handlers = new Map<NodeJS.Signals, () => void>();

  /** Catches the signals from now until `close()`. */
  constructor() {
    for (const signal of INTERRUPTS) {
      const handler = () => {
        this.signal ??= signal;
      };
      this.handlers.set(signal, handler);
      process.on(signal, handler);
    }
  }

  get interrupted(): boolean {
    return this.signal !== null;
  }

  /**
   * The error that ends the command once everything it started is gone again: `stopped` is
   * how many processes it stopped.
   */
  failure(stopped: number): InterruptedError {
    const signal = this.signal ?? "SIGINT";
    const undone =
      stopped > 0
        ? `stopped the ${stopped} process(es) it had started, none is left running`
        : "nothing was started";
    return new InterruptedError(
      `worker start was interrupted by ${signal}; ${undone}`,
      "run `queuectl worker start` again to start the workers",
      osConstants.signals[signal] ?? 2,
    );
  }

  /** Signals act as they would without this again (the start succeeded or was undone). */
  close(): void {
    for (const [signal, handler] of this.handlers) process.off(signal, handler);
    this.handlers.clear();
  }
}
