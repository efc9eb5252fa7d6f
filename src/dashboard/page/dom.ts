/// <reference lib="dom" />
/**
 * The page's few DOM helpers. Every piece of queue data enters the page as text
 * (textContent or an attribute), never as HTML, so ids, commands and job output cannot
 * inject markup.
 */

type Child = Node | string | null | undefined | false;

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes))
    if (value !== undefined) node.setAttribute(name, value);
  for (const child of children)
    if (child !== null && child !== undefined && child !== false) node.append(child);
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function svg(tag: string, attributes: Record<string, string | number>, text?: string): SVGElement {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node as SVGElement;
}

/** A short, human duration: "850 ms", "12 s", "4 min", "3 h", "2 d". */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 86_400_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / 86_400_000).toFixed(1)} d`;
}

/** "3 min ago", or "in 2 s" for the future. */
export function relative(isoTime: string | null, now = Date.now()): string {
  if (isoTime === null) return "—";
  const delta = now - Date.parse(isoTime);
  return delta >= 0 ? `${duration(delta)} ago` : `in ${duration(-delta)}`;
}

export function stateBadge(state: string): HTMLElement {
  return el("span", { class: `state state-${state}`, "data-state": state }, state);
}

let toastTimer: ReturnType<typeof setTimeout> | undefined;

export function toast(message: string): void {
  const box = byId("toast");
  box.textContent = message;
  box.classList.add("shown");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => box.classList.remove("shown"), 4000);
}
