// Bare OpenTelemetry JS in the browser for the per-capture comparison: WebTracerProvider (its
// StackContextManager registered) + BatchSpanProcessor into a no-op exporter.
import { WebTracerProvider } from '@opentelemetry/sdk-trace-web';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

const noopExporter = {
  export: (_s, done) => done({ code: 0 }),
  shutdown: () => Promise.resolve(),
  forceFlush: () => Promise.resolve(),
};
const provider = new WebTracerProvider({ spanProcessors: [new BatchSpanProcessor(noopExporter)] });
provider.register();
const tracer = provider.getTracer('bench');
const attrs = { 'user.id': 'user-42', 'user.email': 'ada@example.com', 'session.id': 'conv-7' };
export function bareSpan(fn) {
  return tracer.startActiveSpan('support-agent-turn', { attributes: attrs }, (span) => {
    const r = fn();
    span.end();
    return r;
  });
}
