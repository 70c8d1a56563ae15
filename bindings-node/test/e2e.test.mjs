// End to end: a real `userspan serve` (the reference receiver, built from ../receiver), an app
// process using the package over OTLP/HTTP, and the receiver's HTTP API.
//
// The receiver binary: $USERSPAN_RECEIVER_BIN if set, else built with
// `cargo build -p userspan-receiver` into $CARGO_TARGET_DIR (or the workspace target dir).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const pkg = fileURLToPath(new URL('..', import.meta.url));
const repo = join(pkg, '..');

function receiverBinary() {
  if (process.env.USERSPAN_RECEIVER_BIN) return { bin: process.env.USERSPAN_RECEIVER_BIN };
  if (!existsSync(join(repo, 'receiver', 'Cargo.toml'))) {
    return { skip: 'the receiver crate (receiver/) is not in this checkout' };
  }
  try {
    execFileSync('cargo', ['build', '-p', 'userspan-receiver', '--bin', 'userspan'], { cwd: repo, stdio: 'inherit' });
  } catch (e) {
    return { skip: `cargo build -p userspan-receiver failed: ${e.message}` };
  }
  const target =
    process.env.CARGO_TARGET_DIR ||
    JSON.parse(
      execFileSync('cargo', ['metadata', '--no-deps', '--format-version', '1'], { cwd: repo, encoding: 'utf8' }),
    ).target_directory;
  const bin = join(target, 'debug', process.platform === 'win32' ? 'userspan.exe' : 'userspan');
  return existsSync(bin) ? { bin } : { skip: `${bin} was not built` };
}

async function freePort() {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

async function waitHealthy(base, child) {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`userspan serve exited with ${child.exitCode}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('userspan serve did not become healthy');
}

const found = receiverBinary();
if (found.skip) {
  console.error(`\n!!! SKIPPING the end-to-end test against \`userspan serve\`: ${found.skip} !!!\n`);
}

test('spans from the package reach `userspan serve` and show up in GET /api/users', {
  skip: found.skip,
  timeout: 120000,
}, async () => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(found.bin, ['serve', '--listen', `127.0.0.1:${port}`, '--db', ':memory:'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await waitHealthy(base, server);
    const app = `
      const { init, capture, shutdown, stats } = require('userspan');
      init({ endpoint: '${base}', serviceName: 'node-e2e', exporter: 'otlp' });
      (async () => {
        for (const [id, email, session] of [['ada@example.com', 'ada@example.com', 'conv-1'], ['u-grace', 'grace@example.com', 'conv-2']]) {
          await capture('support-agent-turn', async () => {
            await capture('llm', async () => {}, { attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.usage.input_tokens': 10, 'gen_ai.usage.output_tokens': 5 } });
          }, { userId: id, userEmail: email, userIdType: id.includes('@') ? 'email' : 'custom', sessionId: session });
        }
        await capture('failing-turn', async () => { throw new Error('tool crashed'); }, { userId: 'u-grace', sessionId: 'conv-3' }).catch(() => {});
        await shutdown(10000);
        console.log(JSON.stringify(stats()));
      })();
    `;
    const { stdout } = await run(process.execPath, ['-e', app], { cwd: pkg, timeout: 60000 });
    const st = JSON.parse(stdout.trim());
    assert.equal(st.exportErrors, 0);
    assert.equal(st.spansExported, 5);

    const res = await fetch(`${base}/api/users?sort=traces&order=desc`);
    assert.equal(res.status, 200);
    const body = await res.json();
    const byId = Object.fromEntries(body.users.map((u) => [u.user_id, u]));
    assert.deepEqual(Object.keys(byId).sort(), ['ada@example.com', 'u-grace']);
    assert.equal(byId['ada@example.com'].user_id_type, 'email');
    assert.equal(byId['ada@example.com'].user_email, 'ada@example.com');
    assert.equal(byId['ada@example.com'].traces, 1);
    assert.equal(byId['ada@example.com'].llm_calls, 1);
    assert.equal(byId['ada@example.com'].total_tokens, 15);
    assert.equal(byId['u-grace'].traces, 2);
    assert.equal(byId['u-grace'].sessions, 2);
    assert.equal(byId['u-grace'].errored_traces, 1);

    const q = await (await fetch(`${base}/api/users?q=GRACE`)).json();
    assert.deepEqual(
      q.users.map((u) => u.user_id),
      ['u-grace'],
    );
  } finally {
    server.kill('SIGTERM');
  }
});

test('the examples/node support agent reports its three users to `userspan serve`', {
  skip: found.skip,
  timeout: 120000,
}, async () => {
  const example = join(repo, 'examples', 'node');
  // What `npm install` in examples/node does: link the package.
  const link = join(example, 'node_modules', 'userspan');
  if (!existsSync(link)) {
    mkdirSync(join(example, 'node_modules'), { recursive: true });
    symlinkSync(pkg, link, 'dir');
  }
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(found.bin, ['serve', '--listen', `127.0.0.1:${port}`, '--db', ':memory:'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await waitHealthy(base, server);
    const { stdout } = await run(process.execPath, ['support-agent.mjs', '--endpoint', base, '--turns', '3'], {
      cwd: example,
      timeout: 60000,
    });
    assert.match(stdout, /spans exported/);
    const body = await (await fetch(`${base}/api/users`)).json();
    const users = Object.fromEntries(body.users.map((u) => [u.user_id, u]));
    assert.deepEqual(Object.keys(users).sort(), ['user-ada', 'user-grace', 'user-linus']);
    for (const u of Object.values(users)) {
      assert.equal(u.traces, 3);
      assert.equal(u.sessions, 1);
      assert.ok(u.llm_calls >= 1);
      assert.ok(u.total_tokens > 0);
      assert.ok(u.cost_usd > 0);
    }
    assert.equal(users['user-ada'].metadata.plan, 'pro');
    assert.ok(
      Object.values(users).some((u) => u.errored_traces > 0),
      'the failing tool call is an errored trace',
    );
    assert.ok(
      Object.values(users).some((u) => u.guardrail_triggers > 0),
      'a guardrail fired',
    );
  } finally {
    server.kill('SIGTERM');
  }
});
