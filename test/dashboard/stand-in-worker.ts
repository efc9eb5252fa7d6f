/**
 * Plays a worker through the store API: registers, heartbeats, and completes whatever is
 * runnable. The browser test uses it until `queuectl worker run` exists, so it exercises
 * the same rows a real worker writes.
 */

import { completeNext, openTestStore } from "./fixtures.ts";

export interface StandIn {
  id: string;
  stop: () => Promise<void>;
}

export async function startStandInWorker(home: string): Promise<StandIn> {
  const store = openTestStore(home);
  const id = "stand-in-worker";
  await store.workerRegister({ id, host: "test-host", pid: process.pid, now: Date.now(), queues: null });
  let running = true;
  const loop = (async () => {
    while (running) {
      await store.workerHeartbeat({ id, now: Date.now() });
      if ((await completeNext(store, id, "deploying docs\n")) === null) await Bun.sleep(50);
    }
  })();
  return {
    id,
    async stop() {
      running = false;
      await loop;
      await store.workerRemove({ id });
      await store.close();
    },
  };
}
