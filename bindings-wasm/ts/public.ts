// The public API of userspan-wasm, the same from both entries (node.ts, web.ts): the shared host
// API (../../js-shared/public.ts) and what only this package has. Types are generated from here.
export * from './shared/public.js';
export {
  type StampableSpan,
  UserAttributesSpanProcessor,
  type UserAttributesSpanProcessorOptions,
} from './shared/api.js';
export { type ContextStorage, contextMode, type LoadOptions, setContextStorage } from './wasm.js';
