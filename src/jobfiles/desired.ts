/**
 * What a jobs folder declares: the desired side of a plan, read from its files (read.ts,
 * read-folder.ts) and compared with the store by plan.ts.
 */

import type { NewJob } from "../store/store.ts";
import type { MatrixOrigin } from "./declaration.ts";
import type { Place } from "./parse.ts";
import type { JobfileProblem } from "./problem.ts";

/** A valid job from a jobfile, with its place for messages. */
export interface DesiredJob extends NewJob {
  /** The jobfile's path under the folder's real path; stored as the job's `source`. */
  source: string;
  /** The jobfile relative to the folder, for messages. */
  file: string;
  /** Where its id is declared. */
  line: number;
  column: number;
  /** Where each field is written, when known. */
  fields?: Record<string, Place>;
  /** The declaration and values of a job made by a `matrix`; absent otherwise. */
  matrix?: MatrixOrigin;
}

export interface DesiredState {
  /** The folder's real path. Only jobs this folder owns can be removed by this plan. */
  root: string;
  jobs: DesiredJob[];
  problems: JobfileProblem[];
  /** Relative files, or folders ending in `/`, whose jobs stay as they are. */
  blocked: string[];
  /** Ids that blocked files declare, as far as they could be read. */
  blockedIds: string[];
  /** The folder's namespace (`.queuectl.yaml`), for messages; null when it has none. */
  namespace?: string | null;
  /**
   * Relative files read whole, whether they declare jobs or none (`jobs: []`): a job they no
   * longer declare was taken out of its file, not removed with it. Default: the jobs' files.
   */
  files?: string[];
}
