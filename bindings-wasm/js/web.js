// userspan-wasm for browsers and edge runtimes (Cloudflare Workers, Deno, Vercel Edge): the web
// build of the WebAssembly core. Call `await load()` once before `init()`.
//
// Context: AsyncLocalStorage when the runtime provides one as a global (Vercel Edge, Workers with
// nodejs_compat) or when passed to `load({ AsyncLocalStorage })`; else a synchronous stack (see
// README "Context isolation").
import wasmInit, * as glue from '../pkg/web/userspan_wasm.js';
import { attach, SyncStorage, setContextStorage, setup, } from './wasm.js';
export * from './public.js';
const native = glue;
let loading;
let loaded = false;
function defaultStorage() {
    const Als = globalThis.AsyncLocalStorage;
    return typeof Als === 'function' ? new Als() : new SyncStorage();
}
function exitHook(hook) {
    // Page going away: send what is buffered (the requests use `keepalive`, so they outlive the page).
    if (typeof globalThis.addEventListener !== 'function' || typeof globalThis.document === 'undefined')
        return undefined;
    const onHide = () => {
        if (globalThis.document.visibilityState === 'hidden')
            hook();
    };
    const onPageHide = () => hook();
    globalThis.addEventListener('visibilitychange', onHide);
    globalThis.addEventListener('pagehide', onPageHide);
    return () => {
        globalThis.removeEventListener('visibilitychange', onHide);
        globalThis.removeEventListener('pagehide', onPageHide);
    };
}
setup({ storage: defaultStorage(), onExit: exitHook });
function loadedNow() {
    attach(native);
    loaded = true;
}
/**
 * Loads the WebAssembly module. `options.module` is what to instantiate: a URL / string / Request /
 * Response / BufferSource / WebAssembly.Module (default: `userspan_wasm_bg.wasm` next to the glue,
 * fetched relative to `import.meta.url`). A `WebAssembly.Module` (Cloudflare Workers:
 * `import wasm from "userspan-wasm/userspan_wasm_bg.wasm"`) is instantiated synchronously.
 * `options.AsyncLocalStorage`: the class from `node:async_hooks` (Deno, Bun, Workers) so that
 * scopes follow `await`. Idempotent.
 */
export function load(options = {}) {
    if (options !== null && typeof options === 'object' && options.AsyncLocalStorage !== undefined) {
        setContextStorage(new options.AsyncLocalStorage());
    }
    if (loaded)
        return Promise.resolve();
    const source = options?.module;
    if (typeof WebAssembly === 'object' && source instanceof WebAssembly.Module) {
        glue.initSync({ module: source });
        loadedNow();
        return Promise.resolve();
    }
    const pending = loading ??
        wasmInit(source === undefined ? undefined : { module_or_path: source }).then(() => loadedNow(), (e) => {
            loading = undefined;
            throw e;
        });
    loading = pending;
    return pending;
}
