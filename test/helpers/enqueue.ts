/**
 * Enqueueing as `queuectl enqueue` does (the queue's config, the same preparation and
 * transaction), without a CLI process: for tests whose subject is something else.
 */

import { resolveConfig } from "../../src/core/config.ts";
import { parseJobInput, prepareJobs } from "../../src/core/job-input.ts";
import { enqueuePrepared } from "../../src/flow/enqueue.ts";
import type { Store } from "../../src/store/store.ts";

export async function enqueueSpecs(store: Store, specs: Record<string, unknown>[]): Promise<void> {
  const now = Date.now();
  const config = resolveConfig(await store.configGetAll());
  const text = specs.map((spec) => JSON.stringify(spec)).join("\n");
  await enqueuePrepared(store, prepareJobs(parseJobInput(text, "test", "ndjson"), "test", config, now), now);
}
