// End to end against the reference receiver: the nodejs build exports over OTLP/HTTP protobuf
// (encoded in Rust, sent with fetch) to `userspan serve --db :memory:`; numbers are checked through
// its HTTP API.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { dirname, join } from 'node:path';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { capture, init, flush, shutdown, stats, getAttributes } from 'userspan-wasm';
import { api, pkg, repo, receiverBinary, startReceiver, waitUsers } from './helpers.mjs';

const run = promisify(execFile);
const found = receiverBinary();
if (found.skip) console.error(`\n!!! SKIPPING the end-to-end tests against \`userspan serve\`: ${found.skip} !!!\n`);
const opts = { skip: found.skip, timeout: 120000 };

const receivers = [];
after(async () => {
  await Promise.all(receivers.map((r) => r.stop()));
});
async function receiver(args) {
  const r = await startReceiver(found.bin, args);
  receivers.push(r);
  return r;
}

test('CORS: the receiver answers a browser preflight on /v1/traces', opts, async () => {
  const { base } = await receiver();
  const res = await fetch(`${base}/v1/traces`, {
    method: 'OPTIONS',
    headers: {
      origin: 'http://127.0.0.1:1',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type,authorization',
    },
  });
  assert.ok(res.status === 200 || res.status === 204, `preflight status ${res.status}`);
  assert.ok(res.headers.get('access-control-allow-origin'), 'Access-Control-Allow-Origin');
  assert.match(res.headers.get('access-control-allow-headers') ?? '', /content-type/i);
});

test('flush() sends the buffered spans; GET /api/users shows the users with their numbers', opts, async () => {
  const { base } = await receiver();
  init({ endpoint: base, serviceName: 'wasm-e2e', scheduledDelayMs: 60000 });
  const before = stats();
  for (const [id, email, session] of [
    ['ada@example.com', 'ada@example.com', 'conv-1'],
    ['u-grace', 'grace@example.com', 'conv-2'],
  ]) {
    await capture(
      'support-agent-turn',
      async () => {
        await capture('llm', async () => {}, {
          attributes: {
            'gen_ai.operation.name': 'chat',
            'gen_ai.usage.input_tokens': 10,
            'gen_ai.usage.output_tokens': 5,
          },
        });
      },
      { userId: id, userEmail: email, userIdType: id.includes('@') ? 'email' : 'custom', sessionId: session },
    );
  }
  await capture(
    'failing-turn',
    async () => {
      throw new Error('tool crashed');
    },
    { userId: 'u-grace', sessionId: 'conv-3' },
  ).catch(() => {});
  // Nothing was sent yet (the timer is 60 s, the batch is 512): the receiver knows nobody.
  assert.equal((await api(base, '/api/users')).users.length, 0);
  const p = flush();
  assert.ok(p instanceof Promise);
  await p;
  const st = stats();
  assert.equal(st.spansExported - before.spansExported, 5);
  assert.equal(st.exportErrors - before.exportErrors, 0);
  assert.equal(st.spansDropped - before.spansDropped, 0);

  const body = await api(base, '/api/users?sort=traces&order=desc');
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
  assert.equal(body.overview.unique_users, 2);
  const sessions = await api(base, '/api/users/u-grace/sessions');
  const conv3 = sessions.sessions.find((x) => x.session_id === 'conv-3');
  assert.ok(conv3, 'session conv-3 of u-grace');
  assert.equal(conv3.errored, true);
});

test('a full batch is sent without flush(); the timer sends the rest', opts, async () => {
  const { base } = await receiver();
  init({ endpoint: base, serviceName: 'wasm-e2e-auto', maxExportBatchSize: 4, scheduledDelayMs: 300 });
  for (let i = 0; i < 4; i++) capture(`turn-${i}`, () => {}, { userId: `size-${i}` });
  let body = await waitUsers(base, (b) => b.users.length === 4, 3000);
  assert.equal(body.users.length, 4, 'a full batch goes out on its own');
  capture('late', () => {}, { userId: 'timer-user' });
  body = await waitUsers(base, (b) => b.users.length === 5, 5000);
  assert.ok(
    body.users.some((u) => u.user_id === 'timer-user'),
    'the periodic send delivered the last span',
  );
});

test('concurrent captures for different users arrive attributed to the right user', opts, async () => {
  const { base } = await receiver();
  init({ endpoint: base, serviceName: 'wasm-e2e-concurrent', scheduledDelayMs: 60000 });
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      capture(
        'turn',
        async () => {
          await new Promise((r) => setTimeout(r, Math.random() * 10));
          assert.equal(getAttributes().userId, `c-${i % 4}`);
          await capture('llm', async () => {}, { attributes: { 'gen_ai.usage.input_tokens': i } });
        },
        { userId: `c-${i % 4}`, sessionId: `s-${i}` },
      ),
    ),
  );
  await flush();
  const body = await api(base, '/api/users?sort=user_id&order=asc');
  assert.deepEqual(
    body.users.map((u) => [u.user_id, u.traces]),
    [
      ['c-0', 5],
      ['c-1', 5],
      ['c-2', 5],
      ['c-3', 5],
    ],
  );
  // Tokens per user: sum of i with i % 4 == k.
  for (const u of body.users) {
    const k = Number(u.user_id.slice(2));
    const want = Array.from({ length: 20 }, (_, i) => i)
      .filter((i) => i % 4 === k)
      .reduce((a, b) => a + b, 0);
    assert.equal(u.input_tokens, want, u.user_id);
  }
});

test('receiver down: flush resolves, the loss is counted, the app is unaffected', opts, async () => {
  const { base, stop } = await receiver();
  await stop();
  init({ endpoint: base, exportTimeoutMs: 1500, scheduledDelayMs: 60000 });
  const before = stats();
  assert.equal(
    capture('lost', () => 7, { userId: 'u' }),
    7,
  );
  await flush(5000);
  const st = stats();
  assert.equal(st.spansDropped - before.spansDropped, 1);
  assert.equal(st.exportErrors - before.exportErrors, 1);
});

test('bounded buffer: spans past maxQueueSize are dropped and counted', opts, async () => {
  const { base } = await receiver();
  init({ endpoint: base, maxQueueSize: 10, maxExportBatchSize: 10, scheduledDelayMs: 60000 });
  const before = stats();
  // All in one synchronous run: the size-triggered send is a macrotask, so it cannot drain between.
  for (let i = 0; i < 25; i++) capture('burst', () => {}, { userId: 'burst-user' });
  await flush();
  const st = stats();
  assert.equal(st.spansDropped - before.spansDropped, 15);
  assert.equal(st.spansExported - before.spansExported, 10);
  const body = await api(base, '/api/users');
  assert.equal(body.users.find((u) => u.user_id === 'burst-user').traces, 10);
  await shutdown();
  await shutdown();
});

test('a Node process that never calls flush() still delivers its spans (beforeExit)', opts, async () => {
  const { base } = await receiver();
  const app = `
    import { init, capture } from 'userspan-wasm';
    init({ endpoint: '${base}', serviceName: 'wasm-exit' });
    await capture('turn', async () => {}, { userId: 'exit-user' });
  `;
  await run(process.execPath, ['--input-type=module', '-e', app], { cwd: pkg, timeout: 30000 });
  const body = await api(base, '/api/users');
  assert.deepEqual(
    body.users.map((u) => u.user_id),
    ['exit-user'],
  );
});

test('the Node example reports its users to `userspan serve`', opts, async () => {
  const { base } = await receiver();
  // What `npm install` in examples/wasm does (a file: dependency is a symlink).
  const link = join(repo, 'examples', 'wasm', 'node_modules', 'userspan-wasm');
  if (!existsSync(link)) {
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(pkg, link, 'dir');
  }
  const { stdout } = await run(process.execPath, [join(repo, 'examples', 'wasm', 'node.mjs')], {
    cwd: pkg,
    timeout: 60000,
    env: { ...process.env, USERSPAN_ENDPOINT: base },
  });
  assert.match(stdout, /sent/);
  const body = await api(base, '/api/users?sort=user_id&order=asc');
  assert.deepEqual(
    body.users.map((u) => u.user_id),
    ['ada@example.com', 'u-grace', 'u-linus'],
  );
});
