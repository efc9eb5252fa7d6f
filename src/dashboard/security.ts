/**
 * Who may use the dashboard. The page shows job specs, and specs carry `env`, which often
 * holds secrets; its actions re-run shell commands as the worker's user. Any local user can
 * reach a loopback port, so loopback alone protects nothing. So:
 *
 * - By default every request needs a token (generated at start when none is given), except
 *   the page's static files, which hold no queue data. Scripts, Prometheus and the page all
 *   send it in a header, `Authorization: Bearer T` or `X-Queuectl-Token: T`. The browser
 *   gets it once in the URL (`/?token=T`, as Jupyter does) or types it into the page's form,
 *   and trades it for a session key that lives only as long as this server process: the
 *   page keeps that key in its origin's storage and sends it in the same header. So what a
 *   browser holds is worthless once the dashboard stops, even to whatever takes its port.
 * - No cookie carries it: browsers send a host's cookies to every port of that host, so a
 *   page another local user serves on 127.0.0.1 would receive the token. A header is sent
 *   only by the page's own script, and a cross-site page cannot add one, so the header also
 *   keeps other sites' forms and scripts out.
 * - Only with an explicit opt-out (`--no-token`) does it run without one; then it must be
 *   bound to loopback, and the Host header must name loopback too: a DNS-rebinding page
 *   (evil.example resolving to 127.0.0.1) sends its own host name and is refused.
 */

import { UserError } from "../core/errors.ts";
import { randomHex } from "../core/random-hex.ts";
import { problem } from "./responses.ts";

const LOOPBACK_NAMES = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);
/** Long enough that guessing it over HTTP is hopeless. */
export const MIN_TOKEN_LENGTH = 16;
/** A generated token: 24 random bytes, 48 hex characters (the length Jupyter uses). */
const GENERATED_TOKEN_BYTES = 24;

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_NAMES.has(host.toLowerCase());
}

/**
 * Whether decimal digits and dots make an IPv4 address as the system's resolver reads one:
 * one to four parts, each but the last at most 255, the last filling the bytes left (`0`,
 * `127.1`, `2130706433` and `127.0.0.1` are all addresses).
 */
export function isDecimalIPv4(host: string): boolean {
  // Loaded here: the executable loads every imported module at start, and node:net is slow to load.
  const { isIP } = require("node:net") as typeof import("node:net");
  if (isIP(host) === 4) return true;
  const parts = host.split(".");
  if (parts.length > 4 || parts.some((part) => part === "" || part.length > 10)) return false;
  const last = Number(parts.at(-1));
  return parts.slice(0, -1).every((part) => Number(part) <= 255) && last < 2 ** (8 * (5 - parts.length));
}

export function generateToken(): string {
  return randomHex(GENERATED_TOKEN_BYTES);
}

/**
 * The cookie earlier releases signed the page in with, named after the port. It is never
 * read now; sign-in and the printed URL expire it, so a browser stops sending the token to
 * every port of the host.
 */
export function tokenCookieName(port: number): string {
  return `queuectl_dashboard_token_${port}`;
}

/**
 * Whether a token can guard the dashboard: long enough to guess at no better than chance, and
 * printable ASCII only. HTTP strips white space from a header's ends and reads its bytes as
 * Latin-1, so a token with spaces or `ä` would never match in a header (Prometheus, scripts),
 * and a unit's environment file cannot hold white space either.
 */
export function isUsableToken(token: string): boolean {
  return token.length >= MIN_TOKEN_LENGTH && /^[\x21-\x7e]+$/.test(token);
}

/** Refuses an exposed bind without a token, and a token that cannot protect anything. */
export function checkBindPolicy(host: string, token: string | null): void {
  if (token !== null && !isUsableToken(token)) {
    throw new UserError(
      `the dashboard token must be at least ${MIN_TOKEN_LENGTH} characters, printable ASCII without spaces`,
      "generate one with `openssl rand -hex 16`, or leave --token out and one is generated",
    );
  }
  if (token === null && !isLoopbackHost(host)) {
    throw new UserError(
      `binding the dashboard to ${host} without a token would let anyone on the network run jobs`,
      "drop --no-token (a token is then generated), or keep the default --host 127.0.0.1",
    );
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

function headerToken(request: Request): string | null {
  const authorization = request.headers.get("authorization");
  const bearer = authorization?.match(/^Bearer\s+(.+)$/i)?.[1];
  return bearer?.trim() ?? request.headers.get("x-queuectl-token");
}

/** Hostname of the Host header, with IPv6 brackets kept so `[::1]:8080` parses. */
function requestHostName(request: Request): string {
  const host = request.headers.get("host") ?? "";
  const bracketed = host.match(/^\[[^\]]*\]/)?.[0];
  return bracketed ?? host.replace(/:\d+$/, "");
}

function isSameOrigin(request: Request): boolean {
  const origin = request.headers.get("origin");
  // https too: behind a TLS-terminating proxy the page's origin is https while we speak http.
  const host = request.headers.get("host") ?? "";
  if (origin !== null) return origin === `http://${host}` || origin === `https://${host}`;
  // Browsers send Origin on every POST they make from script or form; Sec-Fetch-Site is a
  // second opinion for the odd one that does not.
  return request.headers.get("sec-fetch-site") === "same-origin";
}

export interface AccessPolicy {
  /** Null only when the user opted out with `--no-token`. */
  token: string | null;
  /** The old sign-in cookie's name, to expire it (see tokenCookieName). */
  cookieName: string;
  /** Session keys handed to pages that signed in, valid until this process ends. */
  sessions: Set<string>;
}

/** Sign-ins kept at most; the oldest key goes first, its page then asks for the token again. */
const MAX_SESSIONS = 1000;

function newSession(policy: AccessPolicy): string {
  const key = generateToken();
  policy.sessions.add(key);
  if (policy.sessions.size > MAX_SESSIONS) {
    const oldest = policy.sessions.values().next().value;
    if (oldest !== undefined) policy.sessions.delete(oldest);
  }
  return key;
}

const CROSS_ORIGIN = () =>
  problem(
    403,
    "cross-origin request refused",
    "actions must come from the dashboard page itself, or carry the token in an Authorization header",
  );

/**
 * Null when the request may proceed, else the refusal. Every request but `login` needs the
 * token in a header; `login`, the page's check of a token typed into its form, needs to come
 * from the page itself instead (it answers only whether the token is right).
 */
export function refuse(
  request: Request,
  policy: AccessPolicy,
  kind: "read" | "write" | "login",
): Response | null {
  const { token } = policy;
  if (token === null) {
    if (!isLoopbackHost(requestHostName(request))) {
      return problem(403, "this dashboard answers only to localhost", "open it as http://127.0.0.1:<port>/");
    }
    return kind !== "read" && !isSameOrigin(request) ? CROSS_ORIGIN() : null;
  }
  const fromHeader = headerToken(request);
  if (fromHeader !== null) {
    return sameSecret(fromHeader, token) || policy.sessions.has(fromHeader)
      ? null
      : unauthorized(
          "wrong dashboard token",
          "use the token the dashboard printed when it started, or the one it was given (--token, QUEUECTL_DASHBOARD_TOKEN)",
        );
  }
  if (kind === "login") return isSameOrigin(request) ? null : CROSS_ORIGIN();
  return unauthorized(
    "this dashboard needs its token",
    "open the URL with ?token= that the dashboard printed, or send Authorization: Bearer <token>",
  );
}

/** A 401 names the scheme that would be accepted, as HTTP asks of every 401. */
function unauthorized(message: string, hint: string): Response {
  const response = problem(401, message, hint);
  response.headers.set("WWW-Authenticate", 'Bearer realm="queuectl dashboard"');
  return response;
}

function expiredCookie(policy: AccessPolicy): string {
  return `${policy.cookieName}=; Max-Age=0; HttpOnly; SameSite=Strict; Path=/`;
}

/** The page's sign-in form: a right token is traded for a session key (see newSession). */
export function login(given: unknown, policy: AccessPolicy): Response {
  const headers = { "set-cookie": expiredCookie(policy) };
  if (policy.token === null) return Response.json({ ok: true }, { headers });
  if (typeof given !== "string" || !sameSecret(given, policy.token)) {
    return problem(
      401,
      "wrong dashboard token",
      "use the token the dashboard printed when it started, or the one it was given (--token, QUEUECTL_DASHBOARD_TOKEN)",
    );
  }
  return Response.json({ ok: true, session: newSession(policy) }, { headers });
}

/**
 * `GET /?token=T`, the URL the dashboard prints: a right token goes on to `/#session=K`, a
 * new session key the page takes (a fragment never reaches a server, nor its logs) before
 * it clears the address; a wrong one (an old URL from an earlier start) lands on the form.
 */
export function signInFromUrl(url: URL, policy: AccessPolicy): Response | null {
  const given = url.searchParams.get("token");
  if (url.pathname !== "/" || given === null) return null;
  const right = policy.token !== null && sameSecret(given, policy.token);
  const headers = new Headers({
    location: right ? `/#session=${newSession(policy)}` : "/",
    "set-cookie": expiredCookie(policy),
  });
  return new Response(null, { status: 303, headers });
}
