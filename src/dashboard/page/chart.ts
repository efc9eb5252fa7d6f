/// <reference lib="dom" />
/**
 * Jobs finished per minute as an inline SVG: completions stacked under failures, so a
 * rising red cap reads as "things are failing" at a glance. No chart library needed.
 */

import { el, svg } from "./dom.ts";
import type { ThroughputJson } from "./types.ts";

const WIDTH = 600;
const HEIGHT = 160;
const LEFT = 30;
const BOTTOM = 18;

export function renderChart(container: HTMLElement, data: ThroughputJson): void {
  const buckets = data.buckets;
  const peak = Math.max(1, ...buckets.map((b) => b.completed + b.failed));
  const plotWidth = WIDTH - LEFT;
  const plotHeight = HEIGHT - BOTTOM;
  const slot = plotWidth / Math.max(1, buckets.length);
  const scale = (n: number) => (n / peak) * (plotHeight - 6);
  const total = buckets.reduce((sum, b) => sum + b.completed + b.failed, 0);
  const failed = buckets.reduce((sum, b) => sum + b.failed, 0);

  const chart = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: "img",
    "aria-label": `${total} jobs finished in the last ${buckets.length} minutes, ${failed} of them failed`,
  });
  chart.append(
    svg("line", { class: "axis", x1: LEFT, y1: plotHeight, x2: WIDTH, y2: plotHeight }),
    svg("text", { x: LEFT - 4, y: 10, "text-anchor": "end" }, String(peak)),
    svg("text", { x: LEFT - 4, y: plotHeight, "text-anchor": "end" }, "0"),
  );
  buckets.forEach((bucket, i) => {
    const x = LEFT + i * slot + slot * 0.15;
    const width = Math.max(1, slot * 0.7);
    const okHeight = scale(bucket.completed);
    const failHeight = scale(bucket.failed);
    const minute = new Date(bucket.start).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    if (bucket.completed > 0) {
      const bar = svg("rect", { class: "ok", x, y: plotHeight - okHeight, width, height: okHeight });
      bar.append(svg("title", {}, `${minute}: ${bucket.completed} completed`));
      chart.append(bar);
    }
    if (bucket.failed > 0) {
      const bar = svg("rect", {
        class: "fail",
        x,
        y: plotHeight - okHeight - failHeight,
        width,
        height: failHeight,
      });
      bar.append(svg("title", {}, `${minute}: ${bucket.failed} failed`));
      chart.append(bar);
    }
    if (i % 15 === 0 || i === buckets.length - 1) {
      chart.append(svg("text", { x: x + width / 2, y: HEIGHT - 4, "text-anchor": "middle" }, minute));
    }
  });
  container.replaceChildren(
    chart,
    el(
      "div",
      { class: "legend" },
      el("span", {}, el("span", { class: "swatch ok-swatch" }), `completed ${total - failed}`),
      el("span", {}, el("span", { class: "swatch fail-swatch" }), `failed ${failed}`),
    ),
  );
}
