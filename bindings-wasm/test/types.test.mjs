// The generated .d.ts (js/*.d.ts, from ts/ and ../js-shared) type-check from a TypeScript consumer.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

test('js/*.d.ts serve a TypeScript consumer of both entries', { timeout: 120000 }, async () => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const project = fileURLToPath(new URL('./types/tsconfig.json', import.meta.url));
  const { stdout, stderr } = await run(process.execPath, [tsc, '-p', project]).catch((e) => e);
  assert.equal(`${stdout ?? ''}${stderr ?? ''}`.trim(), '', 'tsc reported errors');
});
