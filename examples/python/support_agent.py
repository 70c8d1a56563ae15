"""Support-agent example: every turn of a (fake) LLM support agent is captured with the end user's
identity, the way the Latitude and Future AGI docs show it, and sent to `userspan serve`.

    userspan serve --db userspan.db &            # the reference receiver on 127.0.0.1:4318
    pip install dist/userspan-*.whl              # or, from source: pip install ./bindings-python
    python examples/python/support_agent.py      # --endpoint URL, or OTEL_EXPORTER_OTLP_ENDPOINT
    userspan users --db userspan.db              # one row per end user

No real model is called: the "LLM" is a deterministic stand-in that reports token usage and cost
with the OTel GenAI keys, so the receiver's per-user tokens/cost/LLM-call columns fill in.
"""

from __future__ import annotations

import argparse
import asyncio
import random
from dataclasses import dataclass
from typing import Dict, List

import userspan
from userspan import capture, using_attributes


@dataclass
class User:
    id: str
    email: str
    plan: str


USERS = [
    User("user-ada", "ada@example.com", "pro"),
    User("user-grace", "grace@example.com", "free"),
    User("user-linus", "linus@example.com", "team"),
]

PRICE_PER_TOKEN = {"gpt-4o-mini": (0.15e-6, 0.6e-6), "gpt-4o": (2.5e-6, 10e-6)}


def fake_llm(model: str, prompt: str) -> str:
    """Stands in for a chat-completions call; records usage on the current (capture) span."""
    input_tokens = 20 + len(prompt) // 4
    output_tokens = 40 + len(prompt) % 17
    span = userspan.get_current_span()
    if span is not None:
        price_in, price_out = PRICE_PER_TOKEN[model]
        span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
        span.set_attribute("gen_ai.usage.input_cost", input_tokens * price_in)
        span.set_attribute("gen_ai.usage.output_cost", output_tokens * price_out)
        span.set_attribute("gen_ai.response.model", model)
    return f"[{model}] answer to: {prompt[:40]}"


class SupportAgent:
    def __init__(self, model: str = "gpt-4o-mini") -> None:
        self.model = model

    def lookup_order(self, order_id: str) -> Dict[str, str]:
        if order_id.endswith("13"):
            raise LookupError(f"order {order_id} not found")
        return {"order_id": order_id, "status": "shipped"}

    def run(self, message: str) -> str:
        llm_attrs = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": self.model,
        }
        plan = capture(f"chat {self.model}", lambda: fake_llm(self.model, "plan: " + message), {"attributes": llm_attrs})
        if "order" in message:
            order_id = message.split()[-1]
            capture(
                "execute_tool lookup_order",
                lambda: self.lookup_order(order_id),
                {"attributes": {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_order"}},
            )
        return capture(f"chat {self.model}", lambda: fake_llm(self.model, plan), {"attributes": llm_attrs})


async def nightly_summary(agent: SupportAgent, user: User) -> str:
    """Async work: capture accepts a lambda returning a coroutine (and async def functions)."""

    async def summarize() -> str:
        await asyncio.sleep(0.01)
        return agent.run(f"summarize the week for {user.id}")

    return await capture("nightly-summary", lambda: summarize(), {"user_id": user.id, "tags": ["batch"]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", help="OTLP base URL (default: env, else http://127.0.0.1:4318)")
    parser.add_argument("--turns", type=int, default=4, help="turns per conversation")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    userspan.init(args.endpoint, service_name="support-agent")
    agent = SupportAgent()
    messages = ["where is my order 1042", "can I change my plan?", "where is my order 1013", "thanks!"]

    answered = failed = 0
    for user in USERS:
        # Latitude's shape: capture(name, fn, {user_id, user_email, ...}) around each agent turn.
        conversation = f"conv-{user.id}-{rng.randrange(1000, 9999)}"
        for turn in range(args.turns):
            message = messages[(turn + len(user.id)) % len(messages)]
            try:
                capture(
                    "support-agent-turn",
                    lambda: agent.run(message),
                    {
                        "user_id": user.id,
                        "user_email": user.email,
                        "user_id_type": "custom",
                        "user_metadata": {"plan": user.plan},
                        "session_id": conversation,
                        "tags": ["support"],
                    },
                )
                answered += 1
            except LookupError:
                failed += 1  # recorded on the span (status ERROR, exception event) and re-raised

    # Future AGI / OpenInference's shape: a scope for a block of work.
    with using_attributes(user_id=USERS[0].id, user_email=USERS[0].email, session_id="conv-follow-up"):
        capture("support-agent-turn", lambda: agent.run("follow-up: is it delivered?"))

    async def nightly() -> List[str]:
        return await asyncio.gather(*(nightly_summary(agent, u) for u in USERS))

    asyncio.run(nightly())

    ok = userspan.flush(10)
    stats = userspan.stats()
    userspan.shutdown()
    print(f"turns answered: {answered}, failed: {failed}, exported: {ok}")
    print(f"stats: {stats}")
    print("see them with: userspan users --db <the receiver's database>  (or GET /api/users)")


if __name__ == "__main__":
    main()
