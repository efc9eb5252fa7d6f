/**
 * A jobs folder's own settings, in `<folder>/.queuectl.yaml` (a dotfile, so never read as a
 * jobfile). Today it holds one key:
 *
 *   namespace: teamA    # default: none
 *
 * A namespace prefixes every id the folder declares (`build` becomes `teamA/build`), and the
 * `after` entries that name the folder's own jobs, so two repos that both have a `build`
 * job can share one store. Changing it gives every job of the folder a new id.
 */

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { UserError } from "../core/errors.ts";

export const SETTINGS_FILE = ".queuectl.yaml";
const NAMESPACE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface FolderSettings {
  namespace: string | null;
}

function invalid(path: string, message: string): UserError {
  return new UserError(
    `${path}: ${message}`,
    "write `namespace: NAME` (letters, digits, `.`, `_`, `-`), or remove the file; nothing was applied",
  );
}

/** Reads the folder's settings; a missing file means none. Throws a UserError when it is invalid. */
export async function readFolderSettings(root: string): Promise<FolderSettings> {
  const path = join(root, SETTINGS_FILE);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { namespace: null };
    throw invalid(path, `cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
  // Loaded here, not at the top: most folders have no settings file, and the library costs ~20 ms to load.
  const yaml = require("yaml") as typeof import("yaml");
  let value: unknown;
  try {
    value = yaml.parse(text);
  } catch (error) {
    throw invalid(path, `invalid YAML (${String((error as Error).message).split("\n")[0]})`);
  }
  if (value === null || value === undefined) return { namespace: null };
  if (typeof value !== "object" || Array.isArray(value)) throw invalid(path, "must be a mapping");
  const settings = value as Record<string, unknown>;
  const unknown = Object.keys(settings).filter((key) => key !== "namespace");
  if (unknown.length > 0) throw invalid(path, `\`${unknown[0]}\` is not a folder setting`);
  const namespace = settings.namespace;
  if (namespace === undefined || namespace === null) return { namespace: null };
  if (typeof namespace !== "string" || !NAMESPACE.test(namespace)) {
    throw invalid(path, `namespace ${JSON.stringify(namespace)} is not a valid name`);
  }
  return { namespace };
}

/** How a folder's ids become store ids: its namespace, and the ids its own files declare. */
export interface FolderNaming {
  namespace: string | null;
  /** Ids as the folder's files give them; an `after` entry naming one takes the namespace too. */
  folderIds: ReadonlySet<string>;
}

export const NO_NAMESPACE: FolderNaming = { namespace: null, folderIds: new Set() };

/** An id as the store knows it: the namespace, a slash, the id the jobfile gives. */
export function namespaced(namespace: string | null, id: string): string {
  return namespace === null ? id : `${namespace}/${id}`;
}
