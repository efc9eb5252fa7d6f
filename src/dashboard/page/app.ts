/// <reference lib="dom" />
/**
 * The dashboard page: wires the panels to the API. Status arrives over Server-Sent Events
 * (`/api/events`) and drives everything else: each change refreshes the open job and the
 * list, at most once per REFRESH_MS so a busy queue does not flood the server.
 */

import { renderChart } from "./chart.ts";
import { describe, getJson, postJson, whenUnauthorized } from "./client.ts";
import { JobDetail } from "./detail.ts";
import { byId, toast } from "./dom.ts";
import { JobList } from "./jobs.ts";
import { renderCounts, renderWorkers } from "./overview.ts";
import { renderQueues, renderSchedules } from "./queues.ts";
import { renderSync } from "./sync.ts";
import type { QueueJson, ScheduleJson, StatusJson, SyncJson, ThroughputJson } from "./types.ts";

/** The list and the open job follow status events at most this often, in ms. */
const REFRESH_MS = 1000;
/** The chart, schedules and the jobfile panel change slowly; they refresh on this timer, in ms. */
const SLOW_REFRESH_MS = 15_000;

let status: StatusJson | null = null;
let statusAt = 0;
let events: EventSource | null = null;

const detail = new JobDetail(() => refreshSoon());
const list = new JobList(
  (id) => void detail.open(id),
  () => showStatus(),
);

function showStatus(): void {
  if (!status) return;
  renderCounts(byId("counts"), status.jobs, list.filters.state, (state) => list.setFilters({ state }));
  renderWorkers(byId("workers"), status.workers, statusAt);
  list.setCounts(status.jobs);
  const retryAll = byId<HTMLButtonElement>("retry-all");
  retryAll.hidden = status.jobs.dead === 0;
  retryAll.textContent = `Retry all dead (${status.jobs.dead})`;
}

let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let lastRefresh = 0;

/** Coalesces bursts of changes into one refresh of the list and the open job. */
function refreshSoon(): void {
  if (refreshTimer !== undefined) return;
  const wait = Math.max(0, lastRefresh + REFRESH_MS - Date.now());
  refreshTimer = setTimeout(() => {
    refreshTimer = undefined;
    lastRefresh = Date.now();
    list.refresh().catch((error) => toast(describe(error)));
    void refreshQueues();
    void detail.refresh();
  }, wait);
}

/** Counts per queue move with every job change; the pause switch with every click. */
async function refreshQueues(): Promise<void> {
  try {
    renderQueues(byId("queues"), await getJson<QueueJson[]>("/api/queues"), () => void refreshQueues());
  } catch (error) {
    toast(describe(error));
  }
}

async function refreshSlow(): Promise<void> {
  if (!byId("login").hidden) return;
  try {
    const [chart, schedules, sync] = await Promise.all([
      getJson<ThroughputJson>("/api/throughput?minutes=60"),
      getJson<ScheduleJson[]>("/api/schedules"),
      getJson<SyncJson>("/api/sync"),
    ]);
    renderChart(byId("chart"), chart);
    renderSchedules(byId("schedules"), schedules);
    renderSync(byId("sync"), sync, (id) => void detail.open(id));
  } catch (error) {
    toast(describe(error));
  }
}

function connect(): void {
  events?.close();
  const live = byId("live");
  events = new EventSource("/api/events");
  events.addEventListener("open", () => {
    live.dataset.state = "live";
    live.textContent = "live";
  });
  events.addEventListener("status", (event) => {
    status = JSON.parse((event as MessageEvent<string>).data) as StatusJson;
    statusAt = Date.now();
    showStatus();
    refreshSoon();
  });
  events.addEventListener("error", () => {
    // EventSource reconnects by itself; the indicator tells the user the numbers may be stale.
    live.dataset.state = "down";
    live.textContent = "reconnecting…";
  });
}

function showLogin(): void {
  events?.close();
  byId("main").hidden = true;
  byId("login").hidden = false;
  byId("login-token").focus();
}

byId("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await postJson("/api/login", { token: byId<HTMLInputElement>("login-token").value });
    byId("login").hidden = true;
    byId("main").hidden = false;
    void start();
  } catch (error) {
    byId("login-error").textContent = describe(error);
  }
});

byId("retry-all").addEventListener("click", async () => {
  const dead = status?.jobs.dead ?? 0;
  if (!confirm(`Move all ${dead} dead job(s) back to pending with their attempts reset?`)) return;
  try {
    const result = await postJson<{ retried: string[] }>("/api/dlq/retry");
    toast(`${result.retried.length} job(s) moved from the DLQ back to pending`);
    refreshSoon();
  } catch (error) {
    toast(describe(error));
  }
});

function openFromHash(): void {
  const match = location.hash.match(/^#job=(.+)$/);
  if (match?.[1]) void detail.open(decodeURIComponent(match[1]));
}

async function start(): Promise<void> {
  try {
    status = await getJson<StatusJson>("/api/status");
  } catch (error) {
    if (!byId("login").hidden) return;
    toast(describe(error));
  }
  statusAt = Date.now();
  showStatus();
  connect();
  await Promise.all([
    list.refresh().catch((error) => toast(describe(error))),
    refreshQueues(),
    refreshSlow(),
  ]);
  openFromHash();
}

whenUnauthorized(showLogin);
window.addEventListener("hashchange", openFromHash);
setInterval(() => void refreshSlow(), SLOW_REFRESH_MS);
// Heartbeat ages tick between events.
setInterval(() => status && renderWorkers(byId("workers"), status.workers, statusAt), 1000);
void start();
