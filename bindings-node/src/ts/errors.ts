// Errors the TypeScript layer raises itself (argument shapes the native side never sees). Core
// option errors are built natively with the same classes and codes (see ../../src/errors.rs):
//
//   TypeError  USERSPAN_INVALID_TYPE    wrong type (option, `name`, `fn`)
//   TypeError  USERSPAN_UNKNOWN_OPTION  unknown option key
//   RangeError USERSPAN_INVALID_VALUE   value outside what is allowed (e.g. userIdType)
//   Error      USERSPAN_CONFIG          unusable init configuration
//
// Every one carries `field` (the argument or option name, or null) and `code`.

/** Error codes of userspan's exceptions (`error.code`). */
export type UserspanErrorCode =
  | 'USERSPAN_INVALID_TYPE'
  | 'USERSPAN_UNKNOWN_OPTION'
  | 'USERSPAN_INVALID_VALUE'
  | 'USERSPAN_CONFIG';

/** Shape of every error userspan throws: a TypeError / RangeError / Error with these fields. */
export interface UserspanError extends Error {
  /** Stable code, see {@link UserspanErrorCode}. */
  code: UserspanErrorCode;
  /** The argument or option the error is about (`userId`, `tags[1]`, `name`), or null. */
  field: string | null;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  const t = typeof v;
  return t === 'object' ? 'an object' : `a ${t}`;
}

/** TypeError for a wrong argument type, thrown before any user code runs. */
export function invalidArgument(field: string, expected: string, got: unknown): UserspanError {
  const e = new TypeError(`userspan: \`${field}\` must be ${expected}, got ${describe(got)}`) as UserspanError;
  e.code = 'USERSPAN_INVALID_TYPE';
  e.field = field;
  return e;
}
