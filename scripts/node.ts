// `node --import tsx scripts/node.ts <command> [args...]`: runs a command (tap, the benchmark)
// with a supported Node.js first on PATH, fetching Node 24 once when this one is too old.
// `node --import tsx scripts/node.ts --bin-dir`: prints the bin folder of Node 24 (CI's runtime).
import { preferredNodeBinDir, runWithSupportedNode } from '../src/runtime.js';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write('usage: node --import tsx scripts/node.ts <command> [args...] | --bin-dir\n');
  process.exit(2);
}
if (command === '--bin-dir') process.stdout.write(`${preferredNodeBinDir()}\n`);
else runWithSupportedNode(command, args);
