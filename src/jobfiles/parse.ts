/**
 * Reads one jobfile's text into normalized job specs. A file holds one job (a mapping), a
 * `jobs:` list, or a YAML stream of `---`-separated documents, each of which is a job or a
 * `jobs:` list. JSON files are checked as strict JSON first, then read through the same
 * YAML parser so that every problem can name its line, column and field.
 *
 * Identity: a file that declares exactly one job may leave `id` out; the id is then the
 * path without its extension (`nightly/backup.yaml` → `nightly/backup`). A file that
 * declares several jobs must give each one an `id`: a position-based id would silently
 * change when someone reorders the list, cancelling one job and queueing another.
 * A declaration with `matrix` stands for one job per combination (declaration.ts).
 *
 * YAML merge keys (`<<: *defaults`) bring in the fields of an anchored mapping that a job does
 * not write itself; such a mapping may sit beside `jobs:`, as CI configs keep theirs. A
 * field's problem points at where it is written, merged in or not.
 *
 * A file is all or nothing: any problem in it means none of its jobs is applied.
 */

import type { Node } from "yaml";
import { keyInMessage, oneLine } from "../core/errors.ts";
import { isNdjsonText, jsonErrorOffset } from "../core/json-text.ts";
import type { JobSpec } from "../core/spec.ts";
import {
  documentValue,
  keyText,
  mapPair,
  resolveNode,
  YamlAliasError,
  type YamlDocument,
  yamlLibrary as yaml,
} from "../core/yaml-aliases.ts";
import { firstLine, linePosition, readYaml, type TextPlace, yamlProblemText } from "../core/yaml-text.ts";
import { type MatrixOrigin, readDeclaration } from "./declaration.ts";
import { duplicateIdProblems, type IdPlace, type JobfileProblem } from "./problem.ts";

/**
 * The fields checked after parsing, across files (plan-dependencies.ts), whose places a
 * parse keeps. Only these: every parse of an unchanged file is kept in the read index, and
 * the places of all fields made up about a quarter of it.
 */
const LATER_CHECKED_FIELDS: ReadonlySet<string> = new Set(["after"]);

/** Larger files are refused unread: a jobfile is a handful of lines. */
export const MAX_JOBFILE_BYTES = 1024 * 1024;
export type Place = TextPlace;

export interface ParsedJob extends Place {
  spec: JobSpec;
  /** Where the job declares its id (or where the job starts when the id comes from the path). */
  line: number;
  column: number;
  /**
   * Where the fields that problems found later point at (LATER_CHECKED_FIELDS: an unknown
   * `after` id) are written.
   */
  fields: Record<string, Place>;
  /** The declaration and values of a job made by a `matrix`; absent otherwise. */
  matrix?: MatrixOrigin;
}

export interface ParsedJobfile {
  /** Empty whenever `problems` is not: a file is applied whole or not at all. */
  jobs: ParsedJob[];
  problems: JobfileProblem[];
  /** Ids the file declares as far as they could be read, even when it has problems. */
  knownIds: string[];
}

const EXTENSION = /\.(ya?ml|json)$/i;
/** Editors find a JSON file's schema through this top-level key; it is not a job field. */
const SCHEMA_KEY = "$schema";

export function idFromPath(rel: string): string {
  return rel.replace(EXTENSION, "");
}

interface Entry {
  node: Node | null;
  value: unknown;
  offset: number;
  doc: YamlDocument;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function offsetOf(node: unknown): number {
  return (node as Node | null)?.range?.[0] ?? 0;
}

/**
 * Offset of the key that holds `field` (`env.HOME` walks into `env`), or null when absent.
 * A merged field's key is in the mapping it was merged from.
 */
function fieldOffset(node: Node | null, field: string, doc: YamlDocument): number | null {
  let current: unknown = node;
  let found: number | null = null;
  for (const part of field.split(".")) {
    if (!yaml().isMap(current)) break;
    const pair = mapPair(current, part, doc);
    if (!pair) break;
    found = offsetOf(pair.key);
    current = resolveNode(pair.value, doc);
  }
  return found;
}

/**
 * The first line that git writes around a conflict it left for the user (`<<<<<<< HEAD`,
 * `|||||||`, `=======`, `>>>>>>> branch`), when the text holds a conflict's start or end.
 * Read as YAML, one conflict made half a dozen errors that said nothing of its cause.
 */
function conflictMarkerOffset(text: string): number | null {
  if (!/^(?:<{7}|>{7})(?: |\r?$)/m.test(text)) return null;
  return /^(?:<{7}|\|{7}|={7}|>{7})(?: |\r?$)/m.exec(text)?.index ?? null;
}

/**
 * A hint's example as a YAML file writes it: the spec's checks speak JSON (`e.g. "command":
 * "echo hello"`), which is valid YAML too, but a YAML user writes the key bare.
 */
function yamlHint(hint: string): string {
  return hint.replace(/\be\.g\. "([A-Za-z_$][\w$]*)": /g, "e.g. $1: ");
}

/** The YAML parser's words for what a JSON file breaks, in JSON's terms. */
function jsonWording(message: string): string {
  return message === "Map keys must be unique" ? "an object's keys must be unique" : message;
}

/** Whether a key beside `jobs:` only holds what jobs merge or alias: its value has an anchor. */
function isAnchored(node: unknown): boolean {
  return yaml().isNode(node) && Boolean(node.anchor);
}

export function parseJobfile(text: string, rel: string): ParsedJobfile {
  const result: ParsedJobfile = { jobs: [], problems: [], knownIds: [] };
  // Counted by hand until the YAML is read, then by the parser's line counter.
  let place = (offset: number): Place => linePosition(text, offset);
  const reported = new Set<string>();
  const report = (offset: number, field: string | null, message: string, hint: string) => {
    // Jobs that merge one mapping share its problems, at one place: each is said once.
    const key = JSON.stringify([offset, field, message]);
    if (reported.has(key)) return;
    reported.add(key);
    // Every message is one line, as a UserError's: a key may hold a CR or a newline.
    result.problems.push({
      file: rel,
      ...place(offset),
      field,
      message: oneLine(message),
      hint: oneLine(hint),
    });
  };
  const done = () => {
    if (result.problems.length > 0) result.jobs = [];
    result.problems.sort((a, b) => a.line - b.line || a.column - b.column);
    return result;
  };

  if (text.includes("\0")) {
    report(
      text.indexOf("\0"),
      null,
      "is not a text file (it contains NUL bytes)",
      "jobfiles are YAML or JSON text",
    );
    return done();
  }
  const conflictAt = conflictMarkerOffset(text);
  if (conflictAt !== null) {
    report(
      conflictAt,
      null,
      "has an unresolved git merge conflict",
      "resolve it (e.g. `git mergetool`, or edit the file and `git add` it); until then the jobs it declared stay as they are",
    );
    return done();
  }
  const isJson = /\.json$/i.test(rel);
  if (isJson) {
    const bom = text.startsWith("\uFEFF") ? 1 : 0;
    try {
      JSON.parse(text.slice(bom));
    } catch (error) {
      if (isNdjsonText(text.slice(bom))) {
        report(
          bom,
          null,
          "holds one JSON job per line (NDJSON), and a jobfile is one JSON document",
          'put the jobs in one object under "jobs" ({"jobs": [{…}, {…}]}, each with its own "id"), or give each its own file; until then the jobs it declared stay as they are',
        );
        return done();
      }
      const offset = (jsonErrorOffset(text.slice(bom)) ?? 0) + bom;
      report(
        offset,
        null,
        `invalid JSON (${firstLine((error as Error).message).replace(/^JSON Parse error: /, "")})`,
        "fix the syntax; until then the jobs it declared stay as they are",
      );
      return done();
    }
  }

  // Numbers as YAML reads them (`id: 007` is job "7"): see NumbersAsWritten for why.
  const yamlText = readYaml(text, { numbersAsWritten: "none" });
  place = yamlText.place;
  const docs = yamlText.documents;
  // Every syntax problem of every document, so one round of fixes can clear them all. A JSON
  // file is read by the YAML parser too, for places, but what it breaks is JSON's rules.
  const placed = new Set<number>();
  for (const problem of [...yamlText.errors, ...yamlText.warnings]) {
    // The parser may say one mistake twice, in other words, at the same place: once is enough.
    if (placed.has(problem.offset)) continue;
    placed.add(problem.offset);
    report(
      problem.offset,
      null,
      isJson ? `invalid JSON (${jsonWording(problem.message)})` : yamlProblemText(problem),
      `${problem.fix ?? "fix the syntax"}; until then the jobs it declared stay as they are`,
    );
  }
  if (result.problems.length > 0) return done();

  const entries: Entry[] = [];
  let sawContent = false;
  for (const doc of docs) {
    const root = doc.contents;
    // `---` with nothing after it is an empty document, not a job.
    if (root === null || (yaml().isScalar(root) && root.value === null)) continue;
    sawContent = true;
    let value: unknown;
    try {
      value = documentValue(doc);
    } catch (error) {
      const alias = error instanceof YamlAliasError ? error : null;
      report(
        alias?.offset ?? offsetOf(root),
        null,
        `cannot be read: ${firstLine((error as Error).message)}`,
        alias?.hint ?? "fix the YAML; until then the jobs it declared stay as they are",
      );
      return done();
    }
    const schemaPair = yaml().isMap(root)
      ? root.items.find((pair) => keyText(pair.key) === SCHEMA_KEY)
      : undefined;
    if (schemaPair && isPlainObject(value)) {
      if (typeof value[SCHEMA_KEY] !== "string") {
        report(
          offsetOf(schemaPair.key),
          SCHEMA_KEY,
          "`$schema` must be the path or URL of the JSON Schema",
          'e.g. "$schema": "../schema/jobfile.schema.json"',
        );
      }
      value = Object.fromEntries(Object.entries(value).filter(([key]) => key !== SCHEMA_KEY));
    }
    if (yaml().isMap(root) && root.has("jobs")) {
      for (const pair of root.items) {
        const key = keyText(pair.key);
        if (key !== "jobs" && key !== SCHEMA_KEY && !isAnchored(pair.value))
          report(
            offsetOf(pair.key),
            key,
            `${keyInMessage(key)} cannot sit next to \`jobs:\``,
            "move it into each job, or declare a single job without `jobs:`",
          );
      }
      const list = root.get("jobs", true);
      const values = (value as { jobs: unknown }).jobs;
      if (!yaml().isSeq(list) || !Array.isArray(values)) {
        report(
          offsetOf(list ?? root),
          "jobs",
          "`jobs` must be a list of jobs",
          "write each job as a `- command: …` item, or `jobs: []` for none",
        );
        continue;
      }
      list.items.forEach((item, index) => {
        entries.push({
          node: resolveNode(item, doc) as Node,
          value: values[index],
          offset: offsetOf(item),
          doc,
        });
      });
    } else if (yaml().isMap(root)) {
      entries.push({ node: root, value, offset: offsetOf(root), doc });
    } else if (yaml().isSeq(root)) {
      report(
        offsetOf(root),
        null,
        "a jobfile holds one job or a `jobs:` list, not a bare list",
        "put the list under `jobs:`",
      );
    } else {
      report(
        offsetOf(root),
        null,
        "a jobfile must hold a job (a mapping of fields)",
        "e.g. `command: echo hello`",
      );
    }
  }
  if (!sawContent) {
    report(
      0,
      null,
      "holds no jobs",
      "add a job such as `command: echo hello`, or write `jobs: []` to declare none",
    );
    return done();
  }

  const pathId = idFromPath(rel);
  const several = entries.length > 1;
  const idPlaces: IdPlace[] = [];
  for (const entry of entries) {
    const doc = entry.doc;
    if (!isPlainObject(entry.value)) {
      report(entry.offset, null, "a job must be a mapping of fields", "e.g. `command: echo hello`");
      continue;
    }
    const givenId = entry.value.id;
    const idAt = place(fieldOffset(entry.node, "id", doc) ?? entry.offset);
    const declared = readDeclaration(entry.value, pathId);
    if (declared.matrixIds) {
      result.knownIds.push(...declared.matrixIds);
      idPlaces.push(...declared.matrixIds.map((id) => ({ id, file: rel, ...idAt })));
    } else if (typeof givenId === "string" || typeof givenId === "number") {
      result.knownIds.push(String(givenId));
      idPlaces.push({ id: String(givenId), file: rel, ...idAt });
    } else if (!several) result.knownIds.push(pathId);
    if (several && givenId === undefined) {
      report(
        entry.offset,
        "id",
        "`id` is required when a file declares several jobs",
        "give each job its own `id`, unique across the folder",
      );
      continue;
    }
    for (const problem of declared.problems) {
      const field = problem.field;
      const offset = (field === null ? null : fieldOffset(entry.node, field, doc)) ?? entry.offset;
      report(offset, field, problem.message, isJson ? problem.hint : yamlHint(problem.hint));
    }
    if (declared.problems.length > 0) continue;
    const fields: Record<string, Place> = {};
    for (const field of LATER_CHECKED_FIELDS) {
      const offset = field in entry.value ? fieldOffset(entry.node, field, doc) : null;
      if (offset !== null) fields[field] = place(offset);
    }
    for (const { spec, matrix } of declared.specs)
      result.jobs.push({ spec, ...idAt, fields, ...(matrix ? { matrix } : {}) });
  }
  // A file without other problems gets this from the planner, which sees every file's ids.
  if (result.problems.length > 0) result.problems.push(...duplicateIdProblems(idPlaces));
  return done();
}
