/**
 * Query-string parameters of `/api/…`: a bad one is a 400 naming the parameter and a valid
 * example, as a bad flag is on the CLI.
 */

import { suggestion } from "../core/errors.ts";
import { isJobState, JOB_STATES, type JobState } from "../core/job.ts";
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
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new BadQuery(
      `${name} must be a whole number from ${min} to ${max}, got "${text}"`,
      `e.g. ${name}=${min}`,
    );
  }
  return value;
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
