/**
 * Which `schema_migrations` table is queuectl's. Rails, Ecto, golang-migrate and dbmate keep
 * a table of that name too, and reading theirs as ours would take an application's database
 * for a queue: migrated over, or refused as "newer than this queuectl" for a version that is
 * a timestamp. Both backends judge the table by its columns, by this rule, before they write
 * anything.
 */

/** The columns queuectl's schema_migrations has had since the first release, in any order. */
const OUR_COLUMNS = ["applied_at", "name", "version"];

export function isOurMigrationsTable(columns: readonly string[]): boolean {
  const sorted = [...columns].sort();
  return (
    sorted.length === OUR_COLUMNS.length && sorted.every((column, index) => column === OUR_COLUMNS[index])
  );
}

/** Why a database or schema whose schema_migrations is not ours is refused, for messages. */
export const FOREIGN_MIGRATIONS_TABLE =
  "its schema_migrations is another tool's: Rails, Ecto, golang-migrate and dbmate keep a table of that name";
