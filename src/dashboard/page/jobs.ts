/// <reference lib="dom" />
/**
 * The job list: state and tag filters, an id search, and newest-first paging. Each page
 * asks for one job more than it shows, which says whether an older page exists without
 * counting a 100k-row table on every keystroke.
 */

import { getJson } from "./client.ts";
import { byId, el, relative, stateBadge } from "./dom.ts";
import type { JobJson, StateCounts } from "./types.ts";

const PAGE_SIZE = 25;
/** Typing pauses this long before the search runs, in ms. */
const SEARCH_DELAY_MS = 250;

export interface Filters {
  state: string;
  tag: string;
  q: string;
}

export class JobList {
  readonly filters: Filters = { state: "", tag: "", q: "" };
  private offset = 0;
  private hasMore = false;
  private shown = 0;
  private counts: StateCounts | null = null;
  /** Answers can arrive out of order; only the newest request may render. */
  private generation = 0;

  constructor(
    private readonly onOpen: (id: string) => void,
    private readonly onFiltersChange: () => void,
  ) {
    const state = byId<HTMLSelectElement>("filter-state");
    const tag = byId<HTMLInputElement>("filter-tag");
    const q = byId<HTMLInputElement>("filter-q");
    state.addEventListener("change", () => this.setFilters({ state: state.value }));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const typed = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () => this.setFilters({ tag: tag.value.trim(), q: q.value.trim() }),
        SEARCH_DELAY_MS,
      );
    };
    tag.addEventListener("input", typed);
    q.addEventListener("input", typed);
    byId("filters").addEventListener("submit", (event) => event.preventDefault());
    byId("prev").addEventListener("click", () => this.page(-1));
    byId("next").addEventListener("click", () => this.page(1));
  }

  setFilters(change: Partial<Filters>): void {
    Object.assign(this.filters, change);
    byId<HTMLSelectElement>("filter-state").value = this.filters.state;
    this.offset = 0;
    this.onFiltersChange();
    void this.refresh();
  }

  /** Counts from the last status event give the total when only a state filter applies. */
  setCounts(counts: StateCounts): void {
    this.counts = counts;
    this.renderPager();
  }

  private page(direction: 1 | -1): void {
    if (direction === 1 && !this.hasMore) return;
    this.offset = Math.max(0, this.offset + direction * PAGE_SIZE);
    void this.refresh();
  }

  async refresh(): Promise<void> {
    const generation = ++this.generation;
    const query = new URLSearchParams({ limit: String(PAGE_SIZE + 1), offset: String(this.offset) });
    for (const [name, value] of Object.entries(this.filters)) if (value) query.set(name, value);
    const jobs = await getJson<JobJson[]>(`/api/jobs?${query}`);
    if (generation !== this.generation) return;
    if (jobs.length === 0 && this.offset > 0) {
      // The page emptied under us (jobs moved state); step back rather than show nothing.
      this.offset = Math.max(0, this.offset - PAGE_SIZE);
      return this.refresh();
    }
    this.hasMore = jobs.length > PAGE_SIZE;
    const page = jobs.slice(0, PAGE_SIZE);
    this.shown = page.length;
    this.render(page);
  }

  private render(jobs: JobJson[]): void {
    const body = byId("jobs");
    if (jobs.length === 0) {
      const filtered = Object.values(this.filters).some(Boolean);
      body.replaceChildren(
        el(
          "tr",
          {},
          el("td", { colspan: "6", class: "empty" }, filtered ? "No job matches." : "The queue is empty."),
        ),
      );
    } else {
      const now = Date.now();
      body.replaceChildren(...jobs.map((job) => this.row(job, now)));
    }
    this.renderPager();
  }

  private row(job: JobJson, now: number): HTMLTableRowElement {
    const link = el("a", { href: `#job=${encodeURIComponent(job.id)}`, title: job.id }, job.id);
    link.addEventListener("click", (event) => {
      event.preventDefault();
      this.onOpen(job.id);
    });
    return el(
      "tr",
      { "data-job": job.id },
      el("td", { class: "id" }, link),
      el(
        "td",
        {},
        stateBadge(job.state),
        job.progress_pct === null
          ? ""
          : el("span", { class: "progress", title: job.progress_message ?? "" }, ` ${job.progress_pct}%`),
      ),
      el("td", { class: "wide" }, `${job.attempts}/${job.max_retries + 1}`),
      el("td", { class: "wide" }, job.queue),
      el("td", { class: "wide" }, job.tags.join(", ")),
      el("td", { title: job.updated_at ?? "" }, relative(job.updated_at, now)),
    );
  }

  private renderPager(): void {
    const { state, tag, q } = this.filters;
    const total = this.counts && !tag && !q ? this.counts[(state || "total") as keyof StateCounts] : null;
    const first = this.shown === 0 ? 0 : this.offset + 1;
    const last = this.offset + this.shown;
    byId("page-info").textContent =
      total === null ? `${first}–${last}` : `${first}–${last} of ${total.toLocaleString("en")}`;
    byId<HTMLButtonElement>("prev").disabled = this.offset === 0;
    byId<HTMLButtonElement>("next").disabled = !this.hasMore;
  }
}
