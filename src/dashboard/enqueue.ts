/**
 * `POST /api/jobs`: what `queuectl enqueue -f <file>` does with a file, for a request body.
 * The same parser, the same validation and the same all-or-nothing store write; a body
 * the CLI would refuse with exit 2 is a 400 carrying the CLI's message and hint, naming
 * "the request body" where the CLI names the file.
 */

import { resolveConfig } from "../core/config.ts";
import { UserError } from "../core/errors.ts";
import { type InputFormat, parseJobInput, prepareJobs } from "../core/job-input.ts";
import { textLines } from "../core/text-lines.ts";
import { enqueuePrepared } from "../flow/enqueue.ts";
import type { Store } from "../store/store.ts";
import { json, problem } from "./responses.ts";

/** How error messages name the input, as the CLI names the file. */
export const BODY_NAME = "the request body";

/**
 * The largest body read, in bytes. Bodies are parsed whole; bigger batches go through
 * `queuectl enqueue -f jobs.ndjson`, which streams.
 */
export const MAX_ENQUEUE_BYTES = 32 * 1024 * 1024;

/** Media types and the `--format` each means; parameters such as `; charset=utf-8` are ignored. */
const FORMATS: Record<string, InputFormat> = {
  "application/json": "json",
  "application/yaml": "yaml",
  "application/x-yaml": "yaml",
  "text/yaml": "yaml",
  "application/x-ndjson": "ndjson",
  "application/jsonl": "ndjson",
};

export const ENQUEUE_MEDIA_TYPES = Object.keys(FORMATS);

/**
 * Only these types, never a form's: a cross-site page can make a browser send a form or
 * text/plain without asking, but not JSON or YAML without a CORS preflight we never grant.
 */
function formatOf(request: Request): InputFormat | undefined {
  const type = (request.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  return Object.hasOwn(FORMATS, type) ? FORMATS[type] : undefined;
}

/** The 413 of an enqueue body over MAX_ENQUEUE_BYTES; routes.ts answers it before reading more. */
export function tooLarge(): Response {
  return problem(
    413,
    `the request body is larger than ${MAX_ENQUEUE_BYTES} bytes`,
    "send fewer jobs per request, or stream them with `queuectl enqueue -f jobs.ndjson`",
  );
}

/**
 * The body as text, decoded by the very decoder `enqueue -f` reads files with, so both take
 * and refuse the same bytes (a byte-order mark picks UTF-16; bad bytes are refused, never
 * replaced) with the same messages.
 */
async function bodyText(body: ArrayBuffer): Promise<string> {
  async function* whole() {
    yield new Uint8Array(body);
  }
  // One string per block: a body of a million short lines would overflow a spread.
  const blocks: string[] = [];
  for await (const block of textLines(whole(), BODY_NAME)) blocks.push(block.lines.join("\n"));
  return blocks.join("\n");
}

/**
 * The parser's hint for bad JSON tells a shell user to quote the job argument, which means
 * nothing to an HTTP client.
 */
const HTTP_JSON_HINT =
  'send one job such as {"id":"job1","command":"echo hi"}, a list of them or {"jobs": [...]}; from a shell, `curl --data-binary @job.json` keeps the quotes intact';

/** One job per line sent as application/json: the fix is the content type, not a file name. */
const HTTP_NDJSON_HINT = "send it with content-type application/x-ndjson";

function httpHint(error: UserError): string {
  if (error.message.startsWith(`${BODY_NAME}: one JSON job per line is NDJSON`)) return HTTP_NDJSON_HINT;
  return /^[^:]*(:\d+:\d+)?: invalid JSON \(/.test(error.message) && error.message.startsWith(BODY_NAME)
    ? HTTP_JSON_HINT
    : error.hint;
}

/** The `enqueue --json` answer: `{ enqueued, ids, schedules, canceled }`, with 201 Created. */
export async function enqueueJobs(store: Store, request: Request, now: number): Promise<Response> {
  const format = formatOf(request);
  if (format === undefined) {
    return problem(
      415,
      `unsupported content-type "${request.headers.get("content-type") ?? ""}"`,
      `send one of: ${ENQUEUE_MEDIA_TYPES.join(", ")}`,
    );
  }
  // The route read at most MAX_ENQUEUE_BYTES (routes.ts, boundedRequest); this holds anyway.
  const body = await request.arrayBuffer();
  if (body.byteLength > MAX_ENQUEUE_BYTES) return tooLarge();
  try {
    const items = parseJobInput(await bodyText(body), BODY_NAME, format);
    const config = resolveConfig(await store.configGetAll());
    const result = await enqueuePrepared(store, prepareJobs(items, BODY_NAME, config, now), now);
    return json(
      {
        enqueued: result.jobs.length + result.schedules.length,
        ids: [...result.jobs, ...result.schedules],
        schedules: result.schedules,
        canceled: result.canceledAtOnce.map((job) => job.id),
      },
      201,
    );
  } catch (error) {
    // Exit 2 on the CLI: the input is wrong and nothing was stored. Exit 1 (the store
    // failed) stays the server's problem, answered by the server's boundary.
    if (error instanceof UserError && error.exitCode === 2)
      return problem(400, error.message, httpHint(error));
    throw error;
  }
}
