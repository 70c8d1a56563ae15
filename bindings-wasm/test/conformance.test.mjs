// The shared conformance vectors (tests/conformance/scopes.json) against this package's build.
import * as otel from '@opentelemetry/sdk-trace-base';
import * as api from 'userspan-wasm';
import { conformanceSuite } from '../../tests/js/conformance.suite.mjs';

conformanceSuite(api, otel);
