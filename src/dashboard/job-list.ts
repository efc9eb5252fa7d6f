/**
 * `GET /api/jobs`: `list`'s filters (states, queues, tags: any of each) plus the page's id
 * search, newest first, a page at a time.
 *
 * Two store reads serve it, each with the index that fits: `jobSearch` (one state or none,
 * an id substring, a real OFFSET) is what the page asks for; `jobPage` (several states, a
 * queue) has no offset, so a later page reads the rows before it too. That is why the
 * offset of such a filter is capped: far pages of a big queue are a job for narrower filters.
 */

import { jobJson } from "../render.ts";
import type { Store } from "../store/store.ts";
import { answering, anyOfParam, BadQuery, statesParam, wholeNumber } from "./query-params.ts";
import { json } from "./responses.ts";

/** A page is at most this many jobs, so one request never serialises the whole table. */
export const MAX_PAGE = 500;
const DEFAULT_PAGE = 50;
/** The deepest offset a queue or several-state filter pages to (see above). */
export const MAX_FILTERED_OFFSET = 10_000;

/**
 * An array of `list --json` jobs, newest first. Clients ask for one more than they show to
 * learn whether a next page exists.
 */
export function jobs(store: Store, query: URLSearchParams): Promise<Response> {
  return answering(async () => {
    const states = statesParam(query);
    const tag = anyOfParam(query, "tag");
    const queue = anyOfParam(query, "queue");
    const idContains = query.get("q") || undefined;
    const limit = wholeNumber(query, "limit", 1, MAX_PAGE, DEFAULT_PAGE);
    if (queue === undefined && (states === undefined || states.length === 1)) {
      const offset = wholeNumber(query, "offset", 0, Number.MAX_SAFE_INTEGER, 0);
      const found = await store.jobSearch({ state: states?.[0], tag, idContains, limit, offset });
      return json(found.map(jobJson));
    }
    if (idContains !== undefined) {
      throw new BadQuery(
        "q (id search) cannot be combined with queue or several states",
        "search by id with at most one state and no queue, or drop q",
      );
    }
    const offset = wholeNumber(query, "offset", 0, MAX_FILTERED_OFFSET, 0);
    const { jobs: found } = await store.jobPage({
      states,
      tag,
      queue,
      limit: offset + limit,
      order: "newest",
    });
    return json(found.slice(offset).map(jobJson));
  });
}
