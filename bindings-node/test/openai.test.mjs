// The example test of `userspan/testing`: an app with only `init({ instrument })` + `capture`,
// the real `openai` client and the real @arizeai/openinference-instrumentation-openai against a
// local fake OpenAI server (the chat.completions JSON shape, usage included), and the real
// reference receiver: every LLM span is attributed to its user.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import OpenAI from 'openai';
import { capture, shutdown } from 'userspan';
import { startReceiver } from 'userspan/testing';

let fake;
let fakeUrl;
let receiver;

before(async () => {
  fake = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      const { model } = JSON.parse(body);
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          id: 'chatcmpl-1',
          object: 'chat.completion',
          created: 1_700_000_000,
          model,
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: 'hello', refusal: null },
              logprobs: null,
              finish_reason: 'stop',
            },
          ],
          usage: {
            prompt_tokens: 12,
            completion_tokens: 3,
            total_tokens: 15,
            prompt_tokens_details: { cached_tokens: 0 },
            completion_tokens_details: { reasoning_tokens: 0 },
          },
        }),
      );
    });
  });
  await new Promise((r) => fake.listen(0, '127.0.0.1', r));
  fakeUrl = `http://127.0.0.1:${fake.address().port}/v1`;
  receiver = await startReceiver();
});

after(async () => {
  await shutdown();
  await receiver?.stop();
  // the openai client keeps its sockets alive: close() alone would wait for them forever
  fake.closeAllConnections();
  await new Promise((r) => fake.close(r));
});

test('LLM spans of the openai client are attributed to their users in the receiver', async () => {
  // ESM: the instrumentation cannot patch an already imported module; hand it the class
  const status = receiver.init({ instrument: { openai: OpenAI } });
  assert.equal(status.provider, 'registered');
  assert.deepEqual(status.instrumentations, ['openai']);
  const client = new OpenAI({ apiKey: 'test', baseURL: fakeUrl });
  for (const userId of ['alice', 'bob', 'alice']) {
    await capture(
      'answer',
      () => client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
      { userId },
    );
  }
  const users = await receiver.users();
  assert.deepEqual(users.map((u) => u.user_id).sort(), ['alice', 'bob']);
  const alice = users.find((u) => u.user_id === 'alice');
  // every LLM span (the instrumentation's ChatCompletion) was attributed: 2 calls, the fake's usage
  assert.equal(alice.llm_calls, 2);
  assert.equal(alice.input_tokens, 24);
  assert.equal(alice.output_tokens, 6);
  assert.equal((await receiver.traces('alice')).length, 2);
  assert.equal((await receiver.traces('bob')).length, 1);
  assert.ok(await receiver.user('bob'));
  assert.equal(await receiver.user('nobody'), null);
});
