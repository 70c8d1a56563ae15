// The public surface both packages export unchanged (each adds what only it has: Node the
// `UserAttributesSpanProcessor`, WASM `load`, `contextMode`, `setContextStorage`).
export {
  CaptureContext,
  CaptureHandle,
  capture,
  clearFinishedSpans,
  flush,
  getAttributes,
  getFinishedSpans,
  init,
  shutdown,
  startCapture,
  stats,
  withAttributes,
  withSession,
  withUser,
} from './api.js';
export {
  ConfigError,
  UserspanError,
  type UserspanErrorCode,
  type UserspanErrorFields,
  UserspanTypeError,
  UserspanValueError,
} from './errors.js';
export type {
  AttributeValue,
  CaptureOptions,
  CaptureResult,
  FinishedSpan,
  InitOptions,
  JsonValue,
  Stats,
  UserIdType,
  UserOptions,
} from './types.js';
