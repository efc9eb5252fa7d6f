/**
 * The page's static files. The TypeScript is bundled once at start-up with Bun.build, in
 * memory, so there is no build step and no generated file to commit; serving the results
 * ourselves (rather than through an HTML import) lets every answer carry our CSP. The
 * binary `bun run build` makes carries them built ahead (build-binary.ts).
 */

import { join } from "node:path";
import { SOURCE_DIR } from "../cli-self.ts";
import { runtimeError } from "../core/errors.ts";

const PAGE_DIR = join(SOURCE_DIR, "dashboard", "page");

/**
 * Scripts and styles come only from this server; no inline script, no frames, and data
 * only from our own API. Job output is shown as text, never as HTML, which the CSP backs up.
 */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export interface Asset {
  body: string;
  type: string;
}

const STATIC_FILES: [path: string, file: string, type: string][] = [
  ["/", "index.html", "text/html; charset=utf-8"],
  ["/theme.css", "theme.css", "text/css; charset=utf-8"],
  ["/panels.css", "panels.css", "text/css; charset=utf-8"],
  ["/jobs.css", "jobs.css", "text/css; charset=utf-8"],
];

async function bundleScript(): Promise<string> {
  let detail = "no output";
  try {
    const build = await Bun.build({
      entrypoints: [join(PAGE_DIR, "app.ts")],
      target: "browser",
      minify: true,
    });
    const script = build.outputs[0];
    if (build.success && script) return await script.text();
    detail = build.logs.map((log) => String(log.message)).join("; ");
  } catch (error) {
    detail = error instanceof Error ? error.message : String(error);
  }
  throw runtimeError(
    `the dashboard's page failed to build: ${detail}`,
    "this is a bug in queuectl; report it",
  );
}

/** The page as `bun run build` built it into the binary (JSON of path → Asset); absent when running the sources. */
declare const QUEUECTL_PAGE: string | undefined;

export async function buildAssets(): Promise<Map<string, Asset>> {
  if (typeof QUEUECTL_PAGE === "string")
    return new Map(Object.entries(JSON.parse(QUEUECTL_PAGE) as Record<string, Asset>));
  const assets = new Map<string, Asset>([
    ["/app.js", { body: await bundleScript(), type: "text/javascript; charset=utf-8" }],
  ]);
  for (const [path, file, type] of STATIC_FILES) {
    assets.set(path, { body: await Bun.file(join(PAGE_DIR, file)).text(), type });
  }
  return assets;
}

export function serveAsset(asset: Asset): Response {
  return new Response(asset.body, {
    headers: { "content-type": asset.type, "content-security-policy": CSP, "cache-control": "no-cache" },
  });
}
