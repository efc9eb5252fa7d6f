/** The dashboard's HTTP answers: JSON bodies and `{ error, hint }` refusals, never a stack. */

export function json(value: unknown, status = 200): Response {
  return Response.json(value, { status });
}

/** An error the client caused or can act on, shaped like the CLI's `error: … — hint` line. */
export function problem(status: number, error: string, hint = ""): Response {
  return Response.json({ error, hint }, { status });
}

/** Headers on every answer: nothing is cached, sniffed, framed or leaked through Referer. */
export function withSecurityHeaders(response: Response): Response {
  const headers = response.headers;
  if (!headers.has("cache-control")) headers.set("cache-control", "no-store");
  headers.set("x-content-type-options", "nosniff");
  headers.set("referrer-policy", "no-referrer");
  headers.set("x-frame-options", "DENY");
  return response;
}
