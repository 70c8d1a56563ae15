// userspan-wasm for Node.js (and Deno / Bun through their Node compatibility): the nodejs build of
// the WebAssembly core, loaded synchronously at import, with scopes in AsyncLocalStorage.
import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import { createApi } from './api.js';

const require = createRequire(import.meta.url);
const native = require('../pkg/node/userspan_wasm.js');

const api = createApi(native, {
  storage: new AsyncLocalStorage(),
  ready: () => true,
  // `beforeExit` fires when the loop drains: send what is buffered (no signal handler is touched;
  // call `await shutdown()` before `process.exit()`).
  onExit(hook) {
    const listener = () => {
      hook();
    };
    process.on('beforeExit', listener);
    return () => process.removeListener('beforeExit', listener);
  },
});

/** Resolves at once: the Node build is loaded at import (kept for code shared with browsers). */
export function load() {
  return Promise.resolve();
}

export const {
  init,
  capture,
  startCapture,
  withAttributes,
  withUser,
  withSession,
  getAttributes,
  flush,
  shutdown,
  stats,
  getFinishedSpans,
  clearFinishedSpans,
  contextMode,
  setContextStorage,
  CaptureHandle,
  CaptureContext,
} = api;
