/**
 * Who may use the dashboard. The page shows job specs, and specs carry `env`, which often
 * holds secrets; its actions re-run shell commands. So:
 *
 * - Without a token it must be bound to loopback, and the Host header must name loopback
 *   too: a DNS-rebinding page (evil.example resolving to 127.0.0.1) sends its own host name
 *   and is refused before it reads anything.
 * - With a token every request needs it: `Authorization: Bearer T` or `X-Queuectl-Token: T`
 *   from scripts and Prometheus, or the HttpOnly cookie the page gets from /api/login.
 * - A POST must also come from the page itself (Origin or Sec-Fetch-Site), unless it
 *   carries the token in a header, which a cross-site form cannot do. The SameSite=Strict
 *   cookie is not trusted alone, because same-site is wider than same-origin.
 */

import { timingSafeEqual } from "node:crypto";
import { UserError } from "../core/errors.ts";
import { problem } from "./responses.ts";

export const TOKEN_COOKIE = "queuectl_dashboard_token";
const LOOPBACK_NAMES = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);
/** Long enough that guessing it over HTTP is hopeless. */
const MIN_TOKEN_LENGTH = 16;

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_NAMES.has(host.toLowerCase());
}

/** Refuses an exposed bind without a token, and a token too short to protect anything. */
export function checkBindPolicy(host: string, token: string | null): void {
  if (token !== null && token.length < MIN_TOKEN_LENGTH) {
    throw new UserError(
      `the dashboard token must be at least ${MIN_TOKEN_LENGTH} characters`,
      "generate one with `openssl rand -hex 16`",
    );
  }
  if (token === null && !isLoopbackHost(host)) {
    throw new UserError(
      `binding the dashboard to ${host} without a token would let anyone on the network run jobs`,
      "add --token <secret> (or set QUEUECTL_DASHBOARD_TOKEN), or keep the default --host 127.0.0.1",
    );
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function headerToken(request: Request): string | null {
  const authorization = request.headers.get("authorization");
  const bearer = authorization?.match(/^Bearer\s+(.+)$/i)?.[1];
  return bearer?.trim() ?? request.headers.get("x-queuectl-token");
}

function cookieToken(request: Request): string | null {
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === TOKEN_COOKIE) return decodeURIComponent(rest.join("="));
  }
  return null;
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
  token: string | null;
}

/**
 * Null when the request may proceed, else the refusal. A `write` (POST) also needs the
 * same-origin check unless the token came in a header; `login` is a write that is how the
 * page gets the token, so it needs everything but the token.
 */
export function refuse(
  request: Request,
  policy: AccessPolicy,
  kind: "read" | "write" | "login",
): Response | null {
  const { token } = policy;
  if (token === null && !isLoopbackHost(requestHostName(request))) {
    return problem(403, "this dashboard answers only to localhost", "open it as http://127.0.0.1:<port>/");
  }
  const fromHeader = headerToken(request);
  if (token !== null && fromHeader !== null && sameSecret(fromHeader, token)) return null;
  if (fromHeader !== null && token !== null) {
    return problem(401, "wrong dashboard token", "use the token the dashboard was started with");
  }
  if (kind !== "read" && !isSameOrigin(request)) {
    return problem(
      403,
      "cross-origin request refused",
      "actions must come from the dashboard page itself, or carry the token in an Authorization header",
    );
  }
  if (token === null || kind === "login") return null;
  const fromCookie = cookieToken(request);
  if (fromCookie !== null && sameSecret(fromCookie, token)) return null;
  return problem(
    401,
    "this dashboard needs its token",
    "sign in on the page, or send Authorization: Bearer <token>",
  );
}

/** The page's sign-in: checks the token and hands it back as an HttpOnly, SameSite=Strict cookie. */
export function login(given: unknown, policy: AccessPolicy): Response {
  if (policy.token === null) return Response.json({ ok: true });
  if (typeof given !== "string" || !sameSecret(given, policy.token)) {
    return problem(401, "wrong dashboard token", "use the token the dashboard was started with");
  }
  const cookie = `${TOKEN_COOKIE}=${encodeURIComponent(given)}; HttpOnly; SameSite=Strict; Path=/`;
  return Response.json({ ok: true }, { headers: { "set-cookie": cookie } });
}
