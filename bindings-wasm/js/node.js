// userspan-wasm for Node.js (and Deno / Bun through their Node compatibility): the nodejs build of
// the WebAssembly core, loaded synchronously at import, with scopes in AsyncLocalStorage.
import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import { attach, setup } from './wasm.js';
export * from './public.js';
setup({
    storage: new AsyncLocalStorage(),
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
attach(createRequire(import.meta.url)('../pkg/node/userspan_wasm.js'));
/** Resolves at once: the Node build is loaded at import (kept for code shared with browsers). */
export function load(_options) {
    return Promise.resolve();
}
