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

import { lstat, readFile, realpath, stat } from "node:fs/promises";
import { join } from "node:path";
import { nearestName, UserError } from "../core/errors.ts";
import { QUEUE_NAME_PATTERN } from "../core/spec-fields.ts";
import { encodingOf } from "../core/text-lines.ts";
import { documentValue, YamlAliasError } from "../core/yaml-aliases.ts";
import { firstLine, invalidYamlMessage, readYaml } from "../core/yaml-text.ts";
import { MAX_JOBFILE_BYTES } from "./parse.ts";
import { isInside, unreachableFolder } from "./scan.ts";

export const SETTINGS_FILE = ".queuectl.yaml";
// A namespace is named like a queue, so the two cannot drift apart.
const NAMESPACE = new RegExp(QUEUE_NAME_PATTERN);

export interface FolderSettings {
  namespace: string | null;
}

const FIX =
  "write `namespace: NAME` (letters, digits, `.`, `_`, `-`), or remove the file; nothing was applied";

/** The keys a `.queuectl.yaml` may hold. */
const FOLDER_SETTINGS = ["namespace"];

function invalid(path: string, message: string): UserError {
  return new UserError(`${path}: ${message}`, FIX);
}

/**
 * Reads the folder's settings; a missing file means none. Throws a UserError when it is
 * invalid, and when the folder itself is gone: its namespace is then unknown, not none.
 */
export async function readFolderSettings(root: string): Promise<FolderSettings> {
  const path = join(root, SETTINGS_FILE);
  let text: string;
  // Refused before the entry is found, it is the folder's doing (it may not be searched);
  // after, the file's or its link's.
  let found = false;
  try {
    const entry = await lstat(path);
    found = true;
    // As a jobfile: a link is followed only while it stays inside the folder.
    if (entry.isSymbolicLink()) await refuseLinkOutside(root, path);
    // A named pipe would block the read until something writes to it, a device never end.
    const stats = await stat(path);
    if (stats.isDirectory()) throw invalid(path, "is a folder, not a file");
    if (!stats.isFile()) throw invalid(path, "is not a regular file (a named pipe, a device or a socket)");
    if (stats.size > MAX_JOBFILE_BYTES) throw invalid(path, `is larger than ${MAX_JOBFILE_BYTES / 1024} KiB`);
    const bytes = await readFile(path);
    // As jobfiles are read (read.ts): a byte-order mark picks UTF-16.
    const encoding = encodingOf(bytes);
    try {
      text = new TextDecoder(encoding, { fatal: true }).decode(bytes);
    } catch {
      throw invalid(path, `is not ${encoding.toUpperCase()} text`);
    }
  } catch (error) {
    if (error instanceof UserError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && (await isFolder(root))) {
      await refuseMisnamedSettings(root);
      return { namespace: null };
    }
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new UserError(
        `the jobs folder ${root} does not exist`,
        "nothing was applied; sync it again once it is back",
      );
    }
    if (code === "EACCES" || code === "EPERM") {
      if (!found) throw unreachableFolder(root, error);
      throw new UserError(`${path}: cannot be read (${code})`, "check its permissions; nothing was applied");
    }
    throw invalid(path, `cannot be read (${code ?? "error"})`);
  }
  // Beside the real one too: which of the two a user edits is not for us to guess.
  await refuseMisnamedSettings(root);
  const value = settingsValue(text, path);
  if (value === null || value === undefined) return { namespace: null };
  if (typeof value !== "object" || Array.isArray(value)) throw invalid(path, "must be a mapping");
  const settings = value as Record<string, unknown>;
  const unknown = Object.keys(settings).filter((key) => !FOLDER_SETTINGS.includes(key));
  if (unknown.length > 0) {
    const key = unknown[0] as string;
    const nearest = nearestName(key, FOLDER_SETTINGS);
    throw invalid(
      path,
      `\`${key}\` is not a folder setting${nearest ? ` (did you mean \`${nearest}\`?)` : ""}`,
    );
  }
  const namespace = settings.namespace;
  if (namespace === undefined || namespace === null) return { namespace: null };
  // `true`, `false` (numbers are read as written, see settingsValue): quoting makes them names.
  if (typeof namespace === "boolean") {
    throw new UserError(
      `${path}: namespace ${namespace} is read as a yes/no value, not a name`,
      `quote it (\`namespace: "${namespace}"\`), or remove the file; nothing was applied`,
    );
  }
  if (typeof namespace !== "string" || !NAMESPACE.test(namespace)) {
    throw invalid(path, `namespace ${JSON.stringify(namespace)} is not a valid name`);
  }
  return { namespace };
}

/** A link that leads outside the folder, or nowhere, is refused unread: its namespace is unknown. */
async function refuseLinkOutside(root: string, path: string): Promise<void> {
  let real: string;
  try {
    real = await realpath(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "error";
    throw invalid(path, `is a symlink that cannot be followed (${code})`);
  }
  if (!isInside(await realpath(root), real)) {
    throw new UserError(
      `${path}: is a symlink that leads outside the jobs folder, so it is not followed`,
      "copy the file into the folder instead; nothing was applied",
    );
  }
}

/**
 * Names a user may give the settings file by analogy with jobfiles (`.yml`, `.json`), which
 * would otherwise be skipped as dotfiles: the namespace would silently not apply.
 */
const MISNAMED_SETTINGS = [".queuectl.yml", ".queuectl.json"];

async function refuseMisnamedSettings(root: string): Promise<void> {
  for (const name of MISNAMED_SETTINGS) {
    const path = join(root, name);
    if (await exists(path)) {
      throw new UserError(
        `${path} is not read: the folder's settings file is named ${SETTINGS_FILE}`,
        `rename it to ${join(root, SETTINGS_FILE)} (YAML); nothing was applied`,
      );
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function isFolder(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The one document of the file. Refused like a jobfile: on a syntax error, on what the YAML
 * library would only warn about (an unknown `!tag`), and on a second `---` document.
 */
function settingsValue(text: string, path: string): unknown {
  // A namespace is a name: `namespace: 2024` is "2024", and `1.10` must not become "1.1".
  const yaml = readYaml(text, { numbersAsWritten: "settings" });
  const problem = yaml.errors[0] ?? yaml.warnings[0];
  if (problem !== undefined) {
    throw new UserError(invalidYamlMessage(path, problem), FIX);
  }
  const documents = yaml.documents.filter((doc) => doc.contents !== null);
  if (documents.length > 1) throw invalid(path, "must hold one YAML document, not several");
  const [document] = documents;
  if (document === undefined) return null;
  try {
    return documentValue(document);
  } catch (error) {
    if (!(error instanceof YamlAliasError))
      throw invalid(path, `cannot be read: ${firstLine((error as Error).message)}`);
    const { line, column } = yaml.place(error.offset);
    throw new UserError(`${path}:${line}:${column}: ${error.message}`, `${error.hint}; nothing was applied`);
  }
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
