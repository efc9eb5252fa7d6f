/// <reference lib="dom" />
/** The two panels fed by every status event: the count tiles and the workers by host. */

import { duration, el } from "./dom.ts";
import type { StateCounts, WorkerJson } from "./types.ts";

const TILES = ["pending", "processing", "completed", "failed", "dead", "canceled", "total"] as const;

/** Tiles double as the state filter: pressing one shows its jobs, pressing it again shows all. */
export function renderCounts(
  container: HTMLElement,
  counts: StateCounts,
  selected: string,
  onSelect: (state: string) => void,
): void {
  container.replaceChildren(
    ...TILES.map((name) => {
      const state = name === "total" ? "" : name;
      const tile = el(
        "button",
        {
          type: "button",
          class: "count",
          "data-count": name,
          "aria-pressed": String(selected === state && name !== "total"),
        },
        el(
          "span",
          { class: `n ${name === "total" ? "" : `state-${name}`}` },
          counts[name].toLocaleString("en"),
        ),
        el("span", { class: "label" }, name),
      );
      tile.addEventListener("click", () => onSelect(selected === state ? "" : state));
      return tile;
    }),
  );
}

/**
 * Heartbeat ages were measured by the server at `receivedAt`; adding the time since keeps
 * them ticking between events without trusting the browser's clock against the server's.
 */
export function renderWorkers(container: HTMLElement, workers: WorkerJson[], receivedAt: number): void {
  if (workers.length === 0) {
    container.replaceChildren(
      el("p", { class: "empty" }, "No workers running. Start some with `queuectl worker start --count 3`."),
    );
    return;
  }
  const hosts = [...new Set(workers.map((worker) => worker.host))].sort();
  const elapsed = Date.now() - receivedAt;
  container.replaceChildren(
    ...hosts.map((host) =>
      el(
        "div",
        { class: "host" },
        el("h3", {}, host),
        ...workers
          .filter((worker) => worker.host === host)
          .map((worker) => {
            const health = worker.alive ? (worker.stop_requested ? "stopping" : "running") : "lost";
            return el(
              "div",
              { class: "worker", "data-worker": worker.id },
              el(
                "span",
                {},
                `pid ${worker.pid}`,
                el("span", { class: health === "lost" ? "lost" : "" }, ` · ${health}`),
              ),
              el("span", { class: "beat" }, `heartbeat ${duration(worker.heartbeat_age_ms + elapsed)} ago`),
            );
          }),
      ),
    ),
  );
}
