/// <reference lib="dom" />
/**
 * The queues panel: each queue's jobs by state, its limit and its pause switch, with the
 * button that flips it; and the schedules panel: each schedule with its next run.
 */

import { describe, postJson } from "./client.ts";
import { el, relative, toast } from "./dom.ts";
import type { QueueJson, ScheduleJson } from "./types.ts";

/** State, heading, and whether it is left out at phone width (class `wide`). */
const COLUMNS = [
  ["pending", "pending", ""],
  ["processing", "running", "wide"],
  ["failed", "failed", "wide"],
  ["dead", "dead", ""],
  ["completed", "done", "wide"],
] as const;

export function renderQueues(container: HTMLElement, queues: QueueJson[], onChange: () => void): void {
  if (queues.length === 0) {
    container.replaceChildren(el("p", { class: "empty" }, "No queues yet; jobs go to `default`."));
    return;
  }
  const rows = queues.map((queue) => {
    const verb = queue.paused ? "resume" : "pause";
    const button = el(
      "button",
      { type: "button", class: "secondary", "data-queue-action": verb },
      queue.paused ? "Resume" : "Pause",
    );
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await postJson(`/api/queues/${encodeURIComponent(queue.name)}/${verb}`);
        toast(`Queue ${queue.name} ${queue.paused ? "resumed" : "paused"}`);
        onChange();
      } catch (error) {
        toast(describe(error));
        button.disabled = false;
      }
    });
    return el(
      "tr",
      { "data-queue": queue.name },
      el("td", { class: "id" }, queue.name),
      ...COLUMNS.map(([state, , width]) =>
        el("td", { class: width, "data-queue-count": state }, String(queue.counts[state])),
      ),
      el("td", { class: "wide" }, queue.concurrency === null ? "—" : String(queue.concurrency)),
      el(
        "td",
        { "data-queue-state": queue.paused ? "paused" : "active" },
        el("span", { class: queue.paused ? "state state-failed" : "" }, queue.paused ? "paused" : "active"),
      ),
      el("td", {}, button),
    );
  });
  container.replaceChildren(
    el(
      "div",
      { class: "table-wrap" },
      el(
        "table",
        { class: "queues" },
        el(
          "thead",
          {},
          el(
            "tr",
            {},
            el("th", {}, "queue"),
            ...COLUMNS.map(([, label, width]) => el("th", { class: width }, label)),
            el("th", { class: "wide", title: "running jobs allowed at once" }, "limit"),
            el("th", {}, "state"),
            el("th", {}, ""),
          ),
        ),
        el("tbody", {}, ...rows),
      ),
    ),
  );
}

export function renderSchedules(container: HTMLElement, schedules: ScheduleJson[]): void {
  if (schedules.length === 0) {
    container.replaceChildren(
      el("p", { class: "empty" }, "No schedules. Give a jobfile a `schedule:` cron line and sync."),
    );
    return;
  }
  container.replaceChildren(
    el(
      "ul",
      { class: "schedules" },
      ...schedules.map((schedule) =>
        el(
          "li",
          { "data-schedule": schedule.id },
          el("strong", {}, schedule.id),
          " ",
          el(
            "code",
            {},
            `${schedule.schedule ?? ""}${schedule.timezone === "UTC" ? "" : ` (${schedule.timezone})`}`,
          ),
          el(
            "span",
            { class: "next", title: schedule.next_run_at ?? "", "data-next-run": schedule.next_run_at ?? "" },
            schedule.next_run_at === null ? "never again" : `next ${relative(schedule.next_run_at)}`,
          ),
        ),
      ),
    ),
  );
}
