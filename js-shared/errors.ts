// The errors userspan throws, one class family for both JavaScript packages. The native side
// (bindings-node/src/errors.rs, bindings-wasm/src/errors.rs) maps the core's `userspan::Error`
// variants onto these classes in one function per binding; each package registers the classes
// with its native module at load ({@link errorClasses}), so core errors are these very classes and
// carry the core's message unchanged. The JS layer itself only checks argument shapes the native
// side never sees (`name`, `fn`, ...: {@link invalidArgument}).
//
//   UserspanError (Error)        base; `instanceof UserspanError` holds for every class below
//   ├── UserspanTypeError (TypeError)    USERSPAN_INVALID_TYPE, USERSPAN_UNKNOWN_OPTION
//   ├── UserspanValueError (RangeError)  USERSPAN_INVALID_VALUE (e.g. userIdType outside the enum)
//   └── ConfigError (UserspanError)      USERSPAN_CONFIG (unusable init configuration)
//
// UserspanTypeError and UserspanValueError extend the built-in TypeError / RangeError (so
// `instanceof TypeError` keeps holding) and are made `instanceof UserspanError` through
// `UserspanError[Symbol.hasInstance]`. The codes are the core's `userspan::Error::code()`.

/** Error codes of userspan's exceptions (`error.code`), the core's `Error::code()` values. */
export type UserspanErrorCode =
  | 'USERSPAN_INVALID_TYPE'
  | 'USERSPAN_UNKNOWN_OPTION'
  | 'USERSPAN_INVALID_VALUE'
  | 'USERSPAN_CONFIG';

/** What every userspan error carries besides `message`. */
export interface UserspanErrorFields {
  /** Stable code, see {@link UserspanErrorCode}. */
  readonly code: UserspanErrorCode;
  /** The argument or option the error is about (`userId`, `tags[1]`, `attributes.k`, `name`), or null. */
  readonly field: string | null;
}

const ownHasInstance = Function.prototype[Symbol.hasInstance];

/**
 * Base class of every error userspan throws. Raised at the call, before the wrapped function
 * runs or anything starts. `err instanceof UserspanError` also holds for a
 * {@link UserspanTypeError} and a {@link UserspanValueError}.
 */
export class UserspanError extends Error implements UserspanErrorFields {
  readonly code: UserspanErrorCode;
  readonly field: string | null;
  /** `message` is the core's (or the argument check's); `code` and `field` as documented. */
  constructor(message: string, code: UserspanErrorCode = 'USERSPAN_CONFIG', field: string | null = null) {
    super(message);
    this.code = code;
    this.field = field;
  }
  /** Prototype chain, plus the two built-in-based classes for `instanceof UserspanError` itself. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class `instanceof` asks about (ConfigError inherits this method)
    if (ownHasInstance.call(this, value)) return true;
    // biome-ignore lint/complexity/noThisInStatic: as above
    return this === UserspanError && (value instanceof UserspanTypeError || value instanceof UserspanValueError);
  }
}

/** A value has the wrong type (`USERSPAN_INVALID_TYPE`) or an option does not exist (`USERSPAN_UNKNOWN_OPTION`). */
export class UserspanTypeError extends TypeError implements UserspanErrorFields {
  readonly code: UserspanErrorCode;
  readonly field: string | null;
  /** `message` is the core's (or the argument check's). */
  constructor(message: string, code: UserspanErrorCode = 'USERSPAN_INVALID_TYPE', field: string | null = null) {
    super(message);
    this.code = code;
    this.field = field;
  }
}

/** A value outside what is allowed (`USERSPAN_INVALID_VALUE`), e.g. `userIdType: "phone-number"`. */
export class UserspanValueError extends RangeError implements UserspanErrorFields {
  readonly code: UserspanErrorCode;
  readonly field: string | null;
  /** `message` is the core's. */
  constructor(message: string, code: UserspanErrorCode = 'USERSPAN_INVALID_VALUE', field: string | null = null) {
    super(message);
    this.code = code;
    this.field = field;
  }
}

/** An unusable `init` configuration (`USERSPAN_CONFIG`: bad endpoint, hashing without `hashKey`, ...); `field` is null. */
export class ConfigError extends UserspanError {
  /** `message` is the core's. */
  constructor(message: string, code: UserspanErrorCode = 'USERSPAN_CONFIG', field: string | null = null) {
    super(message, code, field);
  }
}

// `name` (what `error.type` records when one of these is re-thrown through a capture) spelled out,
// so that a minifier renaming the classes does not change it.
for (const [cls, name] of [
  [UserspanError, 'UserspanError'],
  [UserspanTypeError, 'UserspanTypeError'],
  [UserspanValueError, 'UserspanValueError'],
  [ConfigError, 'ConfigError'],
] as const) {
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true });
}

/**
 * The classes the native side constructs, in the order its `registerErrorClasses(type, value,
 * config)` takes them; each is called as `new C(message, code, field)`.
 */
export const errorClasses = [UserspanTypeError, UserspanValueError, ConfigError] as const;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  const t = typeof v;
  return t === 'object' ? 'an object' : `a ${t}`;
}

/**
 * The {@link UserspanTypeError} for an argument of the wrong type (`field` = the argument's
 * name), thrown before any user code runs. Its message is worded like the core's option errors.
 */
export function invalidArgument(field: string, expected: string, got: unknown): UserspanTypeError {
  return new UserspanTypeError(
    `userspan: \`${field}\` must be ${expected}, got ${describe(got)}`,
    'USERSPAN_INVALID_TYPE',
    field,
  );
}
