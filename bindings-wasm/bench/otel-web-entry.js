// The comparison bundle: the OpenTelemetry JS web SDK set up the way an app would to send spans
// over OTLP/HTTP (what userspan-wasm replaces in a browser). Bundled and minified by size.mjs.
import { WebTracerProvider } from '@opentelemetry/sdk-trace-web';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';

const provider = new WebTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'app' }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: 'http://127.0.0.1:4318/v1/traces' }))],
});
provider.register();
export const tracer = provider.getTracer('app');
