/// <reference lib="dom" />
/**
 * The dashboard page: wires the panels to the API. Status arrives over Server-Sent Events
 * (`/api/events`) and drives everything else: each change refreshes the open job and the
 * list, at most once per REFRESH_MS so a busy queue does not flood the server. The events
 * are read with fetch, not EventSource, which cannot send the token's header.
 */

import { renderChart } from "./chart.ts";
import {
  authHeaders,
  describe,
  forgetToken,
  getJson,
  postJson,
  setToken,
  whenUnauthorized,
} from "./client.ts";
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
let events: AbortController | null = null;
/** After a dropped event stream, the next try waits this long, in ms. */
const RECONNECT_MS = 2000;

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

/** One event of the stream (`event: …` and `data: …` lines); only `status` is sent. */
function onEvent(block: string): void {
  const lines = block.split("\n");
  const name = lines
    .find((line) => line.startsWith("event:"))
    ?.slice(6)
    .trim();
  const data = lines
    .filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(5).replace(/^ /, ""))
    .join("\n");
  if (name !== "status" || data === "") return;
  status = JSON.parse(data) as StatusJson;
  statusAt = Date.now();
  showStatus();
  refreshSoon();
}

/** Reads the event stream until it is closed by showLogin; reconnects as EventSource would. */
function connect(): void {
  events?.abort();
  const controller = new AbortController();
  events = controller;
  const live = byId("live");
  const down = () => {
    // The indicator tells the user the numbers may be stale.
    live.dataset.state = "down";
    live.textContent = "reconnecting…";
  };
  void (async () => {
    while (!controller.signal.aborted) {
      try {
        const headers = authHeaders();
        const response = await fetch("/api/events", {
          headers,
          credentials: "omit",
          signal: controller.signal,
        });
        if (response.status === 401) {
          forgetToken(headers.authorization?.replace(/^Bearer /, "") ?? null);
          showLogin();
          return;
        }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        live.dataset.state = "live";
        live.textContent = "live";
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replaceAll("\r\n", "\n");
          for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
            onEvent(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
        }
      } catch {
        if (controller.signal.aborted) return;
      }
      down();
      await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
    }
  })();
}

function showLogin(): void {
  events?.abort();
  events = null;
  byId("main").hidden = true;
  byId("login").hidden = false;
  byId("login-token").focus();
}

byId("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = byId<HTMLInputElement>("login-token").value;
  // A stale key in the header would be refused before the token is looked at.
  setToken(null);
  try {
    const { session } = await postJson<{ session?: string }>("/api/login", { token });
    setToken(session ?? null);
    byId("login").hidden = true;
    byId("main").hidden = false;
    void start();
  } catch (error) {
    setToken(null);
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

/**
 * The printed URL lands on `/#session=K` (see security.ts): keep the key, clear the address.
 * Keys are hex; anything else (a mangled link) is dropped, and the address is cleared
 * whatever it held, so a bad one never keeps the page from starting.
 */
function takeTokenFromAddress(): void {
  const match = location.hash.match(/^#session=(.*)$/);
  if (!match) return;
  history.replaceState(null, "", location.pathname + location.search);
  const key = match[1] ?? "";
  if (/^[0-9a-f]{16,128}$/.test(key)) setToken(key);
}

takeTokenFromAddress();
whenUnauthorized(showLogin);
window.addEventListener("hashchange", openFromHash);
setInterval(() => void refreshSlow(), SLOW_REFRESH_MS);
// Heartbeat ages tick between events.
setInterval(() => status && renderWorkers(byId("workers"), status.workers, statusAt), 1000);
void start();
