/**
 * `bun run schema`: writes jobfile.schema.json from the field table in
 * src/core/spec-fields.ts, then lets biome lay it out as the rest of the repository is.
 */

import { join } from "node:path";
import { jobfileSchemaText } from "../src/core/jobfile-schema.ts";

const path = join(import.meta.dir, "jobfile.schema.json");
await Bun.write(path, jobfileSchemaText());
const format = Bun.spawnSync(["bunx", "biome", "format", "--write", path], { stderr: "inherit" });
if (format.exitCode !== 0) process.exit(format.exitCode ?? 1);
console.log(`wrote ${path}`);
