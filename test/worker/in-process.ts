/**
 * Workers driven in process, on every store backend the environment offers: a real SQLite
 * file in a temp folder always, and a real PostgreSQL schema of its own when
 * QUEUECTL_TEST_PG_URL is set. Jobs are real processes; the test waits on store state and
 * worker events, never on fixed sleeps.
 */

import { join } from "node:path";
import { SQL } from "bun";
import { specRevision } from "../../src/core/spec.ts";
import { LONG_RUNNING_CONNECTIONS } from "../../src/store/open.ts";
import { openPostgresStore } from "../../src/store/postgres/backend.ts";
import { SqliteStore } from "../../src/store/sqlite/backend.ts";
import type { Store } from "../../src/store/store.ts";
import type { WorkerEvent } from "../../src/worker/events.ts";
import { Worker } from "../../src/worker/loop.ts";
import { type TempHome, tempHome, waitFor } from "../helpers/cli.ts";
import { enqueueSpecs } from "../helpers/enqueue.ts";

export interface Backend {
  name: "sqlite" | "postgres";
  /** A fresh, empty queue; `open` connects to it (again). */
  create(): Promise<Queue>;
}

export interface Queue {
  home: TempHome;
  /** SQLite only: the file, for a second process to lock. */
  path: string | null;
  /** PostgreSQL only: the schema and a connection beside the workers'. */
  schema: string | null;
  admin: SQL | null;
  open(options?: { busyTimeoutMs?: number }): Promise<Store>;
}

const pgUrl = process.env.QUEUECTL_TEST_PG_URL;

export const backends: Backend[] = [
  {
    name: "sqlite",
    async create() {
      const home = tempHome();
      const path = join(home.home, "jobs.db");
      return {
        home,
        path,
        schema: null,
        admin: null,
        open: async (options = {}) => new SqliteStore(path, { synchronous: "NORMAL", ...options }),
      };
    },
  },
];

if (pgUrl) {
  backends.push({
    name: "postgres",
    async create() {
      const schema = `qc_books_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
      const url = `${pgUrl}${pgUrl.includes("?") ? "&" : "?"}schema=${schema}`;
      return {
        home: tempHome(),
        path: null,
        schema,
        admin: new SQL(pgUrl, { max: 2 }),
        // As many connections as `worker run` opens: its lease watch reads beside a renewal
        // that waits for a lock.
        open: () => openPostgresStore(url, LONG_RUNNING_CONNECTIONS),
      };
    },
  });
} else {
  console.warn("workers on PostgreSQL are skipped: set QUEUECTL_TEST_PG_URL to run them");
}

export interface RunningWorker {
  worker: Worker;
  run: Promise<void>;
  events: WorkerEvent[];
}

/** Everything a test opened, closed (and dropped) after it, pass or fail. */
export class Harness {
  readonly stores: Store[] = [];
  readonly workers: RunningWorker[] = [];

  constructor(readonly queue: Queue) {}

  async open(options?: { busyTimeoutMs?: number }): Promise<Store> {
    const store = await this.queue.open(options);
    this.stores.push(store);
    return store;
  }

  start(
    store: Store,
    options: {
      concurrency?: number;
      prefetch?: number;
      aheadHoldMs?: number;
      lingerMaxMs?: number;
      queues?: string[] | null;
      killGraceMs?: number;
      drain?: boolean;
    } = {},
  ): RunningWorker {
    const events: WorkerEvent[] = [];
    const worker = new Worker({
      store,
      home: this.queue.home.home,
      host: "books-test",
      concurrency: options.concurrency ?? 1,
      prefetch: options.prefetch,
      aheadHoldMs: options.aheadHoldMs,
      lingerMaxMs: options.lingerMaxMs,
      queues: options.queues ?? null,
      drain: options.drain ?? false,
      killGraceMs: options.killGraceMs,
      onEvent: (event) => events.push(event),
    });
    const running = { worker, run: worker.run(), events };
    this.workers.push(running);
    return running;
  }

  enqueue(store: Store, specs: Record<string, unknown>[]): Promise<void> {
    return enqueueSpecs(store, specs);
  }

  /** Waits until `id` is in a state other than pending, failed or processing, and returns it. */
  async settled(store: Store, id: string, timeoutMs = 60_000): Promise<string> {
    return waitFor(
      async () => {
        const state = (await store.jobGet({ id }))?.state;
        return state && !["pending", "failed", "processing"].includes(state) ? state : null;
      },
      { timeoutMs, what: `job ${id} to end (events: ${JSON.stringify(this.workers.map((w) => w.events))})` },
    );
  }

  async cleanup(): Promise<void> {
    for (const { worker } of this.workers) worker.escalate();
    await Promise.all(this.workers.map(({ run }) => run.catch(() => {})));
    for (const store of this.stores) await store.close();
    if (this.queue.admin && this.queue.schema) {
      await this.queue.admin.unsafe(`DROP SCHEMA IF EXISTS ${this.queue.schema} CASCADE`);
      await this.queue.admin.close();
    }
    this.queue.home.cleanup();
  }
}

/**
 * Runs `body` on a fresh queue with `settings` set (config keys and values), and closes
 * everything it opened afterwards, pass or fail. Each test has its own queue, so tests on
 * separate queues can run concurrently.
 */
export function withQueue(
  backend: Backend,
  settings: Record<string, string>,
  body: (h: Harness, store: Store) => Promise<void>,
): () => Promise<void> {
  return async () => {
    const h = new Harness(await backend.create());
    try {
      const store = await h.open();
      for (const [key, value] of Object.entries(settings)) await store.configSet({ key, value });
      await body(h, store);
    } finally {
      await h.cleanup();
    }
  };
}

export type StoreMethod = (...args: unknown[]) => unknown;

/** `store`, with each method that `wrap` returns a replacement for replaced; the rest as they are. */
export function wrappedStore(
  store: Store,
  wrap: (name: string, method: StoreMethod) => StoreMethod | null,
): Store {
  return new Proxy(store, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      const method = (value as StoreMethod).bind(target);
      return wrap(String(property), method) ?? method;
    },
  });
}

type Round = Store["jobCompleteAndClaim"];

/** `store`, telling `see` of every round a worker completes and claims in, once it is answered. */
export function watchedRounds(
  store: Store,
  see: (params: Parameters<Round>[0], answer: Awaited<ReturnType<Round>>) => void,
): Store {
  return wrappedStore(store, (name, method) =>
    name === "jobCompleteAndClaim"
      ? async (...args: unknown[]) => {
          const answer = (await method(...args)) as Awaited<ReturnType<Round>>;
          see(args[0] as Parameters<Round>[0], answer);
          return answer;
        }
      : null,
  );
}

/**
 * A store whose claim rounds commit but whose answer is lost while `losing()` says so, as
 * when PostgreSQL restarts or a backend is terminated between a round's commit and its reply:
 * the real round runs on the real store, then the call fails as a dropped connection does.
 */
export function answerLosingRounds(store: Store, losing: () => boolean): Store {
  return wrappedStore(store, (name, method) =>
    name === "jobCompleteAndClaim"
      ? async (...args: unknown[]) => {
          const answer = await method(...args);
          if (losing()) throw new Error("Connection terminated: the round committed, its answer never came");
          return answer;
        }
      : null,
  );
}

/** A store that can be down: from `down()` until `up()` every call but close fails, as with the server gone. */
export function outageStore(store: Store): { store: Store; down(): void; up(): void } {
  let isDown = false;
  const proxy = wrappedStore(store, (name, method) =>
    name === "close"
      ? null
      : async (...args: unknown[]) => {
          if (isDown) throw new Error("the store is down (test outage)");
          return method(...args);
        },
  );
  return {
    store: proxy,
    down: () => {
      isDown = true;
    },
    up: () => {
      isDown = false;
    },
  };
}

/**
 * A store whose calls can be held at a gate: those named in `held`, or every one but close.
 * From `stall()` on, each waits until `resume()`.
 */
function gatedStore(store: Store, held: string[] | null): { store: Store; stall(): void; resume(): void } {
  let gate: Promise<void> | null = null;
  let open = () => {};
  const proxy = wrappedStore(store, (name, method) =>
    (held === null ? name !== "close" : held.includes(name))
      ? async (...args: unknown[]) => {
          while (gate) await gate;
          return method(...args);
        }
      : null,
  );
  return {
    store: proxy,
    stall() {
      gate ??= new Promise((resolve) => {
        open = resolve;
      });
    },
    resume() {
      gate = null;
      open();
    },
  };
}

/**
 * A store whose worker heartbeats can be held at a gate: the worker looks frozen to the
 * rest of the queue (no renewals) while its claim loop and its jobs go on, as after a
 * SIGSTOP the moment it wakes.
 */
export function stallableHeartbeats(store: Store): { store: Store; stall(): void; resume(): void } {
  return gatedStore(store, ["workerHeartbeat"]);
}

/**
 * A store that can go silent: from `stall()` on, every call waits until `resume()`, as each
 * query does on a PostgreSQL connection whose network went quiet without a reset.
 */
export function silenceableStore(store: Store): { store: Store; stall(): void; resume(): void } {
  return gatedStore(store, null);
}

/** Makes `id` an every-minute schedule whose next occurrence fell due a second ago. */
export async function dueSchedule(store: Store, id: string): Promise<void> {
  const spec = { id, command: "true", schedule: "* * * * *" };
  const due = Date.now() - 1000;
  await store.scheduleUpsert({ id, spec, revision: specRevision(spec), source: null, nextAt: due, now: due });
}
