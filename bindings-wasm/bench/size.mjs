// Bundle sizes: userspan-wasm (minified JS glue + .wasm of the current pkg/web build) vs the
// OpenTelemetry JS web SDK + OTLP/HTTP exporter (bundled and minified with esbuild).
//
//   (cd .. && npm run build:release)   # size-optimised .wasm (opt-level z, LTO, wasm-opt if present)
//   npm install && node size.mjs
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const gz = (b) => gzipSync(b, { level: 9 }).length;
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;

async function bundle(entry) {
  const r = await build({
    entryPoints: [here(entry)],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    write: false,
    logLevel: 'silent',
  });
  return Buffer.from(r.outputFiles[0].contents);
}

const otel = await bundle('./otel-web-entry.js');
const glue = await bundle('./userspan-web-entry.js');
const wasm = readFileSync(here('../pkg/web/userspan_wasm_bg.wasm'));
if (wasm.length > 1_500_000)
  console.warn('note: pkg/web holds a debug build; run `npm run build:release` in bindings-wasm first');

const rows = [
  ['userspan-wasm .wasm', wasm.length, gz(wasm)],
  ['userspan-wasm JS (api + glue, minified)', glue.length, gz(glue)],
  ['userspan-wasm total', wasm.length + glue.length, gz(wasm) + gz(glue)],
  ['@opentelemetry/sdk-trace-web + exporter-trace-otlp-http (esbuild, minified)', otel.length, gz(otel)],
];
for (const [name, raw, z] of rows)
  console.log(
    `${name.padEnd(80)} ${String(raw).padStart(8)} B (${kib(raw)})  gzip ${String(z).padStart(7)} B (${kib(z)})`,
  );
console.log(JSON.stringify(Object.fromEntries(rows.map(([n, raw, z]) => [n, { raw, gzip: z }]))));
