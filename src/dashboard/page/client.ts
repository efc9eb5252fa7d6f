/// <reference lib="dom" />
/**
 * Talks to `/api/…` with the session key in a header. Signing in trades the dashboard's
 * token for a key that dies with the server process (security.ts), so what this origin's
 * storage keeps (scheme, host and port) is worthless to whatever takes the port later; and
 * no cookie holds it, which browsers would send to every port of the host. A 401 anywhere
 * means the key is missing or stale, and the sign-in form shows.
 */

const TOKEN_KEY = "queuectl-dashboard-session";

export function setToken(token: string | null): void {
  try {
    if (token === null) localStorage.removeItem(TOKEN_KEY);
    else localStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Storage refused (a private window's quota): the token holds for this page only.
  }
  memoryToken = token;
}

let memoryToken: string | null = null;

function currentToken(): string | null {
  let token = memoryToken;
  try {
    token ??= localStorage.getItem(TOKEN_KEY);
  } catch {
    // As in setToken.
  }
  return token;
}

/** The headers that carry the session key, for fetch. */
export function authHeaders(): Record<string, string> {
  const token = currentToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

/**
 * Forgets `refused`, the key a request carried and got a 401 for, unless another tab (or
 * a sign-in meanwhile) has stored a newer one since.
 */
export function forgetToken(refused: string | null): void {
  memoryToken = null;
  try {
    if (localStorage.getItem(TOKEN_KEY) === refused) localStorage.removeItem(TOKEN_KEY);
  } catch {
    // As in setToken.
  }
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly hint: string,
  ) {
    super(message);
  }
}

let onUnauthorized: () => void = () => {};

export function whenUnauthorized(handler: () => void): void {
  onUnauthorized = handler;
}

async function request<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  const sent = currentToken();
  const response = await fetch(path, {
    method,
    headers: { ...authHeaders(), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
  });
  const payload = (await response.json().catch(() => null)) as { error?: string; hint?: string } | null;
  if (!response.ok) {
    if (response.status === 401) {
      forgetToken(sent);
      onUnauthorized();
    }
    throw new ApiError(payload?.error ?? `HTTP ${response.status}`, response.status, payload?.hint ?? "");
  }
  return payload as T;
}

export function getJson<T>(path: string): Promise<T> {
  return request<T>("GET", path);
}

export function postJson<T>(path: string, body?: unknown): Promise<T> {
  return request<T>("POST", path, body ?? {});
}

/** One line for a toast: the error and what to do about it, as the CLI prints them. */
export function describe(error: unknown): string {
  if (error instanceof ApiError) return error.hint ? `${error.message} — ${error.hint}` : error.message;
  return error instanceof Error ? error.message : String(error);
}

export function jobPath(id: string, action?: string): string {
  return `/api/jobs/${encodeURIComponent(id)}${action ? `/${action}` : ""}`;
}
