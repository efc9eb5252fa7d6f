/**
 * `queuectl dashboard`'s HTTP server (Bun.serve): the page, `/api/…` and `/metrics`.
 *
 * Routing is done here by hand rather than with Bun's `routes`, because job ids may hold
 * `/` (jobfile ids such as `nightly/backup`): clients send them percent-encoded as one
 * path segment, and only a router that splits before decoding keeps them whole.
 */

import type { Server } from "bun";
import { UserError } from "../core/errors.ts";
import { hostName, queuectlHome } from "../core/home.ts";
import type { Store } from "../store/store.ts";
import { StoreClock } from "../worker/store-clock.ts";
import { buildAssets, serveAsset } from "./assets.ts";
import { StatusFeed } from "./events.ts";
import type { LiveOutputSource } from "./live-output.ts";
import { MonotonicSeries } from "./monotonic.ts";
import { problem, withSecurityHeaders } from "./responses.ts";
import { matchRoutes, type RouteDeps, refuseInput } from "./routes.ts";
import { type AccessPolicy, refuse, signInFromUrl, tokenCookieName } from "./security.ts";

export interface DashboardOptions {
  store: Store;
  /** The address to bind; anything but loopback needs a token (checked by the caller). */
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Required by every request but the static page; null only when the user opted out (`--no-token`). */
  token: string | null;
  /** This host's clock, injected for tests; default Date.now. Job times are written on the store's (see StoreClock). */
  clock?: () => number;
  /** Where this host's attempt logs are, for live output; default QUEUECTL_HOME and QUEUECTL_HOST. */
  logs?: LiveOutputSource;
}

export interface Dashboard {
  url: string;
  stop(): Promise<void>;
}

function splitPath(pathname: string): string[] | null {
  try {
    return pathname.split("/").slice(1).map(decodeURIComponent);
  } catch {
    return null; // a malformed %-escape
  }
}

/** Plain text, so a malformed request learns nothing about the server. */
function plain(status: number, text: string): Response {
  return new Response(`${text}\n`, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}

/** How often the dashboard measures its clock against the store's, as a worker does at each heartbeat. */
const STORE_CLOCK_RESYNC_MS = 10_000;

export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const clock = options.clock ?? Date.now;
  // What the API writes (an enqueue's times, a retry's, a kill's) is on the store's clock,
  // PostgreSQL's server, by which workers on every host judge it.
  const storeClock = new StoreClock(options.store, clock);
  const stopFollowing = await storeClock.follow(STORE_CLOCK_RESYNC_MS);
  // The cookie is named after the port, known once the server listens (before any request).
  const policy: AccessPolicy = {
    token: options.token,
    cookieName: tokenCookieName(options.port),
    sessions: new Set(),
  };
  const assets = await buildAssets();
  const feed = new StatusFeed(options.store, clock);
  const logs = options.logs ?? { home: queuectlHome(), host: hostName() };
  const deps: RouteDeps = {
    store: options.store,
    clock: () => storeClock.now(),
    logs,
    policy,
    feed,
    series: new MonotonicSeries(),
  };

  const answer = async (request: Request, url: URL, server: Server<undefined>): Promise<Response> => {
    const landing = request.method === "GET" ? signInFromUrl(url, policy) : null;
    if (landing) return landing;
    const asset = assets.get(url.pathname);
    // The page and its files hold no queue data, so they load before sign-in.
    if (asset && (request.method === "GET" || request.method === "HEAD")) return serveAsset(asset);
    const segments = splitPath(url.pathname);
    if (segments === null) return problem(400, "malformed path", "percent-encode job ids");
    const matches = matchRoutes(segments);
    if (matches.length === 0) return problem(404, `nothing at ${url.pathname}`, "see GET /api/openapi.json");
    // HEAD is GET without the body, as HTTP asks of every server that answers GET.
    const head = request.method === "HEAD";
    const match = matches.find((candidate) => candidate.route.method === (head ? "GET" : request.method));
    if (!match) {
      const methods = matches.map((candidate) => candidate.route.method);
      const allowed = methods.flatMap((method) => (method === "GET" ? ["GET", "HEAD"] : [method])).join(", ");
      const response = problem(405, `${request.method} is not allowed here`, `use ${allowed}`);
      response.headers.set("allow", allowed);
      return response;
    }
    const { route, params } = match;
    const refusal = refuse(request, policy, route.kind);
    if (refusal) return refusal;
    // After the token check, so a request without it learns nothing, not even parameter names.
    const badInput = refuseInput(route, params, url.searchParams);
    if (badInput) return badInput;
    const response = await route.handle({ request, url, params, server, deps });
    // The dashboard's own writes do not move SQLite's change marker for its connection.
    if (route.kind === "write") feed.poke();
    // Bun answers HEAD with the headers alone, the length of the body GET would send among
    // them; a response rebuilt without its body said 0. A stream (the event feed), whose
    // length no one knows, is ended at once rather than left to run for no reader.
    if (!head || !response.headers.get("content-type")?.startsWith("text/event-stream")) return response;
    await response.body?.cancel();
    return new Response(null, { status: response.status, headers: response.headers });
  };

  // `localhost` is bound as 127.0.0.1 and printed so: a browser may try ::1 first for the
  // name, where another local user could listen on the same port and receive the token.
  const bindHost = /^localhost\.?$/i.test(options.host) ? "127.0.0.1" : options.host;
  const server = Bun.serve({
    hostname: bindHost,
    port: options.port,
    // Never Bun's development error page, which shows source and paths to whoever asks.
    development: false,
    // Production mode would share the port with another process already on it (SO_REUSEPORT),
    // splitting requests between two dashboards; a taken port must be an error instead.
    reusePort: false,
    // Bun would refuse a longer body itself with a bare 413, before any of our headers; the
    // routes that read a body cap it instead (boundedRequest), reading no more than the cap.
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    async fetch(request, server) {
      // Without a Host header the request URL is only a path, and a URL cannot be made of it.
      if (!request.headers.get("host")) return withSecurityHeaders(plain(400, "bad request: no Host header"));
      let url: URL;
      try {
        url = new URL(request.url);
      } catch {
        return withSecurityHeaders(plain(400, "bad request: malformed URL"));
      }
      try {
        return withSecurityHeaders(await answer(request, url, server));
      } catch (error) {
        // Bad input or a refused move (exit 2 on the CLI) is the client's; a store that cannot answer is ours.
        if (error instanceof UserError) {
          return withSecurityHeaders(problem(error.exitCode === 2 ? 409 : 503, error.message, error.hint));
        }
        process.stderr.write(`dashboard: ${request.method} ${url.pathname} failed: ${error}\n`);
        return withSecurityHeaders(problem(500, "internal error", "see the dashboard's stderr"));
      }
    },
    // Whatever escapes fetch: a plain 500, without stack or paths.
    error() {
      return withSecurityHeaders(plain(500, "internal error"));
    },
  });
  policy.cookieName = tokenCookieName(server.port ?? options.port);
  // Bound to every interface, the page is opened at this machine's loopback address: no
  // browser opens http://0.0.0.0/.
  // Read as a browser reads it: `0` is 0.0.0.0 and `2130706433` is 127.0.0.1.
  const bound = urlHostname(bindHost);
  const reachable = bound === "0.0.0.0" ? "127.0.0.1" : bound === "::" ? "::1" : bound;
  const host = reachable.includes(":") && !reachable.startsWith("[") ? `[${reachable}]` : reachable;
  return {
    url: `http://${host}:${server.port}/`,
    async stop() {
      stopFollowing();
      feed.stop();
      await server.stop(true);
    },
  };
}

/** A host as the URL parser writes it (IPv4 numbers in dotted form, IPv6 without brackets); itself if it cannot parse. */
function urlHostname(host: string): string {
  try {
    return new URL(
      `http://${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}/`,
    ).hostname.replace(/^\[(.*)\]$/, "$1");
  } catch {
    return host;
  }
}
