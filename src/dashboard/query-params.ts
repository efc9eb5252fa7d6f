/**
 * Query-string parameters of `/api/…`: a bad one is a 400 naming the parameter and a valid
 * example, as a bad flag is on the CLI.
 */

import { suggestion } from "../core/errors.ts";
import { isJobState, isQueueName, JOB_STATES, type JobState, QUEUE_NAME_RULE } from "../core/job.ts";
import { problem } from "./responses.ts";

export class BadQuery extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

export function wholeNumber(
  query: URLSearchParams,
  name: string,
  min: number,
  max: number,
  fallback: number,
) {
  const text = query.get(name);
  if (text === null || text === "") return fallback;
  // Digits only: Number() would also take `0x10`, `1e1`, ` 7` and `+3`, which no client means.
  const value = /^[0-9]+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new BadQuery(
      `${name} must be a whole number from ${min} to ${max}, got "${text}"`,
      `e.g. ${name}=${min}`,
    );
  }
  return value;
}

/** The parameters a route reads, and whether each may repeat (`state=a&state=b`) or not. */
export type QueryParams = Readonly<Record<string, "one" | "many">>;

/**
 * Refuses what a route would otherwise skip over in silence: a parameter it does not read
 * (a typo such as `stat=pending` would widen the answer to every job), a second value of one
 * it reads once (only the first would count), and a NUL, which no id, queue or tag can hold
 * and which PostgreSQL cannot even be asked about.
 */
export function checkQuery(query: URLSearchParams, accepted: QueryParams): void {
  const known = Object.keys(accepted);
  const seen = new Set<string>();
  for (const [name, value] of query) {
    if (!Object.hasOwn(accepted, name)) {
      throw new BadQuery(
        `unknown query parameter "${name}"`,
        known.length === 0 ? "this route takes no query parameters" : suggestion(name, known),
      );
    }
    if (accepted[name] === "one" && seen.has(name)) {
      throw new BadQuery(`${name} is given more than once`, `give ${name} once`);
    }
    seen.add(name);
    if (value.includes("\0")) {
      throw new BadQuery(
        `${name} contains a NUL character`,
        "no job id, queue, tag or state holds one; drop it",
      );
    }
  }
}

/**
 * `state=pending&state=failed` and `state=pending,failed` both mean either state, as
 * `list --state` takes them; undefined when no state is given.
 */
export function statesParam(query: URLSearchParams): JobState[] | undefined {
  const given = query
    .getAll("state")
    .flatMap((value) => value.split(","))
    .map((value) => value.trim())
    .filter((value) => value !== "");
  if (given.length === 0) return undefined;
  const states = given.map((value) => {
    const text = value.toLowerCase();
    if (!isJobState(text)) throw new BadQuery(`unknown state "${value}"`, suggestion(value, JOB_STATES));
    return text;
  });
  return [...new Set(states)];
}

/**
 * `tag=a&tag=b` and `tag=a,b` (likewise `queue`) both mean any of them, as `list --tag` and
 * `list --queue` take them; undefined when none is given. Tags are matched as typed.
 */
export function anyOfParam(query: URLSearchParams, name: "tag" | "queue"): string[] | undefined {
  const given = query
    .getAll(name)
    .flatMap((value) => value.split(","))
    .map((value) => (name === "queue" ? value.trim() : value))
    .filter((value) => value !== "");
  if (given.length === 0) return undefined;
  const badQueue = name === "queue" ? given.find((value) => !isQueueName(value)) : undefined;
  if (badQueue !== undefined) {
    throw new BadQuery(
      `queue "${badQueue}" is not a queue name (${QUEUE_NAME_RULE})`,
      "separate several with commas, e.g. queue=default,emails",
    );
  }
  return [...new Set(given)];
}

/** `true` or `false` (or absent: the fallback). */
export function flagParam(query: URLSearchParams, name: string, fallback: boolean): boolean {
  const text = query.get(name);
  if (text === null || text === "") return fallback;
  if (text === "true" || text === "false") return text === "true";
  throw new BadQuery(`${name} must be true or false, got "${text}"`, `e.g. ${name}=true`);
}

/** Runs a handler and turns a bad query string into a 400 naming the parameter. */
export async function answering(work: () => Promise<Response>): Promise<Response> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof BadQuery) return problem(400, error.message, error.hint);
    throw error;
  }
}
