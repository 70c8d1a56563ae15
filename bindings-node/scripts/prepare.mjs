#!/usr/bin/env node
// npm's `prepare` (run for `npm install /path/to/bindings-node` and git installs, never when
// installing a packed tgz): builds the addon and dist/ from source unless both are already there.
// Needs cargo (Rust >= 1.88); without it, says how to get the prebuilt package instead.
//   USERSPAN_SKIP_PREPARE=1 skips it.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built =
  existsSync(join(root, 'dist', 'index.js')) &&
  existsSync(join(root, 'native')) &&
  readdirSync(join(root, 'native')).some((f) => f.endsWith('.node'));
if (process.env.USERSPAN_SKIP_PREPARE || built) process.exit(0);
if (spawnSync('cargo', ['--version'], { stdio: 'ignore' }).status !== 0) {
  console.error(
    'userspan: installing from source needs cargo (Rust >= 1.88, https://rustup.rs) to build the native addon.\n' +
      'Without Rust, install the prebuilt package instead: `npm install dist/userspan-<version>.tgz` ' +
      '(made by scripts/package in the userspan repository).',
  );
  process.exit(1);
}
execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
