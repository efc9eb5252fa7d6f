#!/usr/bin/env bun

/**
 * The entry point of the whole CLI: cli-run.ts turns the command line into an exit code, and
 * cli-process.ts owns what belongs to the process around it.
 */

import { runAsProcess } from "./cli-process.ts";
import { runCommandLine } from "./cli-run.ts";

runAsProcess(runCommandLine);
