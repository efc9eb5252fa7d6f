/// <reference lib="dom" />
/** The jobfile panel: each folder's last sync, watchers and problems; then each declaring file with its jobs' states. */

import { el, relative, stateBadge } from "./dom.ts";
import type { SyncJson } from "./types.ts";

const STATES = ["pending", "processing", "completed", "failed", "dead", "canceled"] as const;

type Folder = SyncJson["folders"][number];

function lastSyncLine(run: NonNullable<Folder["last_sync"]>): HTMLElement {
  const problems =
    run.problems === 0
      ? el("span", { class: "state-completed" }, "no problems")
      : el("span", { class: "state-dead" }, `${run.problems} problem(s)`);
  return el(
    "p",
    {},
    `Last sync ${relative(run.at)} by ${run.by} on ${run.host} (pid ${run.pid}): ${run.files} file(s), ${run.created} created, ${run.updated} updated, ${run.canceled} canceled; `,
    problems,
  );
}

function renderFolder(folder: Folder): HTMLElement {
  const run = folder.last_sync;
  const title = run && run.target !== folder.folder ? `${folder.folder} → ${run.target}` : folder.folder;
  const problems = (run?.problem_list ?? []).map((problem) =>
    el("li", { class: "problem" }, `${problem.file}:${problem.line}:${problem.column}: ${problem.message}`),
  );
  const watchers = folder.watchers.map((watcher) =>
    el(
      "li",
      { class: watcher.alive ? "alive" : "lost" },
      `watcher on ${watcher.host} (pid ${watcher.pid}): `,
      watcher.alive ? "alive" : `lost (no heartbeat for ${Math.round(watcher.heartbeat_age_ms / 1000)} s)`,
      watcher.last_error
        ? el(
            "span",
            { class: "state-dead" },
            ` — last error ${relative(watcher.last_error_at)}: ${watcher.last_error}`,
          )
        : null,
    ),
  );
  return el(
    "div",
    { class: "folder", "data-folder": folder.folder },
    el("strong", {}, title),
    run ? lastSyncLine(run) : el("p", { class: "note" }, "Never synced."),
    problems.length > 0 ? el("ul", { class: "problems" }, ...problems) : null,
    el(
      "ul",
      { class: "watchers" },
      ...(watchers.length > 0 ? watchers : [el("li", { class: "note" }, "no watcher")]),
    ),
  );
}

export function renderSync(container: HTMLElement, data: SyncJson, onOpen: (id: string) => void): void {
  const folders =
    data.folders.length === 0
      ? el("p", { class: "note" }, "No sync recorded yet: run `queuectl sync` or `queuectl watch`.")
      : el("div", { class: "folders" }, ...data.folders.map(renderFolder));
  if (data.sources.length === 0) {
    container.replaceChildren(
      folders,
      el(
        "p",
        { class: "empty" },
        "No jobs come from jobfiles yet. Declare some in ./jobs and run `queuectl sync`.",
      ),
    );
    return;
  }
  container.replaceChildren(
    folders,
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
  );
}
