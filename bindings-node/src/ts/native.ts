// Loader and types of the private native addon (built from ../../src/*.rs into
// native/userspan.node). Nothing here is public API.
import { join } from 'node:path';

/** What the context storage holds: the merged scope and the current span (a native External). */
export type Frame = object & { readonly __userspanFrame: unique symbol };

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

type Id = string | undefined;

export interface NativeModule {
  /** Starts a capture span; `traceId`/`spanId` (hex) name an OTel JS parent, else `outer`'s span is. */
  start(name: string, outer: Frame | undefined, traceId: Id, spanId: Id, sampled: boolean | undefined, options: unknown): Frame;
  /**
   * `start` with the options' values by position: `values[i]` is option `optionNames()[i]`,
   * present when bit `i` of `mask` is set.
   */
  startIdx(name: string, outer: Frame | undefined, traceId: Id, spanId: Id, sampled: boolean | undefined, mask?: number, ...values: unknown[]): Frame;
  /** An attribute scope (no span of its own). */
  scope(outer: Frame | undefined, options: unknown): Frame;
  scopeIdx(outer: Frame | undefined, mask?: number, ...values: unknown[]): Frame;
  /** The core's option names, in the order of the indexed fast path. */
  optionNames(): string[];
  end(frame: Frame): void;
  endError(frame: Frame, typeName: string, message: string, stacktrace: string | undefined): void;
  spanIds(frame: Frame): { traceId: string; spanId: string; traceFlags: number } | null;
  frameAttributes(frame: Frame): Record<string, unknown>;
  setAttribute(frame: Frame, key: string, value: unknown): void;
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
