/// <reference lib="dom" />
/**
 * One job in a dialog: its facts, the actions its state allows, its spec, its attempts
 * with exit codes and durations, and the tail of each attempt's output.
 */

import { ApiError, describe, getJson, jobPath, postJson } from "./client.ts";
import { byId, duration, el, relative, stateBadge, toast } from "./dom.ts";
import type { AttemptJson, JobDetailJson, JobLogJson } from "./types.ts";

/** The same moves and source states as `dlq retry`, `cancel` and `rerun`. */
const ACTIONS = [
  { name: "retry", label: "Retry", from: ["dead"], done: "moved back to pending" },
  { name: "cancel", label: "Cancel", from: ["pending", "failed"], done: "canceled" },
  { name: "rerun", label: "Rerun", from: ["completed", "dead", "canceled"], done: "queued to run again" },
] as const;

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

  constructor(private readonly onChange: () => void) {
    byId("detail-close").addEventListener("click", () => this.dialog.close());
    this.dialog.addEventListener("close", () => {
      this.openId = null;
      if (location.hash.startsWith("#job="))
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
    try {
      const [job, log] = await Promise.all([
        getJson<JobDetailJson>(jobPath(id)),
        getJson<JobLogJson>(jobPath(id, "log")),
      ]);
      if (this.openId === id) this.render(job, log);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        byId("detail-body").replaceChildren(el("p", { class: "error" }, describe(error)));
      } else toast(describe(error));
    }
  }

  private render(job: JobDetailJson, log: JobLogJson): void {
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
    if (job.exit_code !== null) facts.push(["exit code", String(job.exit_code)]);
    if (job.last_error) facts.push(["last error", job.last_error]);
    if (job.source) facts.push(["source", job.source]);

    const actions = ACTIONS.filter((action) => (action.from as readonly string[]).includes(job.state)).map(
      (action) => {
        const button = el(
          "button",
          { type: "button", "data-action": action.name, class: action.name === "cancel" ? "danger" : "" },
          action.label,
        );
        button.addEventListener("click", async () => {
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

    const tails = log.attempts.filter((attempt) => attempt.output_tail);
    byId("detail-body").replaceChildren(
      el(
        "dl",
        { class: "facts" },
        ...facts.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value)]),
      ),
      el("div", { class: "actions" }, ...actions),
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
      tails.length === 0
        ? el("p", { class: "empty" }, "No output kept yet.")
        : el(
            "div",
            {},
            ...tails.map((attempt, i) =>
              el(
                "details",
                i === tails.length - 1 ? { open: "" } : {},
                el("summary", {}, `run ${attempt.token} (try ${attempt.attempt}) on ${attempt.host}`),
                el("pre", { class: "log" }, attempt.output_tail ?? ""),
              ),
            ),
          ),
      el("h3", {}, "Spec"),
      el("pre", { class: "spec" }, JSON.stringify(job.spec, null, 2)),
    );
  }
}
