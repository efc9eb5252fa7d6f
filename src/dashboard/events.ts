/**
 * `GET /api/events`: Server-Sent Events carrying the `status --json` body whenever the
 * store changes, so counts and workers on the page move within a fraction of a second.
 *
 * One loop serves every open page: it runs only while someone listens, checks the store's
 * cheap change marker, and builds the status once per change rather than once per client.
 */

import { queueStatus } from "../flow/status.ts";
import type { Store } from "../store/store.ts";

/** How often the loop checks the change marker, in ms. */
const CHECK_MS = 250;
/**
 * A status goes out at least this often even when nothing changed, in ms: heartbeat ages
 * grow on their own, and the bytes keep proxies from closing an idle stream.
 */
const REFRESH_MS = 5000;

/** One open page: what it is sent, and how its stream ends. */
interface Listener {
  send(chunk: string): void;
  close(): void;
}

export class StatusFeed {
  private readonly listeners = new Set<Listener>();
  private running = false;
  private poked = false;

  constructor(
    private readonly store: Store,
    private readonly clock: () => number,
  ) {}

  /** The dashboard's own writes do not move SQLite's marker for its own connection; they poke instead. */
  poke(): void {
    this.poked = true;
  }

  stream(): Response {
    const encoder = new TextEncoder();
    let listener: Listener | null = null;
    const body = new ReadableStream<Uint8Array>({
      start: async (controller) => {
        listener = {
          send: (chunk) => {
            try {
              controller.enqueue(encoder.encode(chunk));
            } catch {
              // The client went away between the check and the write; cancel() cleans up.
            }
          },
          close: () => {
            try {
              controller.close();
            } catch {
              // Already closed by the client.
            }
          },
        };
        controller.enqueue(encoder.encode("retry: 2000\n\n"));
        listener.send(await this.event());
        this.listeners.add(listener);
        this.start();
      },
      cancel: () => {
        if (listener) this.listeners.delete(listener);
      },
    });
    return new Response(body, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" },
    });
  }

  stop(): void {
    this.closeAll();
  }

  /**
   * Ends every open stream: the page reconnects (`retry: 2000`) and gets a fresh status, or
   * an error it can show. Dropping a listener without closing its stream left the page on
   * a live connection that never heard from the server again.
   */
  private closeAll(): void {
    for (const listener of this.listeners) listener.close();
    this.listeners.clear();
  }

  private async event(): Promise<string> {
    const body = JSON.stringify((await queueStatus(this.store, { summary: true })).json);
    return `event: status\ndata: ${body}\n\n`;
  }

  private async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      let marker = await this.store.changeMarker();
      let sentAt = this.clock();
      while (this.listeners.size > 0) {
        await Bun.sleep(CHECK_MS);
        const current = await this.store.changeMarker();
        const due = this.clock() - sentAt >= REFRESH_MS;
        if (current === marker && !this.poked && !due) continue;
        marker = current;
        this.poked = false;
        sentAt = this.clock();
        const chunk = await this.event();
        for (const listener of this.listeners) listener.send(chunk);
      }
    } catch {
      // The store failed (a dropped connection, a table gone) or was closed under us
      // (shutdown): every page reconnects, to this server or the next.
      this.closeAll();
    } finally {
      this.running = false;
    }
    // A page may have subscribed while the loop was on its way out.
    if (this.listeners.size > 0) void this.start();
  }
}
