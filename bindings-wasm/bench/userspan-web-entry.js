// The userspan-wasm side of the comparison: everything an app imports from the web entry.
export * from '../js/web.js';
