// `userspan/testing`: the reference receiver for an app's tests (node:test, vitest, jest: plain
// async functions). `startReceiver()` runs `userspan serve --db :memory:` on a free loopback port
// (binary: $USERSPAN_RECEIVER_BIN, else `userspan` on PATH), `receiver.init(options)` points
// userspan's `init` at it, and `users()` / `user(id)` / `traces(userId)` return the receiver's API
// JSON (design.md, "JSON API") after a flush of userspan's pipeline. `stop()` ends the receiver.
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { flush, type InitOptions, init, type OtelStatus, otelStatus, stats } from './index';

/** Environment variable naming the receiver binary. */
export const RECEIVER_BIN_ENV = 'USERSPAN_RECEIVER_BIN';
const BANNER = 'userspan receiver listening on ';
const START_TIMEOUT_MS = 30_000;

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * The receiver binary's path: `$USERSPAN_RECEIVER_BIN`, else `userspan` on `PATH`.
 *
 * @throws Error saying how to get one (`cargo build -p userspan-receiver --bin userspan`, or
 *   `pip install userspan-receiver`) when none is found or the variable names no executable file.
 */
export function findReceiver(): string {
  const configured = process.env[RECEIVER_BIN_ENV];
  if (configured) {
    if (!executable(configured))
      throw new Error(`userspan/testing: ${RECEIVER_BIN_ENV}=${configured} is not an executable file`);
    return configured;
  }
  const exe = process.platform === 'win32' ? 'userspan.exe' : 'userspan';
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, exe))) return join(dir, exe);
  }
  throw new Error(
    'userspan/testing needs the reference receiver: `pip install userspan-receiver` (gives the `userspan` command), ' +
      `or set ${RECEIVER_BIN_ENV} to a \`userspan\` binary (\`cargo build -p userspan-receiver --bin userspan\`)`,
  );
}

/** JSON as the receiver's API returns it. */
// biome-ignore lint/suspicious/noExplicitAny: the API's rows are documented in design.md, not typed here
export type Json = any;

/** A running `userspan serve --db :memory:` on a free loopback port. */
export class Receiver {
  /** Base URL, e.g. `http://127.0.0.1:40123` (OTLP/HTTP at `/v1/traces`, API at `/api`). */
  readonly url: string;
  private constructor(
    private readonly proc: ChildProcess,
    url: string,
  ) {
    this.url = url;
  }

  /** Starts one (see {@link startReceiver}). */
  static async start(binary: string = findReceiver()): Promise<Receiver> {
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('USERSPAN_') || k === RECEIVER_BIN_ENV),
    );
    const proc = spawn(binary, ['serve', '--db', ':memory:', '--listen', '127.0.0.1:0', '--grpc-listen', 'off'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => fail('no banner in time'), START_TIMEOUT_MS);
      const fail = (why: string) => {
        clearTimeout(timer);
        proc.kill('SIGKILL');
        reject(new Error(`userspan/testing: ${binary} serve did not start (${why}): ${output.slice(-2000)}`));
      };
      proc.on('error', (e) => fail(e.message));
      proc.on('exit', (code) => fail(`exited with ${code}`));
      proc.stderr?.on('data', (d) => {
        output += d;
      });
      proc.stdout?.on('data', (d) => {
        output += d;
        const line = output.split('\n').find((l) => l.startsWith(BANNER));
        if (line !== undefined) {
          clearTimeout(timer);
          proc.removeAllListeners('exit');
          proc.removeAllListeners('error');
          resolve(line.slice(BANNER.length).trim());
        }
      });
    });
    // keep draining so the receiver never blocks on a full pipe
    proc.stdout?.resume();
    proc.stderr?.resume();
    return new Receiver(proc, url);
  }

  /**
   * `init({ endpoint: url, scheduledDelayMs: 100, ...options })`; returns {@link otelStatus}
   * (the OpenTelemetry JS provider and the instrumentations enabled).
   */
  init(options: InitOptions = {}): OtelStatus {
    init({ scheduledDelayMs: 100, ...options, endpoint: this.url } as InitOptions);
    return otelStatus();
  }

  /** Exports every finished span; throws when the export did not complete. */
  async flush(): Promise<void> {
    await flush();
    const s = stats();
    if (s.spansDropped > 0 || s.exportErrors > 0)
      throw new Error(`userspan/testing: spans were not all exported to ${this.url}: stats() = ${JSON.stringify(s)}`);
  }

  /** `GET {url}{path}?{query}` after {@link flush}: the parsed JSON; `null` for 404. */
  async get(path: string, query: Record<string, string | number | undefined> = {}): Promise<Json> {
    await this.flush();
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v));
    const res = await fetch(this.url + path + (q.size ? `?${q}` : ''));
    if (res.status === 404) return null;
    if (!res.ok) throw new Error(`userspan/testing: GET ${path} answered ${res.status}: ${await res.text()}`);
    return res.json();
  }

  /** `GET /api/users` (`limit` 1000 unless given): the `users` rows. */
  async users(query: Record<string, string | number | undefined> = {}): Promise<Json[]> {
    return (await this.get('/api/users', { limit: 1000, ...query })).users;
  }

  /** `GET /api/users/{id}`: the user's detail, or `null` when the receiver has no such user. */
  user(id: string, query: Record<string, string | number | undefined> = {}): Promise<Json | null> {
    return this.get(`/api/users/${encodeURIComponent(id)}`, query);
  }

  /** `GET /api/users/{id}/traces` (`limit` 1000 unless given): the `traces` rows (`[]` for an unknown user). */
  async traces(userId: string, query: Record<string, string | number | undefined> = {}): Promise<Json[]> {
    const page = await this.get(`/api/users/${encodeURIComponent(userId)}/traces`, { limit: 1000, ...query });
    return page === null ? [] : page.traces;
  }

  /** Stops the receiver (SIGTERM, SIGKILL after 10 s). Idempotent. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      // 'close' too: with the native addon loaded, the child's end was seen to arrive as 'close'
      // (exitCode set) without an 'exit' event, which left this promise pending forever.
      this.proc.once('exit', done);
      this.proc.once('close', done);
      this.proc.kill('SIGTERM');
    });
  }
}

/** Starts the reference receiver (see {@link Receiver}); `await receiver.stop()` when done. */
export function startReceiver(binary?: string): Promise<Receiver> {
  return Receiver.start(binary);
}
