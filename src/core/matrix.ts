/**
 * Matrix jobs: one jobfile declaration with `matrix: {region: [eu, us], size: [s, m]}`
 * becomes one job per combination of values (the cartesian product, as GitHub Actions
 * builds it), with `${{ matrix.KEY }}` replaced in every string value of the declaration.
 * A pure function of the declaration: no clock, no I/O, the same answer every sync.
 *
 * What must hold: an expanded job's id depends only on the declaration and its own values,
 * never on the other combinations or on the order keys are written in, so each expanded
 * job keeps its identity (and its revision history) while other cells come and go.
 *
 * - Ids: an `id` that uses placeholders is the id of each job after substitution. Any other
 *   id (or the id from the file's path) gets `-` and the values of the matrix's list keys
 *   appended, in alphabetical order of the keys: `build` → `build-eu-s`. Values that
 *   `include` adds to a combination are left out of the suffix, so adding one does not
 *   rename the job. A matrix of `include` entries only uses each entry's values.
 * - `exclude`: combinations that match every key/value of an entry are dropped.
 * - `include`: an entry whose values agree with a combination's list values adds its other
 *   values to every such combination; an entry that agrees with none is a new combination.
 * - A placeholder naming a key some combinations lack becomes "" in those, as in GitHub
 *   Actions; one naming a key no combination has is an error. A string that is nothing but
 *   one placeholder takes the value as it is, so `max_retries: ${{ matrix.retries }}` stays
 *   a number. Map keys (env names) are not substituted.
 */

import { suggestion } from "./errors.ts";

export type MatrixValue = string | number | boolean;
/** One combination: a value per key. */
export type MatrixCell = Record<string, MatrixValue>;

/** Jobs one declaration may make: the product of its lists plus its `include` entries, before `exclude`. */
export const MAX_MATRIX_JOBS = 256;
/** Keys are names a placeholder can spell and a problem's field path (`matrix.region`) can hold. */
export const MATRIX_KEY_PATTERN = "^[A-Za-z_][A-Za-z0-9_-]*$";
const MATRIX_KEY = new RegExp(MATRIX_KEY_PATTERN);
const PLACEHOLDER = /\$\{\{\s*matrix\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}/g;
const WHOLE_PLACEHOLDER = /^\$\{\{\s*matrix\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}$/;
const EXAMPLE = "e.g. matrix: {region: [eu, us]}";

/** A matrix problem, located by its field path (`matrix.region`, `command`, `env.MODE`). */
export interface MatrixProblem {
  field: string;
  message: string;
  hint: string;
}

export interface ExpandedJob {
  /** The declaration's fields with every placeholder replaced, its id derived, and no `matrix`. */
  value: Record<string, unknown>;
  /** The combination this job was made from. */
  cell: MatrixCell;
}

export type MatrixExpansion = { jobs: ExpandedJob[] } | { problem: MatrixProblem };

interface Matrix {
  /** The list keys, in alphabetical order, with their values. */
  axes: [string, MatrixValue[]][];
  include: MatrixCell[];
  exclude: MatrixCell[];
}

class MatrixError extends Error {
  constructor(readonly problem: MatrixProblem) {
    super(problem.message);
  }
}

function fail(field: string, message: string, hint: string): never {
  throw new MatrixError({ field, message, hint });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isMatrixValue(value: unknown): value is MatrixValue {
  return (
    typeof value === "string" ||
    typeof value === "boolean" ||
    (typeof value === "number" && Number.isFinite(value))
  );
}

function kindOf(value: unknown): string {
  if (value === null) return "an empty value";
  if (Array.isArray(value)) return "a list";
  // Said as what it is: "holds a number; values are … numbers" read as a contradiction.
  if (typeof value === "number" && !Number.isFinite(value))
    return "a number that is not finite (.nan, .inf or too large)";
  if (isPlainObject(value) && Object.keys(value).length === 0) return "an empty mapping";
  return typeof value === "object" ? "a mapping" : `a ${typeof value}`;
}

/** `region=eu, size=s`, for messages and the plan. */
export function cellLabel(cell: MatrixCell): string {
  return Object.entries(cell)
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(", ");
}

function checkKey(field: string, key: string): void {
  if (!MATRIX_KEY.test(key))
    fail(
      `${field}`,
      `\`${field}\` has the key "${key}", which a placeholder cannot name`,
      "use letters, digits, _ and -, starting with a letter or _",
    );
}

function readEntries(field: string, raw: unknown): MatrixCell[] {
  if (!Array.isArray(raw))
    fail(
      field,
      `\`${field}\` must be a list of mappings`,
      `e.g. ${field.split(".")[1]}: [{region: eu, size: s}]`,
    );
  return raw.map((entry) => {
    if (!isPlainObject(entry) || Object.keys(entry).length === 0)
      fail(
        field,
        `\`${field}\` holds ${kindOf(entry)}; each entry is a mapping of keys to values`,
        "e.g. - {region: eu, size: s}",
      );
    for (const [key, value] of Object.entries(entry)) {
      checkKey(field, key);
      if (!isMatrixValue(value))
        fail(
          field,
          `\`${field}\` gives \`${key}\` ${kindOf(value)}; values are strings, numbers or booleans`,
          "write each value as a scalar",
        );
    }
    return entry as MatrixCell;
  });
}

function readMatrix(raw: unknown): Matrix {
  if (!isPlainObject(raw)) fail("matrix", "`matrix` must be a mapping of keys to lists of values", EXAMPLE);
  const matrix: Matrix = { axes: [], include: [], exclude: [] };
  for (const key of Object.keys(raw).sort()) {
    const field = `matrix.${key}`;
    const values = raw[key];
    if (key === "include" || key === "exclude") {
      matrix[key] = readEntries(field, values);
      continue;
    }
    checkKey(field, key);
    if (!Array.isArray(values)) fail(field, `\`${field}\` must be a list of values`, `e.g. ${key}: [a, b]`);
    if (values.length === 0)
      fail(field, `\`${field}\` is an empty list`, "give it at least one value, or remove the key");
    const seen = new Set<string>();
    for (const value of values) {
      if (!isMatrixValue(value))
        fail(
          field,
          `\`${field}\` holds ${kindOf(value)}; values are strings, numbers or booleans`,
          `write each value as a scalar, e.g. ${key}: [a, b]`,
        );
      if (seen.has(String(value)))
        fail(field, `\`${field}\` lists "${String(value)}" twice`, "remove one of them");
      seen.add(String(value));
    }
    matrix.axes.push([key, values as MatrixValue[]]);
  }
  if (matrix.axes.length === 0 && matrix.include.length === 0)
    fail("matrix", "`matrix` has no lists of values", EXAMPLE);
  const axisKeys = matrix.axes.map(([key]) => key);
  for (const entry of matrix.exclude)
    for (const key of Object.keys(entry))
      if (!axisKeys.includes(key))
        fail(
          "matrix.exclude",
          `\`matrix.exclude\` names \`${key}\`, which is not a list key of the matrix`,
          suggestion(key, axisKeys),
        );
  const product = matrix.axes.reduce(
    (total, [, values]) => total * values.length,
    matrix.axes.length > 0 ? 1 : 0,
  );
  if (product + matrix.include.length > MAX_MATRIX_JOBS)
    fail(
      "matrix",
      `\`matrix\` makes ${product + matrix.include.length} jobs, more than the ${MAX_MATRIX_JOBS} one declaration may make`,
      "split it into several declarations",
    );
  return matrix;
}

const same = (a: MatrixValue | undefined, b: MatrixValue | undefined) =>
  a !== undefined && b !== undefined && String(a) === String(b);

/** The combinations in a stable order: the product (last key fastest), minus `exclude`, plus `include`. */
function combinations(matrix: Matrix): MatrixCell[] {
  let cells: MatrixCell[] = matrix.axes.length > 0 ? [{}] : [];
  for (const [key, values] of matrix.axes)
    cells = cells.flatMap((cell) => values.map((value) => ({ ...cell, [key]: value })));
  cells = cells.filter(
    (cell) =>
      !matrix.exclude.some((entry) => Object.entries(entry).every(([key, value]) => same(cell[key], value))),
  );
  const product = cells.length;
  const axisKeys = new Set(matrix.axes.map(([key]) => key));
  for (const entry of matrix.include) {
    const fits = cells
      .slice(0, product)
      .filter((cell) =>
        Object.entries(entry).every(([key, value]) => !axisKeys.has(key) || same(cell[key], value)),
      );
    if (fits.length === 0) cells.push({ ...entry });
    for (const cell of fits) Object.assign(cell, entry);
  }
  if (cells.length === 0)
    fail(
      "matrix.exclude",
      "`matrix.exclude` leaves no combination",
      "remove an entry, or the whole declaration",
    );
  return cells;
}

/** Every placeholder key used in the strings of `value`, with the field path of its string. */
function placeholders(value: unknown, field: string, found: [string, string][]): [string, string][] {
  if (typeof value === "string")
    for (const match of value.matchAll(PLACEHOLDER)) found.push([match[1] ?? "", field]);
  else if (Array.isArray(value)) for (const item of value) placeholders(item, field, found);
  else if (isPlainObject(value))
    for (const [key, item] of Object.entries(value))
      placeholders(item, field === "" ? key : `${field}.${key}`, found);
  return found;
}

function substitute(value: unknown, cell: MatrixCell): unknown {
  if (typeof value === "string") {
    const whole = WHOLE_PLACEHOLDER.exec(value)?.[1];
    if (whole !== undefined) return cell[whole] ?? "";
    return value.replace(PLACEHOLDER, (_, key: string) => String(cell[key] ?? ""));
  }
  if (Array.isArray(value)) return value.map((item) => substitute(item, cell));
  if (isPlainObject(value))
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substitute(item, cell)]));
  return value;
}

/** `-eu-s`: the list keys' values in alphabetical key order; for an `include`-only matrix, all of them. */
function suffix(cell: MatrixCell, matrix: Matrix): string {
  const keys = matrix.axes.length > 0 ? matrix.axes.map(([key]) => key) : Object.keys(cell).sort();
  return keys.flatMap((key) => (key in cell ? [`-${String(cell[key])}`] : [])).join("");
}

function expandCells(job: Record<string, unknown>, fallbackId: string): ExpandedJob[] {
  const matrix = readMatrix(job.matrix);
  const cells = combinations(matrix);
  const { matrix: _declared, ...template } = job;
  const known = [...new Set(cells.flatMap((cell) => Object.keys(cell)))].sort();
  for (const [key, field] of placeholders(template, "", []))
    if (!known.includes(key))
      fail(
        field,
        `\`${field}\` uses \`\${{ matrix.${key} }}\`, but the matrix has no key \`${key}\``,
        suggestion(key, known),
      );
  const idTemplate = template.id ?? fallbackId;
  const templated = placeholders(idTemplate, "id", []).length > 0;
  const byId = new Map<string, MatrixCell>();
  return cells.map((cell) => {
    const value = substitute(template, cell) as Record<string, unknown>;
    const id = templated ? value.id : `${String(idTemplate)}${suffix(cell, matrix)}`;
    const earlier = byId.get(String(id));
    if (earlier)
      fail(
        templated ? "id" : "matrix",
        `\`matrix\` gives two jobs the id "${String(id)}" (${cellLabel(earlier)}; ${cellLabel(cell)})`,
        templated
          ? "use a placeholder for every list key in the `id`"
          : "make the values of each list key distinct as text",
      );
    byId.set(String(id), cell);
    return { value: { ...value, id }, cell };
  });
}

/**
 * A declaration without `matrix` that still spells a placeholder: left alone, the text
 * `${{ matrix.x }}` would reach `sh -c` and fail only when the job runs.
 */
export function placeholderWithoutMatrix(job: Record<string, unknown>): MatrixProblem | null {
  const [first] = placeholders(job, "", []);
  if (first === undefined) return null;
  const [key, field] = first;
  return {
    field,
    message: `\`${field}\` uses \`\${{ matrix.${key} }}\`, but the declaration has no \`matrix\``,
    hint: `add e.g. \`matrix: {${key}: [a, b]}\`, or write the value itself`,
  };
}

/**
 * The jobs a declaration with `matrix` stands for, or the first problem with it. `fallbackId`
 * is the id a declaration without `id` gets (its file's path).
 */
export function expandMatrix(job: Record<string, unknown>, fallbackId: string): MatrixExpansion {
  try {
    return { jobs: expandCells(job, fallbackId) };
  } catch (error) {
    if (error instanceof MatrixError) return { problem: error.problem };
    throw error;
  }
}
