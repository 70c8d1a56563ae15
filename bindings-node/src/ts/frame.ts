// The TypeScript half of a frame: what the context storage holds for a capture or an attribute
// scope. The native half (a slab slot or an External) is described in ../frame.rs.
import { native, type NativeFrame, type NativeRef } from './native';
import type { OtelContext, OtelContextManager } from './otel';

const ids = native.ids;

/**
 * A capture or an attribute scope, as `AsyncLocalStorage` holds it. `ref` is its native frame:
 *
 * - a slot number while a synchronous capture's span is open (no GC-tracked native object per
 *   capture: the slot is freed when the capture ends);
 * - an External (attribute scopes, `startCapture`, captures whose function returned a promise or
 *   an async iterable, which {@link keepFrame} moves out of their slot);
 * - undefined once a slot capture ended. Async work started inside it may still run in it later;
 *   {@link nativeOf} then revives it from what it kept: its `outer` frame, the options it started
 *   with (`mask`/`vals`: strings the core never cuts, or null/undefined, so reviving validates and
 *   counts nothing anew) and its span's ids (`i0`…`i6`, copied when it ended).
 */
export class Frame {
  outer: Frame | undefined = undefined;
  vals: unknown[] | undefined = undefined;
  mask = 0;
  i0 = 0;
  i1 = 0;
  i2 = 0;
  i3 = 0;
  i4 = 0;
  i5 = 0;
  i6 = 0;
  /**
   * For a capture started under an OTel JS context manager that could not be wrapped (see
   * `otel.ts`): the manager and the context to activate with the frame. Undefined otherwise.
   */
  otel: [OtelContextManager, OtelContext] | undefined = undefined;
  constructor(public ref: NativeRef) {}
}

/** A slot capture's frame: kept so that it can be revived after it ends. */
export function slotFrame(slot: number, outer: Frame | undefined, mask: number, vals: unknown[] | undefined): Frame {
  const f = new Frame(slot);
  f.outer = outer;
  f.mask = mask;
  f.vals = vals;
  return f;
}

/** The native frame to pass to the addon (undefined outside any frame). */
export function nativeOf(f: Frame | undefined): NativeRef {
  if (f === undefined) return undefined;
  return f.ref ?? revive(f);
}

function revive(f: Frame): NativeFrame {
  const v = f.vals ?? [];
  const outer = nativeOf(f.outer);
  // biome-ignore format: the values by position stay on one line, as the native side reads them
  const ref = native.revive(outer, f.i0, f.i1, f.i2, f.i3, f.i4, f.i5, f.i6, f.mask, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]);
  f.ref = ref;
  return ref;
}

/** Marks a slot capture ended, keeping its span's ids from `ids`. */
function closeSlot(f: Frame): void {
  f.ref = undefined;
  f.i0 = ids[0];
  f.i1 = ids[1];
  f.i2 = ids[2];
  f.i3 = ids[3];
  f.i4 = ids[4];
  f.i5 = ids[5];
  f.i6 = ids[6];
}

/** Ends a capture's span (idempotent). */
export function endFrame(f: Frame): void {
  const ref = f.ref;
  if (typeof ref === 'number') {
    native.endSlot(ref);
    closeSlot(f);
  } else if (ref !== undefined) {
    native.end(ref);
  }
}

/** Ends a capture's span recording an error (idempotent). */
export function endFrameWithError(f: Frame, typeName: string, message: string, stack: string | undefined): void {
  const ref = f.ref;
  if (typeof ref === 'number') {
    native.endSlotError(ref, typeName, message, stack);
    closeSlot(f);
  } else if (ref !== undefined) {
    native.endError(ref, typeName, message, stack);
  }
}

/** Moves a slot capture into an External: its span stays open past the call that started it. */
export function keepFrame(f: Frame): void {
  if (typeof f.ref === 'number') f.ref = native.detach(f.ref);
}
