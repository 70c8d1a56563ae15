// The shipped .d.ts type-check from an ESM and a CommonJS TypeScript consumer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);

test('dist/*.d.ts serve ESM and CommonJS TypeScript consumers', { timeout: 120000 }, async () => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const project = fileURLToPath(new URL('./types/tsconfig.json', import.meta.url));
  const { stdout, stderr } = await run(process.execPath, [tsc, '-p', project]).catch((e) => e);
  assert.equal(`${stdout ?? ''}${stderr ?? ''}`.trim(), '', 'tsc reported errors');
});
