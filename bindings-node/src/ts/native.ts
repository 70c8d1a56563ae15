// Loader and types of the private native addon (built from ../../src/*.rs into
// native/userspan.node). Nothing here is public API.
import { join } from 'node:path';

/** What the context storage holds: the merged scope and the current span (native, opaque). */
export interface Frame {
  end(): void;
  endWithError(typeName: string, message: string, stacktrace?: string | null): void;
  spanIds(): { traceId: string; spanId: string; traceFlags: number } | null;
  attributes(): Record<string, unknown>;
  setAttribute(key: string, value: unknown): void;
}

export interface Stamper {
  render(frame: Frame): Record<string, unknown>;
}

export interface NativeStats {
  spansStarted: number;
  spansExported: number;
  spansDropped: number;
  exportErrors: number;
  valuesTruncated: number;
}

export interface NativeModule {
  startSpan(name: string, options: unknown, outer: Frame | null | undefined): Frame;
  startSpanIn(
    name: string,
    options: unknown,
    outer: Frame | null | undefined,
    traceId: string,
    spanId: string,
    sampled: boolean,
  ): Frame;
  enterScope(options: unknown, outer: Frame | null | undefined): Frame;
  Stamper: new (options: unknown) => Stamper;
  init(options: unknown): void;
  flush(timeoutMs: number): Promise<boolean>;
  shutdown(timeoutMs: number): Promise<void>;
  stats(): NativeStats;
  finishedSpans(): unknown[];
  clearFinishedSpans(): void;
}

function load(): NativeModule {
  const path = join(__dirname, '..', 'native', 'userspan.node');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(path) as NativeModule;
  } catch (e) {
    const err = new Error(
      `userspan: cannot load the native addon at ${path}; build it with \`npm run build\` ` +
        `inside the package (needs cargo). Cause: ${(e as Error).message}`,
    );
    (err as Error & { cause?: unknown }).cause = e;
    throw err;
  }
}

export const native: NativeModule = load();
