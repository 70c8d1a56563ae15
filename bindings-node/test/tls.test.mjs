// OTLP/HTTP over TLS from Node to a real HTTPS sink started here (node:https), with a test CA made
// here by the `openssl` CLI: export succeeds when the CA is trusted (`certificate`, or the
// standard variables in a child process), fails without it (counted in `stats()`, never thrown,
// the app unaffected), an mTLS sink requires the client certificate, gzip is sent when asked, and a
// missing file is a ConfigError at `init`. Bodies are OTLP/JSON (`protocol: 'http/json'`) so the
// test parses them without a protobuf library; the protobuf case checks the content type and the
// (gunzipped) bytes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import * as userspan from 'userspan';

const run = promisify(execFile);
/** The test CA is made with the `openssl` CLI; without it every test here is skipped, saying why. */
const skip = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'TLS TESTS SKIPPED: the openssl CLI (which makes the test CA) is not on PATH';
  }
})();
let dir;
const path = (name) => join(dir, name);

/** A CA (and another that signs nothing), a server certificate for 127.0.0.1 and a client one. */
function makePki() {
  dir = mkdtempSync(join(tmpdir(), 'userspan-tls-'));
  const ssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const ca of ['ca', 'other-ca']) {
    ssl(
      'req',
      '-x509',
      ...key,
      '-keyout',
      `${ca}.key`,
      '-out',
      `${ca}.pem`,
      '-days',
      '2',
      '-subj',
      `/CN=${ca}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
  }
  const leaf = (name, ext) => {
    writeFileSync(path(`${name}.ext`), `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n${ext}\n`);
    ssl('req', ...key, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=userspan-test-${name}`);
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    );
  };
  leaf('server', 'extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost');
  leaf('client', 'extendedKeyUsage=clientAuth');
}

/** An OTLP/HTTPS sink on 127.0.0.1 that keeps every request and every refused handshake. */
async function startSink({ mtls = false } = {}) {
  const requests = [];
  const handshakeFailures = [];
  const server = createServer(
    {
      key: readFileSync(path('server.key')),
      cert: readFileSync(path('server.pem')),
      ...(mtls ? { ca: readFileSync(path('ca.pem')), requestCert: true, rejectUnauthorized: true } : {}),
    },
    (req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        const json = (req.headers['content-type'] ?? '').startsWith('application/json');
        requests.push({ method: req.method, url: req.url, headers: req.headers, raw, body, json });
        res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
        res.end(json ? '{}' : '');
      });
    },
  );
  server.on('tlsClientError', (e) => handshakeFailures.push(e.message));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${server.address().port}`,
    requests,
    handshakeFailures,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** `{ resource, span }` of every span of an OTLP/JSON request, attributes as plain values. */
function spansOf(request) {
  const value = (v) =>
    'stringValue' in v ? v.stringValue : 'arrayValue' in v ? (v.arrayValue.values ?? []).map(value) : v;
  const attrs = (kvs = []) => Object.fromEntries(kvs.map((kv) => [kv.key, value(kv.value ?? {})]));
  return JSON.parse(request.body.toString('utf8')).resourceSpans.flatMap((rs) =>
    rs.scopeSpans.flatMap((ss) =>
      ss.spans.map((s) => ({
        resource: attrs(rs.resource?.attributes),
        span: { ...s, attributes: attrs(s.attributes) },
      })),
    ),
  );
}

const base = (url, options = {}) => ({
  endpoint: url,
  serviceName: 'tls-bot',
  protocol: 'http/json',
  scheduledDelayMs: 20,
  exportTimeoutMs: 2000,
  ...options,
});
const oneCapture = (name) =>
  userspan.capture(name, () => 42, { userId: 'ada@example.com', sessionId: 'conv-7', tags: ['vip'] });

before(() => {
  for (const k of Object.keys(process.env))
    if (k.startsWith('OTEL_') || k.startsWith('USERSPAN_')) delete process.env[k];
  if (!skip) makePki();
});
after(() => dir && rmSync(dir, { recursive: true, force: true }));

test('export over TLS succeeds when the CA is trusted', { skip }, async () => {
  const sink = await startSink();
  try {
    userspan.init(base(sink.url, { certificate: path('ca.pem') }));
    const before = userspan.stats();
    assert.equal(oneCapture('tls-turn'), 42);
    await userspan.flush(10_000);
    const after = userspan.stats();
    assert.equal(after.spansExported - before.spansExported, 1, JSON.stringify(after));
    assert.equal(after.exportErrors, before.exportErrors);
    assert.equal(sink.requests.length, 1);
    const [r] = sink.requests;
    assert.equal(r.method, 'POST');
    assert.equal(r.url, '/v1/traces');
    assert.equal(r.headers['content-encoding'], undefined, 'no compression unless asked');
    const [{ resource, span }] = spansOf(r);
    assert.equal(span.name, 'tls-turn');
    assert.equal(resource['service.name'], 'tls-bot');
    assert.equal(span.attributes['user.id'], 'ada@example.com');
    assert.equal(span.attributes['session.id'], 'conv-7');
    assert.deepEqual(span.attributes['tag.tags'], ['vip']);
    assert.deepEqual(sink.handshakeFailures, []);
  } finally {
    await userspan.shutdown(5000);
    await sink.close();
  }
});

for (const trusted of ['the default roots', 'another CA']) {
  test(`an untrusted server (${trusted}) is a counted export error and the app goes on`, { skip }, async () => {
    const sink = await startSink();
    try {
      const certificate = trusted === 'another CA' ? path('other-ca.pem') : undefined;
      userspan.init(base(sink.url, { certificate }));
      const before = userspan.stats();
      const started = performance.now();
      let sum = 0;
      for (let i = 0; i < 10; i++) sum += oneCapture('untrusted');
      assert.equal(sum, 420, 'captures run and return their results');
      assert.ok(performance.now() - started < 1000, 'capture never waits on export');
      await userspan.flush(20_000); // resolves, never rejects
      const after = userspan.stats();
      assert.ok(after.exportErrors > before.exportErrors, JSON.stringify(after));
      assert.equal(after.spansDropped - before.spansDropped, 10, JSON.stringify(after));
      assert.equal(after.spansExported, before.spansExported);
      assert.deepEqual(sink.requests, [], 'no request got past the handshake');
      assert.ok(sink.handshakeFailures.length > 0, 'the client reached the sink and the handshake failed');
    } finally {
      await userspan.shutdown(5000);
      await sink.close();
    }
  });
}

test('an mTLS sink requires the client certificate', { skip }, async () => {
  const sink = await startSink({ mtls: true });
  try {
    userspan.init(base(sink.url, { certificate: path('ca.pem') }));
    let before = userspan.stats();
    assert.equal(oneCapture('no-client-cert'), 42);
    await userspan.flush(20_000);
    const after = userspan.stats();
    assert.ok(after.exportErrors > before.exportErrors, JSON.stringify(after));
    assert.equal(after.spansExported, before.spansExported);
    assert.equal(sink.requests.length, 0);
    await userspan.shutdown(5000);

    userspan.init(
      base(sink.url, {
        certificate: path('ca.pem'),
        clientCertificate: path('client.pem'),
        clientKey: path('client.key'),
      }),
    );
    before = userspan.stats();
    oneCapture('client-cert');
    await userspan.flush(10_000);
    assert.equal(userspan.stats().spansExported - before.spansExported, 1);
    assert.equal(sink.requests.length, 1);
    const [{ span }] = spansOf(sink.requests[0]);
    assert.equal(span.name, 'client-cert');
    assert.equal(span.attributes['user.id'], 'ada@example.com');
  } finally {
    await userspan.shutdown(5000);
    await sink.close();
  }
});

test('gzip over TLS when asked, protobuf and JSON', { skip }, async () => {
  const sink = await startSink();
  try {
    for (const protocol of ['http/protobuf', 'http/json']) {
      userspan.init(base(sink.url, { certificate: path('ca.pem'), compression: 'gzip', protocol }));
      oneCapture('gzipped');
      await userspan.flush(10_000);
      await userspan.shutdown(5000);
    }
    assert.equal(sink.requests.length, 2);
    for (const r of sink.requests) {
      assert.equal(r.headers['content-encoding'], 'gzip');
      assert.deepEqual([...r.raw.subarray(0, 2)], [0x1f, 0x8b], 'the body is a gzip stream');
    }
    const [proto, json] = sink.requests;
    assert.equal(proto.headers['content-type'], 'application/x-protobuf');
    assert.ok(proto.body.includes('gzipped') && proto.body.includes('ada@example.com'), 'protobuf strings are UTF-8');
    assert.equal(spansOf(json)[0].span.name, 'gzipped');
  } finally {
    await userspan.shutdown(5000);
    await sink.close();
  }
});

test('the standard variables alone configure TLS and mTLS (traces variants win)', { skip }, async () => {
  const sink = await startSink({ mtls: true });
  try {
    const code = `
      const u = require('userspan');
      u.init({ scheduledDelayMs: 20 });
      console.log(u.capture('env-tls', () => 'ran', { userId: 'u-env' }));
      u.flush(10000).then(() => { const s = u.stats(); console.log(s.spansExported, s.exportErrors); });
    `;
    const env = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('OTEL_') || k.startsWith('USERSPAN_')) delete env[k];
    Object.assign(env, {
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_CERTIFICATE: path('other-ca.pem'),
      OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: path('ca.pem'),
      OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: path('client.pem'),
      OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: path('client.key'),
    });
    const { stdout } = await run(process.execPath, ['-e', code], { env, cwd: new URL('..', import.meta.url) });
    assert.deepEqual(stdout.trim().split(/\s+/), ['ran', '1', '0']);
    assert.equal(sink.requests.length, 1);
    const [{ span }] = spansOf(sink.requests[0]);
    assert.equal(span.name, 'env-tls');
    assert.equal(span.attributes['user.id'], 'u-env');
  } finally {
    await sink.close();
  }
});

test('a missing certificate file is a ConfigError naming the option and the path', { skip }, () => {
  const missing = path('missing.pem');
  assert.throws(
    () => userspan.init(base('https://127.0.0.1:1', { certificate: missing })),
    (e) => e instanceof userspan.ConfigError && e.message.includes('certificate') && e.message.includes(missing),
  );
  assert.throws(
    () => userspan.init(base('https://127.0.0.1:1', { clientCertificate: path('client.pem') })),
    (e) => e instanceof userspan.ConfigError && /clientCertificate/.test(e.message) && /no client key/.test(e.message),
  );
});
