// Test helpers: the reference receiver (`userspan serve`) on a free 127.0.0.1 port.
//
// The receiver binary: $USERSPAN_RECEIVER_BIN if set, else built with
// `cargo build -p userspan-receiver` into $CARGO_TARGET_DIR (or the workspace target dir).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const pkg = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const repo = join(pkg, '..');

let cached;
/** `{ bin }` or `{ skip: reason }`. */
export function receiverBinary() {
  cached ??= findReceiverBinary();
  return cached;
}

function findReceiverBinary() {
  if (process.env.USERSPAN_RECEIVER_BIN) return { bin: process.env.USERSPAN_RECEIVER_BIN };
  if (!existsSync(join(repo, 'receiver', 'Cargo.toml')))
    return { skip: 'the receiver crate (receiver/) is not in this checkout' };
  try {
    execFileSync('cargo', ['build', '-q', '-p', 'userspan-receiver', '--bin', 'userspan'], {
      cwd: repo,
      stdio: 'inherit',
    });
  } catch (e) {
    return { skip: `cargo build -p userspan-receiver failed: ${e.message}` };
  }
  const target =
    process.env.CARGO_TARGET_DIR ||
    JSON.parse(
      execFileSync('cargo', ['metadata', '--no-deps', '--format-version', '1'], { cwd: repo, encoding: 'utf8' }),
    ).target_directory;
  const bin = join(target, 'debug', 'userspan');
  return existsSync(bin) ? { bin } : { skip: `${bin} was not built` };
}

export async function freePort() {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

/** Starts `userspan serve --db :memory:` on a free port; resolves `{ base, stop() }` once healthy. */
export async function startReceiver(bin, extraArgs = []) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--db', ':memory:', ...extraArgs], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`userspan serve exited with ${child.exitCode}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) return { base, stop };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error('userspan serve did not become healthy');
}

/** GET `${base}${path}` as JSON. */
export async function api(base, path) {
  const r = await fetch(`${base}${path}`);
  if (!r.ok) throw new Error(`GET ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** Polls `GET /api/users` until `ok(body)` (the receiver stores asynchronously of our flush only
 * in the sense that a 200 means stored; polling guards the size/time-triggered sends). */
export async function waitUsers(base, ok, timeoutMs = 10000) {
  const until = Date.now() + timeoutMs;
  let body;
  while (Date.now() < until) {
    body = await api(base, '/api/users?sort=traces&order=desc');
    if (ok(body)) return body;
    await new Promise((r) => setTimeout(r, 50));
  }
  return body;
}
