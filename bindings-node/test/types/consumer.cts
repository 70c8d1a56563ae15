// Type-checked by test/types.test.mjs (CommonJS consumer).
import userspan = require('userspan');
const r: Promise<number> = userspan.capture('x', async () => 1, { sessionId: 's' });
void r;
