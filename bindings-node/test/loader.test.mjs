// The packaging loader (dist/native.js): the prebuild for this platform is resolved by napi-rs's
// file naming; no fitting binary is a clear error naming the platform and the files present.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const pkg = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const { currentPlatform, nativeFileName, resolveNative } = require(join(pkg, 'dist', 'native.js'));

test('the prebuild for this platform is named and built as napi-rs names it', () => {
  const p = currentPlatform();
  assert.equal(p.platform, process.platform);
  assert.equal(p.arch, process.arch);
  const name = nativeFileName(p);
  assert.match(name, /^userspan\.[a-z0-9]+-[a-z0-9]+(-(gnu|musl|msvc))?\.node$/);
  const dir = join(pkg, 'native');
  assert.ok(readdirSync(dir).includes(name), `${name} was built`);
  // the packed package carries only the prebuild; a source checkout also has the dev build
  assert.equal(resolveNative(dir, p, [name]), join(dir, name));
  assert.equal(resolveNative(dir, p, readdirSync(dir)), join(dir, 'userspan.node'));
});

test('an unknown platform is an error naming it and the files present', () => {
  const fake = { platform: 'aix', arch: 'ppc64' };
  assert.throws(
    () => resolveNative('/pkg/native', fake, ['userspan.linux-x64-gnu.node', 'userspan.node']),
    (e) =>
      /platform=aix arch=ppc64 libc=n\/a/.test(e.message) &&
      /userspan\.aix-ppc64\.node/.test(e.message) &&
      /userspan\.linux-x64-gnu\.node/.test(e.message),
  );
});

test('USERSPAN_NATIVE_PLATFORM simulates another platform at load: the package fails to load with that message', () => {
  const r = spawnSync(process.execPath, ['-e', "require('userspan')"], {
    cwd: pkg,
    env: { ...process.env, USERSPAN_NATIVE_PLATFORM: 'freebsd-riscv64' },
    encoding: 'utf8',
  });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /no native addon for this platform \(platform=freebsd arch=riscv64/);
});
