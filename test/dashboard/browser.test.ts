/**
 * The dashboard in a real headless Chromium (Debian's `chromium`, driven by playwright-core):
 * the printed URL signs the browser in (a session key in the page's origin storage, never the
 * token, never a cookie, and gone from the address bar); counts show; a queue is paused and resumed; a pending job is canceled; a dead job is
 * retried from its detail, becomes pending, then completed once a real `queuectl worker run`
 * process is started; a running job's output shows live; phone width and dark mode stay
 * usable. Screenshots go to test-artifacts/, and with QUEUECTL_UPDATE_DOCS_SCREENSHOT=1 the
 * overview also replaces docs/dashboard.png.
 *
 * A missing browser fails the test with the install command; it never skips silently.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { CLI_PATH, runCliJson, type TempHome, tempHome, waitFor } from "../helpers/cli.ts";
import { enqueue, openTestStore, seedShowcase } from "./fixtures.ts";
import { type RunningDashboard, startDashboard } from "./server.ts";

// Real processes on a busy two-core machine: generous, not the 5 s default.
setDefaultTimeout(60_000);

const CHROMIUM = "/usr/bin/chromium";
const ROOT = resolve(import.meta.dir, "../..");
const ARTIFACTS = join(ROOT, "test-artifacts");

let home: TempHome;
let dashboard: RunningDashboard;
let profile: string;
let context: BrowserContext;
let page: Page;
let worker: ReturnType<typeof Bun.spawn> | undefined;
const problems: string[] = [];
/** Refused requests the current step expects (the browser logs each as a console error). */
let expectedRefusal: RegExp | null = null;

async function text(selector: string): Promise<string | null> {
  return page
    .locator(selector)
    .first()
    .textContent({ timeout: 1000 })
    .catch(() => null);
}

/** Opens a job's detail the way a shared link does, once any earlier detail has closed. */
async function openJob(id: string): Promise<void> {
  await until("the earlier detail to close", () =>
    page.evaluate(() => !(document.getElementById("detail") as HTMLDialogElement).open),
  );
  await page.evaluate(
    (hash) => {
      location.hash = hash;
    },
    `#job=${encodeURIComponent(id)}`,
  );
  await until(`the detail of ${id}`, async () => (await text("#detail-title")) === id);
}

function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000) {
  return waitFor(check, { what, timeoutMs, intervalMs: 50 });
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `the dashboard browser test needs Chromium at ${CHROMIUM}; install it with: apt-get install -y chromium`,
    );
  }
  home = tempHome();
  const store = openTestStore(home.home);
  await seedShowcase(store, Date.now());
  await store.folderSyncRecord({
    folder: "/srv/app/jobs",
    target: "/srv/app/jobs",
    at: Date.now() - 4000,
    host: "build-1",
    pid: 777,
    by: "watch",
    files: 3,
    created: 0,
    updated: 1,
    canceled: 0,
    unchanged: 2,
    problems: 1,
    problemList: [{ file: "hourly.yaml", line: 3, column: 1, message: "`max_retry` is not a job field" }],
  });
  await store.close();
  dashboard = await startDashboard(home.env);
  profile = mkdtempSync(join(tmpdir(), "queuectl-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 1000 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  // The kill button asks first.
  page.on("dialog", (dialog) => void dialog.accept());
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    // A CSP violation or a failed request shows up here as an error.
    if (message.type() === "error" && !expectedRefusal?.test(message.text()))
      problems.push(`console: ${message.text()}`);
  });
  mkdirSync(ARTIFACTS, { recursive: true });
});

afterAll(async () => {
  // Lets a job still waiting on its gate end, so the worker's drain does not wait for it.
  if (home) writeFileSync(join(home.home, "live-gate"), "");
  if (worker) {
    worker.kill("SIGTERM");
    await worker.exited;
  }
  await context?.close();
  await dashboard?.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
  home?.cleanup();
});

describe("the dashboard in Chromium", () => {
  test("without the token it shows only the sign-in form; the printed URL signs in, with no cookie", async () => {
    expectedRefusal = /status of 401/;
    await page.goto(dashboard.origin);
    await until("the sign-in form", async () => await page.locator("#login").isVisible());
    expect(await page.locator("#main").isVisible()).toBe(false);
    expect(await text('[data-count="pending"] .n')).toBeNull();

    await page.goto(`${dashboard.origin}/?token=${dashboard.token}`);
    expectedRefusal = null;
    await until("the signed-in page", async () => await page.locator("#main").isVisible());
    expect(await page.locator("#login").isVisible()).toBe(false);
    // The token left the address bar, and no cookie holds it: browsers send a host's cookies
    // to every port, where another local user's server would receive it.
    expect(page.url()).toBe(`${dashboard.origin}/`);
    expect(await context.cookies()).toEqual([]);
    // What the page keeps is a session key of this server process, not the token itself.
    const kept = await page.evaluate(() => localStorage.getItem("queuectl-dashboard-session"));
    expect(kept).toMatch(/^[0-9a-f]{48}$/);
    expect(kept).not.toBe(dashboard.token);
  });

  test("loads and shows live counts, the chart, workers and jobfiles", async () => {
    await until("the count tiles", async () => (await text('[data-count="dead"] .n')) === "16");
    expect(await text('[data-count="pending"] .n')).toBe("9");
    await until(
      "the live indicator",
      async () => (await page.locator("#live").getAttribute("data-state")) === "live",
    );
    await until("the chart", async () => (await page.locator("#chart svg rect").count()) > 0);
    expect(await page.locator("#workers [data-worker]").count()).toBe(3);
    expect(await text("#sync summary")).toContain("jobs/hourly.yaml");
    const folder = await text('#sync [data-folder="/srv/app/jobs"]');
    expect(folder).toContain("by watch on build-1 (pid 777)");
    expect(folder).toContain("hourly.yaml:3:1: `max_retry` is not a job field");
    expect(folder).toContain("no watcher");
    await page.screenshot({ path: join(ARTIFACTS, "dashboard.png") });
    if (process.env.QUEUECTL_UPDATE_DOCS_SCREENSHOT === "1") {
      await page.screenshot({ path: join(ROOT, "docs", "dashboard.png") });
    }
  });

  test("filters and searches the job list", async () => {
    await page.fill("#filter-q", "deploy");
    await until("the search", async () => (await page.locator("#jobs tr[data-job]").count()) === 1);
    expect(await text("#jobs tr[data-job] td.id")).toBe("deploy-docs");
    await page.fill("#filter-q", "");
    await page.selectOption("#filter-state", "pending");
    await until("the state filter", async () => (await page.locator("#jobs tr[data-job]").count()) === 9);
    await page.selectOption("#filter-state", "");
    await until("all jobs", async () => (await text("#page-info")) === "1–25 of 185");
  });

  test("pauses and resumes a queue from the queues panel", async () => {
    const row = '#queues tr[data-queue="default"]';
    await until("the queues panel", async () => (await text(`${row} [data-queue-count="pending"]`)) === "9");
    expect(await text(`${row} [data-queue-state]`)).toBe("active");
    await page.click(`${row} button[data-queue-action="pause"]`);
    await until("the queue paused", async () => (await text(`${row} [data-queue-state]`)) === "paused");
    const paused = await runCliJson<{ name: string; paused: boolean }[]>(["queue", "list"], {
      env: home.env,
    });
    expect(paused.find((queue) => queue.name === "default")?.paused).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-queue-paused.png") });
    await page.click(`${row} button[data-queue-action="resume"]`);
    await until("the queue resumed", async () => (await text(`${row} [data-queue-state]`)) === "active");
    const resumed = await runCliJson<{ name: string; paused: boolean }[]>(["queue", "list"], {
      env: home.env,
    });
    expect(resumed.find((queue) => queue.name === "default")?.paused).toBe(false);
  });

  test("cancels a pending job from its detail", async () => {
    await openJob("thumbnail-6");
    await until(
      "the detail of thumbnail-6",
      async () => (await text("#detail-body [data-state]")) === "pending",
    );
    await page.click('#detail-body button[data-action="cancel"]');
    await until("thumbnail-6 canceled", async () => (await text("#detail-body [data-state]")) === "canceled");
    await until("the pending count to drop", async () => (await text('[data-count="pending"] .n')) === "8");
    const shown = await runCliJson<{ state: string }>(["show", "thumbnail-6"], { env: home.env });
    expect(shown.state).toBe("canceled");
    await page.click("#detail-close");
  });

  test("an answer that comes late never undoes a newer one in the open detail", async () => {
    await openJob("thumbnail-5");
    await until("thumbnail-5 pending", async () => (await text("#detail-body [data-state]")) === "pending");
    // Every state the detail shows from now on.
    await page.evaluate(() => {
      const shown: string[] = [];
      (window as unknown as { shownStates: string[] }).shownStates = shown;
      const body = document.getElementById("detail-body") as HTMLElement;
      new MutationObserver(() => {
        const state = body.querySelector("[data-state]")?.textContent;
        if (state) shown.push(state);
      }).observe(body, { subtree: true, childList: true, characterData: true });
    });
    // The next read of the job is answered as the job was then, but only after the cancel's own read.
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let held = false;
    let delivered = false;
    await page.route("**/api/jobs/thumbnail-5", async (route) => {
      if (held || route.request().method() !== "GET") return route.continue();
      held = true;
      const response = await route.fetch();
      await released;
      await route.fulfill({ response });
      delivered = true;
    });
    try {
      // A change elsewhere in the queue makes the page read the open job again.
      const store = openTestStore(home.home);
      await enqueue(store, { id: "nudge", command: "true" }, Date.now());
      await store.close();
      await until("the page to read thumbnail-5 again", async () => held);
      await page.click('#detail-body button[data-action="cancel"]');
      await until(
        "thumbnail-5 canceled",
        async () => (await text("#detail-body [data-state]")) === "canceled",
      );
      // What counts is what is shown after the newer answer: before it, a read that was not
      // held (a refresh of its own) may rightly have shown the job still pending.
      await page.evaluate(() => {
        (window as unknown as { shownStates: string[] }).shownStates.length = 0;
      });
      release();
      await until("the old answer delivered", async () => delivered);
      // Rendered, if at all, within moments of arriving: watched for two seconds.
      const shownPending = () =>
        page.evaluate(() => (window as unknown as { shownStates: string[] }).shownStates.includes("pending"));
      await expect(
        waitFor(shownPending, { what: "a stale pending", timeoutMs: 2000, intervalMs: 50 }),
      ).rejects.toThrow();
      expect(await text("#detail-body [data-state]")).toBe("canceled");
    } finally {
      release();
      await page.unroute("**/api/jobs/thumbnail-5");
      await page.click("#detail-close");
    }
  });

  test("retries a dead job from its detail and sees it pending, then completed by a worker", async () => {
    await page.click('tr[data-job="deploy-docs"] td.id a');
    await until(
      "the detail of deploy-docs",
      async () => (await text("#detail-body [data-state]")) === "dead",
    );
    expect(await text("#detail-body pre.log")).toContain("rsync: connection to docs.example.com refused");
    expect(await text('#detail-body tr[data-run="1"] [data-outcome]')).toBe("exit 2");
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-dead-job.png") });

    await page.click('#detail-body button[data-action="retry"]');
    await until("deploy-docs pending", async () => (await text("#detail-body [data-state]")) === "pending");
    await until("the dead count to drop", async () => (await text('[data-count="dead"] .n')) === "15");

    worker = Bun.spawn(["bun", CLI_PATH, "worker", "run"], {
      env: home.env,
      stdout: "ignore",
      stderr: "ignore",
    });
    const pid = worker.pid;
    await until("the worker running on the page", async () => {
      const rows = await page.locator("#workers [data-worker]").allTextContents();
      return rows.some((row) => row.includes(`pid ${pid} · running`));
    });
    await until(
      "deploy-docs completed",
      async () => (await text("#detail-body [data-state]")) === "completed",
    );
    await until(
      "the second attempt",
      async () => (await text('#detail-body tr[data-run="2"] [data-outcome]')) === "exit 0",
    );
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-after-retry.png") });
    await page.click("#detail-close");
  });

  test("shows a running job's output live, and its kill button stops it", async () => {
    const gate = join(home.home, "live-gate");
    const store = openTestStore(home.home);
    await enqueue(
      store,
      {
        id: "live-job",
        priority: 100,
        command: `echo compiling step 1; while [ ! -e '${gate}' ]; do sleep 0.05; done; echo all steps done`,
      },
      Date.now(),
    );
    await store.close();
    await openJob("live-job");
    await until(
      "the live output",
      async () => (await text('#detail-body pre[data-live="true"]'))?.includes("compiling step 1") ?? false,
      30_000,
    );
    // The output streams on its own; the state comes with the detail's next refresh.
    await until(
      "live-job processing",
      async () => (await text("#detail-body [data-state]")) === "processing",
    );
    expect(await text("#detail-body summary .live-tag")).toContain("live");
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-live-output.png") });

    // Kill stops the running job through its worker; the page follows it to canceled.
    await page.click('#detail-body button[data-action="kill"]');
    await until("live-job killed", async () => (await text("#detail-body [data-state]")) === "canceled");
    await until(
      "the output it printed before the kill",
      async () => (await text('#detail-body pre[data-live="false"]'))?.includes("compiling step 1") ?? false,
    );
  });

  test("a job opened right after another's detail closes keeps its detail and its address", async () => {
    const shows = (id: string) => async () =>
      (await text("#detail-body pre.spec"))?.includes(`"${id}"`) ?? false;
    await page.evaluate(() => (document.getElementById("detail") as HTMLDialogElement).close());
    await openJob("thumbnail-3");
    await until("thumbnail-3's detail", shows("thumbnail-3"));
    // The link is followed before the dialog's close event, which comes a moment after.
    await page.evaluate(() => {
      (document.getElementById("detail-close") as HTMLButtonElement).click();
      history.replaceState(null, "", "#job=thumbnail-4");
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    });
    await until("thumbnail-4's detail", shows("thumbnail-4"));
    expect(await text("#detail-title")).toBe("thumbnail-4");
    expect(new URL(page.url()).hash).toBe("#job=thumbnail-4");
    await page.click("#detail-close");
  });

  test("fits a phone screen and stays readable in dark mode", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.emulateMedia({ colorScheme: "dark" });
    await until(
      "the page at phone width",
      async () => (await page.locator("#jobs tr[data-job]").count()) > 0,
    );
    const layout = await page.evaluate(() => {
      const style = getComputedStyle(document.body.parentElement as HTMLElement);
      return {
        scrollWidth: document.documentElement.scrollWidth,
        background: style.backgroundColor,
        color: style.color,
      };
    });
    expect(layout.scrollWidth).toBeLessThanOrEqual(390);
    const luminance = (rgb: string) => {
      const [r = 0, g = 0, b = 0] = (rgb.match(/\d+/g) ?? []).map(Number);
      return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
    };
    expect(luminance(layout.background)).toBeLessThan(0.2);
    expect(luminance(layout.color)).toBeGreaterThan(0.7);
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-phone-dark.png"), fullPage: true });
  });

  test("logged no page errors, CSP violations or failed requests", () => {
    expect(problems).toEqual([]);
  });
});
