/**
 * The status feed behind `GET /api/events` when its store fails: every open stream ends, so
 * the page reconnects (the stream asks for `retry: 2000`) instead of keeping a live
 * connection that never hears from the server again. A real SQLite store, closed under the
 * feed as a dropped connection or a shutdown would leave it.
 */

import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { StatusFeed } from "../../src/dashboard/events.ts";
import { SqliteStore } from "../../src/store/sqlite/backend.ts";
import { type TempHome, tempHome } from "../helpers/cli.ts";

// Waits up to 15 s for the streams to end: more than the 5 s default.
setDefaultTimeout(30_000);

let home: TempHome;
afterEach(() => home?.cleanup());

test("a store that fails under the feed ends every open stream", async () => {
  home = tempHome();
  const store = new SqliteStore(join(home.home, "jobs.db"));
  const feed = new StatusFeed(store, Date.now);
  const readers = [feed.stream(), feed.stream()].map((response) =>
    (response.body as ReadableStream<Uint8Array>).getReader(),
  );
  const decoder = new TextDecoder();
  for (const reader of readers) {
    let text = "";
    while (!text.includes("event: status")) text += decoder.decode((await reader.read()).value);
  }
  await store.close();
  // The feed's next look at the store fails; each reader then reaches the end of its stream.
  // Raced against a deadline: a stream left open never answers a read at all.
  const deadline = Date.now() + 15_000;
  for (const reader of readers) {
    let ended = false;
    while (!ended && Date.now() < deadline) {
      const next = await Promise.race([reader.read(), Bun.sleep(deadline - Date.now()).then(() => null)]);
      ended = next?.done === true;
    }
    expect(ended).toBe(true);
  }
});
