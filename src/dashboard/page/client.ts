/// <reference lib="dom" />
/**
 * Talks to `/api/…`. Requests are same-origin, so the browser sends Origin and the
 * sign-in cookie; a 401 anywhere means the token is missing and the sign-in form shows.
 */

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
  const response = await fetch(path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const payload = (await response.json().catch(() => null)) as { error?: string; hint?: string } | null;
  if (!response.ok) {
    if (response.status === 401) onUnauthorized();
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
