#!/usr/bin/env node
// Builds the package: the native addon (cargo, napi-rs) into native/userspan.node, then the
// TypeScript layer (tsc: the shared host source ../js-shared into dist/shared/, this package's
// src/ts into dist/; CommonJS + .d.ts), then the ESM entry that re-exports the
// CommonJS one (one module instance, so ESM and CJS users share the same context storage).
//
//   node scripts/build.mjs               release addon + TypeScript
//   node scripts/build.mjs --debug       debug addon (faster to compile; what the tests use)
//   node scripts/build.mjs --native-only / --ts-only
//
// USERSPAN_NODE_PROFILE=debug|release overrides the profile; CARGO_TARGET_DIR is honoured.
// Needs cargo (Rust >= 1.80) on PATH; downloads nothing but crates.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const profile = process.env.USERSPAN_NODE_PROFILE || (args.has('--debug') ? 'debug' : 'release');
if (!['debug', 'release'].includes(profile))
  throw new Error(`USERSPAN_NODE_PROFILE must be debug or release, got ${profile}`);
const require = createRequire(import.meta.url);

function run(cmd, argv, opts = {}) {
  console.log(`> ${cmd} ${argv.join(' ')}`);
  return execFileSync(cmd, argv, { cwd: root, stdio: 'inherit', ...opts });
}

function buildNative() {
  run('cargo', ['build', '-p', 'userspan-node', ...(profile === 'release' ? ['--release'] : [])]);
  const targetDir =
    process.env.CARGO_TARGET_DIR ||
    JSON.parse(
      execFileSync('cargo', ['metadata', '--no-deps', '--format-version', '1'], { cwd: root, encoding: 'utf8' }),
    ).target_directory;
  const lib =
    { darwin: 'libuserspan_node.dylib', win32: 'userspan_node.dll' }[process.platform] ?? 'libuserspan_node.so';
  const from = join(targetDir, profile, lib);
  if (!existsSync(from)) throw new Error(`cargo did not produce ${from}`);
  mkdirSync(join(root, 'native'), { recursive: true });
  // Copy then rename: never overwrite a library a running process may have mapped.
  const tmp = join(root, 'native', `userspan.node.${process.pid}.tmp`);
  copyFileSync(from, tmp);
  renameSync(tmp, join(root, 'native', 'userspan.node'));
  // The prebuild name the loader (src/ts/native.ts) resolves at load (napi-rs convention).
  const header = process.platform === 'linux' ? process.report.getReport().header : {};
  const libc =
    process.platform === 'linux'
      ? header.glibcVersionRuntime
        ? 'gnu'
        : 'musl'
      : process.platform === 'win32'
        ? 'msvc'
        : '';
  const named = `userspan.${[process.platform, process.arch, libc].filter(Boolean).join('-')}.node`;
  const tmp2 = join(root, 'native', `${named}.${process.pid}.tmp`);
  copyFileSync(from, tmp2);
  renameSync(tmp2, join(root, 'native', named));
  console.log(`native/userspan.node, native/${named} <- ${from} (${profile})`);
}

function buildTs() {
  const tsc = require.resolve('typescript/bin/tsc');
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  // The host source shared with userspan-wasm (../js-shared), as CommonJS + .d.ts into dist/shared/;
  // then this package's own sources, which import it as ./shared/* (tsconfig `rootDirs`).
  run(process.execPath, [
    tsc,
    '-p',
    join('..', 'js-shared', 'tsconfig.json'),
    '--module',
    'commonjs',
    '--outDir',
    join('dist', 'shared'),
  ]);
  run(process.execPath, [tsc, '-p', 'tsconfig.json']);
  const cjs = require(join(root, 'dist', 'index.js'));
  const names = Object.keys(cjs)
    .filter((n) => n !== 'default' && n !== '__esModule')
    .sort();
  writeFileSync(
    join(root, 'dist', 'index.mjs'),
    [
      '// ESM entry: re-exports the CommonJS build so both module systems share one instance.',
      "import cjs from './index.js';",
      ...names.map((n) => `export const ${n} = cjs.${n};`),
      'export default cjs;',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(root, 'dist', 'index.d.mts'),
    "export * from './index.js';\nimport * as userspan from './index.js';\nexport default userspan;\n",
  );
  console.log(`dist/ written (${names.length} exports)`);
}

if (!args.has('--ts-only')) buildNative();
if (!args.has('--native-only')) buildTs();
