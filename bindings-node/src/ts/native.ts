// Loader and types of the private native addon (built from ../../src/*.rs into
// native/userspan.<platform>-<arch>[-<libc>].node, napi-rs's prebuild naming; the development
// build also writes native/userspan.node). Nothing here is public API except the resolver's use in
// tests.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { UserspanErrorCode } from './shared/errors';

/** A native frame kept by V8: an External owning the merged scope and the current span. */
export type NativeFrame = object & { readonly __userspanFrame: unique symbol };

/**
 * A native frame as the addon takes it: a slot number (a sync capture whose span is open), a
 * {@link NativeFrame}, or undefined for none. See `frame.ts` and `../frame.rs`.
 */
export type NativeRef = number | NativeFrame | undefined;

export interface Stamper {
  render(frame: NativeRef): Record<string, unknown>;
}

export interface NativeStats {
  spansStarted: number;
  spansExported: number;
  spansDropped: number;
  exportErrors: number;
  valuesTruncated: number;
}

type Id = string | undefined;

/**
 * Arguments of the indexed start calls: name, outer frame, OTel parent ids (hex) and sampled flag,
 * the presence mask, then the options' values by position (`values[i]` is option
 * `optionNames()[i]`, present when bit `i` of `mask` is set).
 */
type StartArgs = [
  name: string,
  outer: NativeRef,
  traceId: Id,
  spanId: Id,
  sampled: boolean | undefined,
  mask?: number,
  ...values: unknown[],
];

export interface NativeModule {
  /** Starts a capture span; `traceId`/`spanId` (hex) name an OTel JS parent, else `outer`'s span is. */
  start(
    name: string,
    outer: NativeRef,
    traceId: Id,
    spanId: Id,
    sampled: boolean | undefined,
    options: unknown,
  ): NativeFrame;
  /**
   * `start` with the options' values by position: `values[i]` is option `optionNames()[i]`,
   * present when bit `i` of `mask` is set.
   */
  startIdx(...args: StartArgs): NativeFrame;
  /** `startIdx` into a slot of the native slab: for a sync capture, freed by `endSlot`. */
  startSlot(...args: StartArgs): number;
  /** An attribute scope (no span of its own). */
  scope(outer: NativeRef, options: unknown): NativeFrame;
  scopeIdx(outer: NativeRef, mask?: number, ...values: unknown[]): NativeFrame;
  /** The core's option names, in the order of the indexed fast path. */
  optionNames(): string[];
  /** The longest string option (UTF-16 units) the core never cuts. */
  maxIdChars(): number;
  end(frame: NativeRef): void;
  endError(frame: NativeRef, typeName: string, message: string, stacktrace: string | undefined): void;
  /** Ends a slot's span, frees the slot, and writes the span's ids into {@link ids}. */
  endSlot(slot: number): void;
  endSlotError(slot: number, typeName: string, message: string, stacktrace: string | undefined): void;
  /** The slot's frame moved into an External (its capture outlives the call that started it). */
  detach(slot: number): NativeFrame;
  /** An ended slot capture again: its outer frame, the 7 id words `endSlot` wrote, its options. */
  revive(
    outer: NativeRef,
    i0: number,
    i1: number,
    i2: number,
    i3: number,
    i4: number,
    i5: number,
    i6: number,
    mask: number,
    ...values: unknown[]
  ): NativeFrame;
  /** Sync captures holding a slot on this thread now (diagnostics: no way out leaks one). */
  openSlots(): number;
  /** Where `endSlot` writes: trace id (4 big-endian words), span id (2), trace flags. */
  ids: Int32Array;
  spanIds(frame: NativeRef): { traceId: string; spanId: string; traceFlags: number } | null;
  frameAttributes(frame: NativeRef): Record<string, unknown>;
  setAttribute(frame: NativeRef, key: string, value: unknown): void;
  Stamper: new (options: unknown) => Stamper;
  init(options: unknown): void;
  /** Hands finished OTel JS spans (compact shape, `host.ts`) to init's pipeline; returns how many were queued. */
  exportHostSpans(spans: unknown[]): number;
  /** Whether init's pipeline exports OTel JS spans. */
  hostExportActive(): boolean;
  flush(timeoutMs: number): Promise<boolean>;
  shutdown(timeoutMs: number): Promise<void>;
  stats(): NativeStats;
  finishedSpans(): unknown[];
  clearFinishedSpans(): void;
  /** The classes the addon throws core errors as: `new C(message, code, field)` (see ../errors.rs). */
  registerErrorClasses(typeError: ErrorClass, valueError: ErrorClass, configError: ErrorClass): void;
  /** The core's `DEFAULT_FLUSH_TIMEOUT`, ms. */
  defaultFlushTimeoutMs(): number;
}

/** A userspan error class as the addon constructs it. */
export type ErrorClass = new (message: string, code: UserspanErrorCode, field: string | null) => Error;

/** The running platform as napi-rs names prebuilds: `process.platform`, `process.arch`, libc. */
export interface PlatformInfo {
  platform: string;
  arch: string;
  /** Linux only: `"gnu"` (glibc) or `"musl"`; Windows: `"msvc"`; else undefined. */
  libc?: string;
}

/** This process's {@link PlatformInfo} (`USERSPAN_NATIVE_PLATFORM=<platform>-<arch>[-<libc>]` overrides it). */
export function currentPlatform(): PlatformInfo {
  const override = process.env.USERSPAN_NATIVE_PLATFORM;
  if (override) {
    const [platform, arch, libc] = override.split('-');
    return { platform, arch: arch ?? '', libc };
  }
  let libc: string | undefined;
  if (process.platform === 'linux') {
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    libc = header?.glibcVersionRuntime ? 'gnu' : 'musl';
  } else if (process.platform === 'win32') libc = 'msvc';
  return { platform: process.platform, arch: process.arch, libc };
}

/** The prebuilt addon's file name for `p` (napi-rs convention): `userspan.linux-x64-gnu.node`. */
export function nativeFileName(p: PlatformInfo): string {
  return `userspan.${[p.platform, p.arch, p.libc].filter(Boolean).join('-')}.node`;
}

/**
 * The addon file to load from `dir` for platform `p`: the development build `userspan.node` when
 * present (a source checkout; scripts/build.mjs writes it), else the prebuilt
 * `userspan.<platform>-<arch>[-<libc>].node` (the packed package carries only that one).
 *
 * @throws Error naming the platform (`process.platform` / `arch` / libc) and the files present when none fits.
 */
export function resolveNative(dir: string, p: PlatformInfo, present: string[]): string {
  const want = nativeFileName(p);
  // the development build first: tests load it by that path too, and one process must not map
  // the same library twice under two names
  if (present.includes('userspan.node') && p.platform === process.platform && p.arch === process.arch)
    return join(dir, 'userspan.node');
  if (present.includes(want)) return join(dir, want);
  throw new Error(
    `userspan: no native addon for this platform (platform=${p.platform} arch=${p.arch} libc=${p.libc ?? 'n/a'}): ` +
      `looked for ${want} in ${dir}, found ${present.length ? present.join(', ') : 'no .node files'}. ` +
      'Install the package built for this platform (scripts/package) or build from source with `npm run build` (needs cargo).',
  );
}

function load(): NativeModule {
  const dir = join(__dirname, '..', 'native');
  let present: string[] = [];
  try {
    present = readdirSync(dir).filter((f) => f.endsWith('.node'));
  } catch {
    // no native/ directory: resolveNative names that
  }
  const path = resolveNative(dir, currentPlatform(), present);
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
