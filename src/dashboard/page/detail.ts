/// <reference lib="dom" />
/**
 * One job in a dialog: its facts, the actions its state allows, its dependencies, its
 * spec, its attempts with exit codes and durations, and the tail of each attempt's output,
 * followed live while the job runs.
 */

import { ApiError, describe, getJson, jobPath, postJson } from "./client.ts";
import { renderDependencies } from "./dependencies.ts";
import { byId, duration, el, relative, stateBadge, toast } from "./dom.ts";
import type { AttemptJson, DependenciesJson, JobDetailJson, JobLogJson } from "./types.ts";

/** The same moves and source states as `dlq retry`, `cancel`, `rerun` and `kill`. */
const ACTIONS = [
  { name: "retry", label: "Retry", from: ["dead"], done: "moved back to pending", danger: false },
  { name: "cancel", label: "Cancel", from: ["pending", "failed"], done: "canceled", danger: true },
  {
    name: "rerun",
    label: "Rerun",
    from: ["completed", "dead", "canceled"],
    done: "queued to run again",
    danger: false,
  },
  { name: "kill", label: "Kill", from: ["processing"], done: "killed", danger: true },
] as const;

/** While the open job runs, its output is fetched again this often, in ms. */
const LIVE_REFRESH_MS = 1000;

function commandText(command: string | string[]): string {
  return typeof command === "string" ? command : command.map((part) => JSON.stringify(part)).join(" ");
}

function outcome(attempt: AttemptJson): string {
  if (attempt.finished_at === null) return "running";
  const parts = [
    attempt.exit_code === null ? "" : `exit ${attempt.exit_code}`,
    attempt.signal ?? "",
    attempt.error ?? "",
  ].filter(Boolean);
  return parts.join(", ") || "finished";
}

export class JobDetail {
  private readonly dialog = byId<HTMLDialogElement>("detail");
  private openId: string | null = null;
  private liveTimer: ReturnType<typeof setTimeout> | undefined;
  /** Refreshes begun: only the latest renders, so an answer that comes late cannot undo a newer one. */
  private generation = 0;
  /**
   * The action buttons, kept across refreshes while the job's id and state stay the same.
   * A running job's detail re-renders every LIVE_REFRESH_MS; a button replaced between the
   * press and the release of a click would swallow that click.
   */
  private actions: { key: string; row: HTMLElement } | null = null;

  constructor(private readonly onChange: () => void) {
    byId("detail-close").addEventListener("click", () => this.dialog.close());
    this.dialog.addEventListener("close", () => {
      // The close event comes a moment after the dialog closed: a detail opened meanwhile (a
      // link followed right after the close) is open again, and keeps its job.
      if (this.dialog.open) return;
      const closed = this.openId;
      this.openId = null;
      this.actions = null;
      clearTimeout(this.liveTimer);
      // Only the address of the job that closed is cleared, never one set since.
      if (closed !== null && location.hash === `#job=${encodeURIComponent(closed)}`)
        history.replaceState(null, "", location.pathname + location.search);
    });
  }

  get current(): string | null {
    return this.openId;
  }

  async open(id: string): Promise<void> {
    this.openId = id;
    history.replaceState(null, "", `#job=${encodeURIComponent(id)}`);
    byId("detail-title").textContent = id;
    if (!this.dialog.open) this.dialog.showModal();
    await this.refresh();
  }

  async refresh(): Promise<void> {
    const id = this.openId;
    if (id === null) return;
    const generation = ++this.generation;
    try {
      const [job, log, links] = await Promise.all([
        getJson<JobDetailJson>(jobPath(id)),
        getJson<JobLogJson>(jobPath(id, "log")),
        getJson<DependenciesJson>(jobPath(id, "dependencies")),
      ]);
      if (this.openId !== id || generation !== this.generation) return;
      this.render(job, log, links);
      // Output grows without any change in the store, so a running job is polled.
      clearTimeout(this.liveTimer);
      if (job.state === "processing") {
        this.liveTimer = setTimeout(() => {
          if (this.openId === id) void this.refresh();
        }, LIVE_REFRESH_MS);
      }
    } catch (error) {
      if (generation !== this.generation) return;
      if (error instanceof ApiError && error.status === 404) {
        byId("detail-body").replaceChildren(el("p", { class: "error" }, describe(error)));
      } else toast(describe(error));
    }
  }

  /** One button per move the job's state allows; kill asks first. */
  private actionButtons(job: JobDetailJson): HTMLElement[] {
    return ACTIONS.filter((action) => (action.from as readonly string[]).includes(job.state)).map(
      (action) => {
        const button = el(
          "button",
          { type: "button", "data-action": action.name, class: action.danger ? "danger" : "" },
          action.label,
        );
        button.addEventListener("click", async () => {
          if (
            action.name === "kill" &&
            !confirm(`Kill job ${job.id}? Its process gets SIGTERM, then SIGKILL.`)
          )
            return;
          button.disabled = true;
          try {
            await postJson(jobPath(job.id, action.name));
            toast(`Job ${job.id} ${action.done}`);
            this.onChange();
            await this.refresh();
          } catch (error) {
            toast(describe(error));
            button.disabled = false;
          }
        });
        return button;
      },
    );
  }

  private render(job: JobDetailJson, log: JobLogJson, links: DependenciesJson): void {
    const facts: [string, string | Node][] = [
      ["state", stateBadge(job.state)],
      ["command", commandText(job.command)],
      ["attempts", `${job.attempt_count} of ${job.max_retries + 1}`],
      ["queue", job.queue],
      ["priority", String(job.priority)],
      ["tags", job.tags.join(", ") || "—"],
      ["created", `${job.created_at} (${relative(job.created_at)})`],
      ["updated", `${job.updated_at} (${relative(job.updated_at)})`],
    ];
    if (job.state === "pending" || job.state === "failed")
      facts.push(["next run", relative(job.next_run_at)]);
    if (job.worker_id) facts.push(["worker", job.worker_id]);
    if (job.progress_pct !== null)
      facts.push([
        "progress",
        `${job.progress_pct}%${job.progress_message ? ` ${job.progress_message}` : ""}`,
      ]);
    if (job.result !== null)
      facts.push(["result", el("pre", { class: "result" }, JSON.stringify(job.result, null, 2))]);
    if (job.exit_code !== null) facts.push(["exit code", String(job.exit_code)]);
    if (job.last_error) facts.push(["last error", job.last_error]);
    if (job.source) facts.push(["source", job.source]);

    const actionsKey = `${job.id}\0${job.state}`;
    if (this.actions?.key !== actionsKey) {
      this.actions = { key: actionsKey, row: el("div", { class: "actions" }, ...this.actionButtons(job)) };
    }

    const tails = log.attempts.filter((attempt) => attempt.output_tail);
    const elsewhere = log.attempts.find((attempt) => attempt.running && !attempt.live);
    const parts: (Node | null)[] = [
      el(
        "dl",
        { class: "facts" },
        ...facts.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value)]),
      ),
      this.actions.row,
      renderDependencies(links, (id) => void this.open(id)),
      el("h3", {}, "Attempts"),
      job.attempts.length === 0
        ? el("p", { class: "empty" }, "No attempts yet.")
        : el(
            "div",
            { class: "table-wrap" },
            el(
              "table",
              { class: "attempts" },
              el(
                "thead",
                {},
                el(
                  "tr",
                  {},
                  el("th", { title: "run number: counts every claim, never reset" }, "#"),
                  el(
                    "th",
                    { class: "wide", title: "try within the current retries; retry and rerun reset it" },
                    "try",
                  ),
                  ...["started", "duration", "outcome", "host"].map((name) => el("th", {}, name)),
                ),
              ),
              el(
                "tbody",
                {},
                ...job.attempts.map((attempt) =>
                  el(
                    "tr",
                    { "data-run": String(attempt.token) },
                    el("td", {}, String(attempt.token)),
                    el("td", { class: "wide" }, String(attempt.attempt)),
                    el("td", { title: attempt.started_at ?? "" }, relative(attempt.started_at)),
                    el("td", {}, attempt.duration_ms === null ? "running" : duration(attempt.duration_ms)),
                    el("td", { "data-outcome": "" }, outcome(attempt)),
                    el("td", {}, attempt.host),
                  ),
                ),
              ),
            ),
          ),
      el("h3", {}, "Output"),
      elsewhere
        ? el(
            "p",
            { class: "note" },
            `Run ${elsewhere.token} is running on host ${elsewhere.host}; its output shows here when it ends (or live on a dashboard on that host).`,
          )
        : null,
      tails.length === 0
        ? el("p", { class: "empty" }, "No output kept yet.")
        : el(
            "div",
            {},
            ...tails.map((attempt, i) =>
              el(
                "details",
                i === tails.length - 1 ? { open: "" } : {},
                el(
                  "summary",
                  {},
                  `run ${attempt.token} (try ${attempt.attempt}) on ${attempt.host}`,
                  attempt.live ? el("span", { class: "live-tag" }, " · live") : null,
                ),
                el(
                  "pre",
                  { class: "log", "data-live": attempt.live ? "true" : "false" },
                  attempt.output_tail ?? "",
                ),
              ),
            ),
          ),
      el("h3", {}, "Spec"),
      el("pre", { class: "spec" }, JSON.stringify(job.spec, null, 2)),
    ];
    byId("detail-body").replaceChildren(...parts.filter((part): part is Node => part !== null));
    // Live output is read from its end, as a terminal shows it.
    for (const pre of byId("detail-body").querySelectorAll<HTMLElement>('pre[data-live="true"]'))
      pre.scrollTop = pre.scrollHeight;
  }
}
