/**
 * A jobfile problem the user must fix. It always names the place, so an editor can jump
 * there: the file (relative to the jobs folder), the 1-based line and column, and the job
 * field at fault when there is one.
 */

export interface JobfileProblem {
  /** Relative to the jobs folder, with forward slashes; a folder ends with `/`. */
  file: string;
  /** 1-based. A problem with the whole file points at 1:1. */
  line: number;
  column: number;
  /** The job field at fault, e.g. `max_retries` or `env.HOME`; null for syntax or file problems. */
  field: string | null;
  message: string;
  hint: string;
}

export function fileProblem(file: string, message: string, hint: string): JobfileProblem {
  return { file, line: 1, column: 1, field: null, message, hint };
}

/** `nightly/backup.yaml:3:5`, the form editors and terminals turn into links. */
export function problemPlace(problem: JobfileProblem): string {
  return `${problem.file}:${problem.line}:${problem.column}`;
}

/** Where a declaration writes its id. */
export interface IdPlace {
  id: string;
  file: string;
  line: number;
  column: number;
}

/** A problem at each declaration of an id that more than one declares, naming the others. */
export function duplicateIdProblems(declarations: readonly IdPlace[]): JobfileProblem[] {
  const byId = new Map<string, IdPlace[]>();
  for (const entry of declarations) byId.set(entry.id, [...(byId.get(entry.id) ?? []), entry]);
  const problems: JobfileProblem[] = [];
  for (const [id, places] of byId) {
    if (places.length < 2) continue;
    for (const entry of places) {
      const others = places
        .filter((other) => other !== entry)
        .map((other) => problemPlace({ ...other, field: null, message: "", hint: "" }));
      problems.push({
        file: entry.file,
        line: entry.line,
        column: entry.column,
        field: "id",
        // JSON quoting: an id may hold a line break, and a problem reads as one line.
        message: `id ${JSON.stringify(id)} is also declared at ${others.join(", ")}`,
        hint: "ids must be unique across the folder; none of these files is applied until one is renamed",
      });
    }
  }
  return problems;
}
