/// <reference lib="dom" />
/** The jobfile panel: each declaring file with its jobs' states. */

import { el, stateBadge } from "./dom.ts";
import type { SyncJson } from "./types.ts";

const STATES = ["pending", "processing", "completed", "failed", "dead", "canceled"] as const;

export function renderSync(container: HTMLElement, data: SyncJson, onOpen: (id: string) => void): void {
  const note = el("p", { class: "note" }, data.note);
  if (data.sources.length === 0) {
    container.replaceChildren(
      el(
        "p",
        { class: "empty" },
        "No jobs come from jobfiles yet. Declare some in ./jobs and run `queuectl sync`.",
      ),
      note,
    );
    return;
  }
  container.replaceChildren(
    el(
      "div",
      { class: "sources" },
      ...data.sources.map((group) => {
        const chips = STATES.filter((state) => group.counts[state] > 0).map((state) =>
          el("span", { class: `state-${state}` }, `${group.counts[state]} ${state}`),
        );
        if (group.undeclared > 0)
          chips.push(el("span", { class: "note" }, `${group.undeclared} no longer declared`));
        const list = el(
          "ul",
          {},
          ...group.jobs.map((job) => {
            const link = el("a", { href: `#job=${encodeURIComponent(job.id)}` }, job.id);
            link.addEventListener("click", (event) => {
              event.preventDefault();
              onOpen(job.id);
            });
            return el("li", {}, link, " ", stateBadge(job.state));
          }),
        );
        return el(
          "details",
          { class: "source" },
          el("summary", {}, el("strong", {}, group.source), el("span", { class: "chips" }, ...chips)),
          list,
        );
      }),
    ),
    note,
  );
}
