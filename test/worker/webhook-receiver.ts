/**
 * A real HTTP webhook receiver on a random local port (Bun.serve), that checks each
 * request's signature the way the README tells receivers to, and can be taken down and
 * brought back up on the same port.
 */

import { createHmac, timingSafeEqual } from "node:crypto";

export interface Received {
  /** The URL's path and query, to tell receivers on one server apart. */
  path: string;
  event: string;
  deliveryId: string;
  body: Record<string, unknown>;
  /** Whether X-Queuectl-Signature is the HMAC-SHA256 of the raw body under the secret. */
  signatureValid: boolean;
  /** The status this receiver answered; 0 for a call it never answered (a hanging receiver). */
  answered: number;
}

/** The README's verification: HMAC-SHA256 over the exact raw body, compared in constant time. */
export function verifySignature(secret: string, rawBody: string, header: string | null): boolean {
  const expected = `sha256=${createHmac("sha256", secret).update(rawBody).digest("hex")}`;
  return (
    header !== null &&
    header.length === expected.length &&
    timingSafeEqual(Buffer.from(header), Buffer.from(expected))
  );
}

export class Receiver {
  readonly received: Received[] = [];
  /** While false, requests are answered 503, as by a receiver that is having trouble. */
  healthy = true;
  private server: ReturnType<typeof Bun.serve> | null = null;
  port = 0;

  constructor(private readonly secret: string) {}

  /** A receiver URL on this server; `path` tells several apart. */
  url(path = "/hook"): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Listens (again): on a random port the first time, on the same one after `stop`. */
  start(): this {
    this.server = Bun.serve({
      hostname: "127.0.0.1",
      port: this.port,
      fetch: async (request) => {
        const raw = await request.text();
        const answered = this.healthy ? 200 : 503;
        const url = new URL(request.url);
        // A receiver that never answers (until this server stops), as one that hangs does.
        const hangs = url.pathname.startsWith("/hang");
        this.received.push({
          path: url.pathname + url.search,
          event: request.headers.get("X-Queuectl-Event") ?? "",
          deliveryId: request.headers.get("X-Queuectl-Delivery") ?? "",
          body: JSON.parse(raw) as Record<string, unknown>,
          signatureValid: verifySignature(this.secret, raw, request.headers.get("X-Queuectl-Signature")),
          answered: hangs ? 0 : answered,
        });
        if (hangs) await new Promise(() => {});
        return new Response(answered === 200 ? "ok" : "busy", { status: answered });
      },
    });
    this.port = this.server.port ?? 0;
    return this;
  }

  /** Stops listening: connections are refused until `start` again. */
  async stop(): Promise<void> {
    await this.server?.stop(true);
    this.server = null;
  }

  /** The requests this receiver accepted (answered 200). */
  accepted(): Received[] {
    return this.received.filter((entry) => entry.answered === 200);
  }
}
