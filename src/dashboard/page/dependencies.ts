/// <reference lib="dom" />
/** A job's dependencies in its detail: what it waits for (`after`) and what waits for it. */

import { el, stateBadge } from "./dom.ts";
import type { DependenciesJson, JobLinkJson } from "./types.ts";

function linkList(links: JobLinkJson[], onOpen: (id: string) => void): HTMLElement {
  return el(
    "ul",
    {},
    ...links.map((link) => {
      const anchor = el("a", { href: `#job=${encodeURIComponent(link.id)}`, "data-link": link.id }, link.id);
      anchor.addEventListener("click", (event) => {
        event.preventDefault();
        onOpen(link.id);
      });
      return el(
        "li",
        {},
        anchor,
        " ",
        link.state === null ? el("span", { class: "note" }, "gone") : stateBadge(link.state),
      );
    }),
  );
}

/** Null when the job has no dependencies either way, so the detail stays short. */
export function renderDependencies(
  links: DependenciesJson,
  onOpen: (id: string) => void,
): HTMLElement | null {
  if (links.upstream.length === 0 && links.downstream.length === 0) return null;
  const more = links.downstream_total - links.downstream.length;
  return el(
    "div",
    {},
    el("h3", {}, "Dependencies"),
    el(
      "dl",
      { class: "links" },
      el("dt", {}, "waits for"),
      el(
        "dd",
        { "data-deps": "upstream" },
        links.upstream.length === 0 ? "nothing" : linkList(links.upstream, onOpen),
      ),
      el("dt", {}, "needed by"),
      el(
        "dd",
        { "data-deps": "downstream" },
        links.downstream.length === 0 ? "nothing" : linkList(links.downstream, onOpen),
        more > 0 ? el("span", { class: "note" }, ` and ${more} more`) : null,
      ),
    ),
  );
}
