/**
 * A job canceled because its jobfile was removed, as both backends write it and read it back.
 *
 * The reconcile rules restore such a job when its file comes back with the same revision
 * (a `git checkout` away and back), and only such a job: one the user canceled or killed,
 * or one canceled because a job it waits on failed, stays canceled whatever its file does.
 * The store tells them apart by the reason it wrote, so the wording lives here, once.
 */

/** The reason of a pending or waiting job canceled by a sync that found its file gone. */
export const REMOVED_JOBFILE_REASON = "its jobfile was removed";

/** Added to a failed attempt's error when its file was removed while it ran: not retried. */
export const NOT_RETRIED_SUFFIX = ` (not retried: ${REMOVED_JOBFILE_REASON})`;

/**
 * True for a row (aliased `j`) that is canceled for its file's removal and for nothing
 * else: a later cancel by the user or by a dependency writes its own reason over this one.
 * Plain SQL that SQLite and PostgreSQL read alike.
 */
export const CANCELED_BY_REMOVAL_SQL = `(j.state = 'canceled' AND j.canceled_by IS NULL
  AND (j.last_error = '${REMOVED_JOBFILE_REASON}' OR j.last_error LIKE '%${NOT_RETRIED_SUFFIX}'))`;
