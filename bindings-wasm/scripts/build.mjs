#!/usr/bin/env node
// Builds the package's generated parts: the crate for wasm32-unknown-unknown (cargo), the
// wasm-bindgen glue for both targets, then the host layer (tsc: ../js-shared and ts/ into js/):
//
//   pkg/node/  --target nodejs  (CommonJS, loads the .wasm synchronously; used by js/node.js)
//   pkg/web/   --target web     (ES module, `await load()` fetches / instantiates; js/web.js)
//
//   node scripts/build.mjs               debug build (fast; what the tests use)
//   node scripts/build.mjs --release     size-optimised build: cargo profile `release-wasm`
//                                        (opt-level "z", LTO, one codegen unit), then wasm-opt -Oz
//                                        (binaryen >= 116: $WASM_OPT, bench/node_modules, or PATH)
//   node scripts/build.mjs --ts-only     only the host layer (js/), over the pkg/ already built
//
// USERSPAN_WASM_PROFILE=debug|release overrides; CARGO_TARGET_DIR is honoured. Needs cargo with
// the wasm32-unknown-unknown target; the wasm-bindgen CLI of exactly the wasm-bindgen version in
// Cargo.lock is taken from PATH or installed into a local root under the target dir (findBindgen).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const workspace = join(root, '..');
const args = new Set(process.argv.slice(2));
const profile = process.env.USERSPAN_WASM_PROFILE || (args.has('--release') ? 'release' : 'debug');
if (!['debug', 'release'].includes(profile))
  throw new Error(`USERSPAN_WASM_PROFILE must be debug or release, got ${profile}`);

function run(cmd, argv, opts = {}) {
  console.log(`> ${cmd} ${argv.join(' ')}`);
  return execFileSync(cmd, argv, { cwd: root, stdio: 'inherit', ...opts });
}

function lockedBindgenVersion() {
  const lock = readFileSync(join(workspace, 'Cargo.lock'), 'utf8');
  const m = lock.match(/\[\[package\]\]\nname = "wasm-bindgen"\nversion = "([^"]+)"/);
  if (!m) throw new Error('wasm-bindgen not found in Cargo.lock');
  return m[1];
}

function bindgenVersionOf(bin) {
  try {
    return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim().split(/\s+/)[1];
  } catch {
    return undefined;
  }
}

function cargoTargetDir() {
  return (
    process.env.CARGO_TARGET_DIR ||
    JSON.parse(
      execFileSync('cargo', ['metadata', '--no-deps', '--format-version', '1'], { cwd: root, encoding: 'utf8' }),
    ).target_directory
  );
}

/** The wasm-bindgen CLI of exactly Cargo.lock's wasm-bindgen version: `wasm-bindgen` on PATH when
 * it is that version, else the one in the local root `<target dir>/tools/wasm-bindgen-<version>`,
 * installed there on first use (`cargo install --locked --root`, without --locked if that cannot
 * resolve; a few minutes; never the user's
 * ~/.cargo/bin). USERSPAN_NO_INSTALL=1 fails with the command instead of running it. */
function findBindgen() {
  const want = lockedBindgenVersion();
  const onPath = bindgenVersionOf('wasm-bindgen');
  if (onPath === want) return 'wasm-bindgen';
  const localRoot = join(cargoTargetDir(), 'tools', `wasm-bindgen-${want}`);
  const local = join(localRoot, 'bin', process.platform === 'win32' ? 'wasm-bindgen.exe' : 'wasm-bindgen');
  if (bindgenVersionOf(local) === want) return local;
  const argv = ['install', 'wasm-bindgen-cli', '--version', want, '--locked', '--root', localRoot];
  const command = `cargo ${argv.join(' ')}`;
  const found = onPath ? `wasm-bindgen ${onPath} on PATH` : 'no wasm-bindgen on PATH';
  if (process.env.USERSPAN_NO_INSTALL === '1') {
    throw new Error(`wasm-bindgen CLI ${want} (Cargo.lock's wasm-bindgen) is needed, ${found}; run: ${command}`);
  }
  console.log(`wasm-bindgen CLI ${want} needed (${found}): installing into ${localRoot}`);
  try {
    run('cargo', argv);
  } catch {
    // --locked fails when the CLI's lock file pins a crate version the registry (or a mirror) lacks;
    // then let cargo resolve (as scripts/test-wasm does).
    try {
      run(
        'cargo',
        argv.filter((a) => a !== '--locked'),
      );
    } catch (e) {
      throw new Error(`installing wasm-bindgen CLI ${want} failed (${e.message}); run: ${command}`);
    }
  }
  if (bindgenVersionOf(local) !== want) throw new Error(`${local} is not wasm-bindgen ${want} after: ${command}`);
  return local;
}

// What rustc + wasm-bindgen emit for wasm32-unknown-unknown (externref table, multivalue, ...).
const WASM_FEATURES = [
  '--enable-bulk-memory',
  '--enable-nontrapping-float-to-int',
  '--enable-sign-ext',
  '--enable-mutable-globals',
  '--enable-reference-types',
  '--enable-multivalue',
];

/** `$WASM_OPT`, else bench/'s npm `binaryen`, else `wasm-opt` on PATH; only binaryen >= 116
 * (older releases, e.g. Debian's 108, break wasm-bindgen's externref table). */
function findWasmOpt() {
  const candidates = [process.env.WASM_OPT, join(root, 'bench', 'node_modules', '.bin', 'wasm-opt'), 'wasm-opt'].filter(
    Boolean,
  );
  for (const c of candidates) {
    try {
      const v = execFileSync(c, ['--version'], { encoding: 'utf8' });
      const n = Number(v.match(/version (\d+)/)?.[1] ?? 0);
      if (n >= 116) return c;
      console.log(`${c}: binaryen ${n} is too old (need >= 116), not used`);
    } catch {
      // not there
    }
  }
  return undefined;
}

function buildWasm() {
  const bindgen = findBindgen();
  const cargoProfile = profile === 'release' ? 'release-wasm' : 'dev';
  run('cargo', ['build', '-p', 'userspan-wasm', '--target', 'wasm32-unknown-unknown', '--profile', cargoProfile]);
  const targetDir = cargoTargetDir();
  const wasm = join(
    targetDir,
    'wasm32-unknown-unknown',
    profile === 'release' ? 'release-wasm' : 'debug',
    'userspan_wasm.wasm',
  );
  if (!existsSync(wasm)) throw new Error(`cargo did not produce ${wasm}`);

  for (const target of ['nodejs', 'web']) {
    const out = join(root, 'pkg', target === 'nodejs' ? 'node' : 'web');
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    // --weak-refs: Rust objects handed to JS (scope frames) are freed by a FinalizationRegistry
    // when JS drops them, so the JS layer never has to free a frame another callback may still use.
    // The .d.ts wasm-bindgen writes types the glue for ts/web.ts (not shipped: `files` lists the .js).
    run(bindgen, [wasm, '--target', target, '--out-dir', out, '--out-name', 'userspan_wasm', '--weak-refs']);
    // The nodejs glue is CommonJS inside this "type": "module" package.
    if (target === 'nodejs') writeFileSync(join(out, 'package.json'), '{ "type": "commonjs" }\n');
    const bg = join(out, 'userspan_wasm_bg.wasm');
    if (profile === 'release') {
      const wasmOpt = findWasmOpt();
      if (wasmOpt) run(wasmOpt, ['-Oz', ...WASM_FEATURES, bg, '-o', bg]);
      else console.log('wasm-opt (binaryen >= 116) not found: skipped; `npm install` in bench/ provides one');
    }
    const bytes = readFileSync(bg);
    console.log(`${bg}: ${statSync(bg).size} bytes, ${gzipSync(bytes, { level: 9 }).length} gzipped`);
  }
}

// The host layer: the source shared with the Node package (../js-shared) as ES modules + .d.ts into
// js/shared/, then this package's ts/ into js/ (its `./shared/*` imports resolve there through
// tsconfig `rootDirs`). Both .d.ts sets are generated here; js/ is never edited by hand.
function buildTs() {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  rmSync(join(root, 'js'), { recursive: true, force: true });
  const shared = join('..', 'js-shared', 'tsconfig.json');
  run(process.execPath, [tsc, '-p', shared, '--module', 'es2020', '--outDir', join('js', 'shared')]);
  run(process.execPath, [tsc, '-p', 'tsconfig.json']);
}

if (!args.has('--ts-only')) buildWasm();
buildTs();
