/**
 * A running worker takes up a config change at its next heartbeat, every key it acts on:
 * `retention` and `retention-archive` too, which its purge reads at each round. Before, a
 * change to them was never applied, so jobs went on being purged without the archive.
 */

import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { waitFor } from "../helpers/cli.ts";
import { backends, withQueue } from "./in-process.ts";

setDefaultTimeout(120_000);

for (const backend of backends) {
  describe.concurrent(`config changes reach a running worker (${backend.name})`, () => {
    test(
      "retention and its archive are applied and announced, and so is turning them off",
      withQueue(backend, { lease: "3" }, async (h, store) => {
        const running = h.start(store);
        const admin = await h.open();
        const announced = (text: string) =>
          waitFor(
            async () =>
              running.events.some((event) => event.type === "config-changed" && event.summary.includes(text)),
            { timeoutMs: 30_000, what: `a config-changed event naming ${text}` },
          );
        const archive = join(h.queue.home.home, "purged.ndjson");
        await admin.configSet({ key: "retention", value: "3600" });
        await admin.configSet({ key: "retention-archive", value: archive });
        await announced(`retention 3600s, retention-archive ${archive}`);
        await admin.configSet({ key: "retention", value: "off" });
        await announced(`retention off, retention-archive ${archive}`);
        expect(running.events.filter((event) => event.type === "error")).toEqual([]);
      }),
    );
  });
}
