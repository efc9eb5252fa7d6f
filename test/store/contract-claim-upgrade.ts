/**
 * Contract: a store written at schema version 9, before the claim index led by queue,
 * migrates to 10 in place with its waiting jobs, and claims from it as a new store does:
 * a named queue's jobs past another queue's backlog, a paused queue's left alone.
 */

import { expect, test } from "bun:test";
import type { StoreBackend } from "./contract-helpers.ts";
import { schemaAtVersion, T0 } from "./contract-helpers.ts";

const CLAIM = { workerId: "w", host: "h", leaseMs: 60_000 };

export function claimUpgradeContract(backend: StoreBackend): void {
  test("a version 9 store migrates to 10 and claims from it as a new store does", async () => {
    const location = await backend.create();
    const flag = backend.name === "postgres" ? "TRUE" : "1";
    const job = (id: string, queue: string, priority: number) =>
      `('${id}', '{"id":"${id}","command":"true"}', 'r-${id}', 'pending', 0, 3, ${priority}, '${queue}',
        ${T0}, ${T0}, ${T0 - 10}, 0)`;
    await location.exec(`
      ${schemaAtVersion(backend, 9)}
      INSERT INTO jobs (id, spec, revision, state, attempts, max_retries, priority, queue, created_at, updated_at,
                        next_run_at, token)
      VALUES ${[job("held-1", "held", 9), job("other-1", "other", 5), job("mine-1", "mine", 0), job("other-2", "other", 0)].join(",")};
      INSERT INTO queues (name, paused) VALUES ('held', ${flag});
    `);
    const store = await location.open();
    try {
      expect((await store.jobClaim({ ...CLAIM, now: T0, queues: ["mine", "held"] }))?.id).toBe("mine-1");
      const round = await store.jobCompleteAndClaim({
        completions: [],
        claim: { ...CLAIM, limit: 5 },
        now: T0,
      });
      expect(round.claimed.map((claimed) => claimed.id)).toEqual(["other-1", "other-2"]);
      expect((await store.jobGet({ id: "held-1" }))?.state).toBe("pending");
    } finally {
      await store.close();
    }
  });
}
