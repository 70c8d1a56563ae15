"""``N`` sync captures (user id + e-mail + session, no-op fn, nothing exported), for
``instructions.sh``: run under callgrind at two ``N`` and the difference divided by the extra
calls is the per-capture instruction count, independent of what else the machine does.

Usage: python capture_loop.py otel|no-otel N   (``otel`` imports ``opentelemetry.trace`` first, so
the Python OpenTelemetry bridge is on, as in an app that uses OTel.)
"""

import sys

mode, n = sys.argv[1], int(sys.argv[2])
if mode == "otel":
    import opentelemetry.trace  # noqa: F401 - imported for its effect: userspan then bridges to OTel
elif mode != "no-otel":
    sys.exit("mode must be otel or no-otel")

import userspan  # noqa: E402 - after the mode check: with otel, opentelemetry.trace loads first

userspan.init(exporter="none")
options = {"user_id": "user-42", "user_email": "ada@example.com", "session_id": "conv-7"}
capture = userspan.capture


def noop() -> None:
    return None


for _ in range(n):
    capture("support-agent-turn", noop, options)
