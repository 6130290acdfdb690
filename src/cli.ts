#!/usr/bin/env node
// The admin command line (README.md, "Command line"): `latchkey <command> [options] [--json]`.
import { relaunchedOnSupportedNode } from './runtime.js';

if (!relaunchedOnSupportedNode()) {
  const { runCli } = await import('./cli/run.js');
  process.exitCode = await runCli(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
}
