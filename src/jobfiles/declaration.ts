/**
 * One declaration of a jobfile (a mapping of job fields) into the specs it stands for: one
 * spec, or one per combination of its `matrix` (src/core/matrix.ts), or every problem it
 * has. Problems carry the field at fault; parse.ts turns that into a line and column.
 */

import { UserError } from "../core/errors.ts";
import { cellLabel, expandMatrix, type MatrixCell, placeholderWithoutMatrix } from "../core/matrix.ts";
import { type JobSpec, normalizeSpec, SPEC_FIELDS, SpecError } from "../core/spec.ts";

/** Where an expanded job came from: its declaration (the id as written) and its values. */
export interface MatrixOrigin {
  declaration: string;
  cell: MatrixCell;
}

export interface DeclaredSpec {
  spec: JobSpec;
  /** Absent for a declaration without `matrix`. */
  matrix?: MatrixOrigin;
}

export interface DeclarationProblem {
  /** The field at fault (`env.HOME`, `matrix.region`), or null when none can be named. */
  field: string | null;
  message: string;
  hint: string;
}

export interface Declaration {
  /** Empty whenever `problems` is not. */
  specs: DeclaredSpec[];
  problems: DeclarationProblem[];
  /** The ids a `matrix` expands to, as far as they could be read; null without `matrix`. */
  matrixIds: string[] | null;
}

/**
 * parseDurationMs throws a plain UserError whose message starts with the field it was
 * given (`timeout "x" is not a duration`); reading the field back keeps such errors located.
 */
function fieldOf(error: UserError): string | null {
  if (error instanceof SpecError && error.field !== undefined) return error.field;
  const first = /^`?([a-z_]+)`?[\s"]/.exec(error.message)?.[1];
  return first && (SPEC_FIELDS as readonly string[]).includes(first) ? first : null;
}

/** Stand-ins for the required fields, so that the other fields can still be checked. */
const PLACEHOLDERS: Record<string, unknown> = { id: "placeholder", command: "true" };

/**
 * A problem of the id a file's path gives (it has no `id` of its own): the fix is in the
 * file's name or an `id` field, not in a field the file does not have.
 */
function pathIdProblem(error: UserError, pathId: string): DeclarationProblem {
  const rule = error.message.replace(/^`id` /, "").replace(`"${pathId}" `, "");
  return {
    field: "id",
    message: `the id this file's path gives, "${pathId}", ${rule}`,
    hint: "rename the file (or its folder), or give the job an `id` of its own",
  };
}

/**
 * The spec, or every problem of the job: normalizeSpec stops at the first, so each field
 * it names is set aside (a required one replaced by a stand-in) and the rest checked again.
 */
function checkSpec(
  value: Record<string, unknown>,
  pathId: string,
): { spec: JobSpec } | { errors: DeclarationProblem[] } {
  const errors: DeclarationProblem[] = [];
  let rest = value;
  for (let round = 0; round <= Object.keys(value).length + 1; round++) {
    try {
      const spec = normalizeSpec(rest, { generateId: () => pathId });
      return errors.length === 0 ? { spec } : { errors };
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      const field = fieldOf(error);
      errors.push(
        field === "id" && value.id === undefined
          ? pathIdProblem(error, pathId)
          : { field, message: error.message, hint: error.hint },
      );
      const top = field?.split(".")[0];
      if (top === undefined) break;
      if (top in PLACEHOLDERS) {
        if (rest[top] === PLACEHOLDERS[top]) break;
        rest = { ...rest, [top]: PLACEHOLDERS[top] };
      } else {
        if (!(top in rest)) break;
        const { [top]: _setAside, ...others } = rest;
        rest = others;
      }
    }
  }
  return { errors };
}

/**
 * A matrix declaration's jobs, checked one by one. A problem every job shares is reported
 * once; one only some jobs have names the first combination that has it.
 */
function readMatrixDeclaration(value: Record<string, unknown>, pathId: string): Declaration {
  const expansion = expandMatrix(value, pathId);
  if ("problem" in expansion) return { specs: [], problems: [expansion.problem], matrixIds: [] };
  const declaration = String(value.id ?? pathId);
  const specs: DeclaredSpec[] = [];
  const found = new Map<string, { problem: DeclarationProblem; cells: MatrixCell[] }>();
  for (const { value: expanded, cell } of expansion.jobs) {
    const checked = checkSpec(expanded, pathId);
    if ("spec" in checked) {
      specs.push({ spec: checked.spec, matrix: { declaration, cell } });
      continue;
    }
    for (const problem of checked.errors) {
      const key = `${problem.field}\0${problem.message}`;
      const seen = found.get(key);
      if (seen) seen.cells.push(cell);
      else found.set(key, { problem, cells: [cell] });
    }
  }
  const problems = [...found.values()].map(({ problem, cells }) =>
    cells.length === expansion.jobs.length
      ? problem
      : { ...problem, message: `${problem.message} (matrix: ${cellLabel(cells[0] ?? {})})` },
  );
  return {
    specs: problems.length > 0 ? [] : specs,
    problems,
    matrixIds: expansion.jobs.map((job) => String(job.value.id)),
  };
}

/** `pathId` is the id of a declaration without `id` (its file's path without extension). */
export function readDeclaration(value: Record<string, unknown>, pathId: string): Declaration {
  if (value.matrix !== undefined) return readMatrixDeclaration(value, pathId);
  const stray = placeholderWithoutMatrix(value);
  if (stray !== null) return { specs: [], problems: [stray], matrixIds: null };
  const checked = checkSpec(value, pathId);
  if ("spec" in checked) return { specs: [{ spec: checked.spec }], problems: [], matrixIds: null };
  return { specs: [], problems: checked.errors, matrixIds: null };
}
