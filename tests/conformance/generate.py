"""Writes scopes.json: the shared conformance vectors every binding runs.

Expectations are written out by hand here (and HMACs computed with Python's own hmac module),
independently of the Rust core, so the vectors check the core rather than echo it.
Run: python3 tests/conformance/generate.py
"""
import hashlib
import hmac
import json
import pathlib


def hm(key, msg):
    return hmac.new(key.encode(), msg.encode(), hashlib.sha256).hexdigest()


def meta(obj):
    # serde_json / the core: keys sorted, compact separators, no ASCII escaping.
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def truncated_meta(obj, limit=4096):
    text = meta(obj)
    if len(text.encode()) <= limit:
        return text
    kept = dict(obj)
    kept["_truncated"] = True
    keys = sorted(obj)
    while len(meta(kept).encode()) > limit:
        kept.pop(keys.pop())
    return meta(kept)


def span(name, parent, attributes, status="UNSET", message=None):
    s = {"name": name, "parent": parent, "attributes": attributes, "status": status}
    if message is not None:
        s["status_message"] = message
    return s


cases = []

cases.append({
    "name": "capture stamps its span and children",
    "steps": [{"capture": "turn", "options": {"user_id": "u-1", "user_email": "a@x.io", "session_id": "s-1", "tags": ["vip"]},
               "do": [{"span": "llm"}]}],
    "expect": {"spans": [
        span("turn", None, {"user.id": "u-1", "user.email": "a@x.io", "session.id": "s-1", "tag.tags": ["vip"]}),
        span("llm", "turn", {"user.id": "u-1", "user.email": "a@x.io", "session.id": "s-1", "tag.tags": ["vip"]}),
    ]},
})

mid = {"user.id": "u-mid", "session.id": "s", "tag.tags": ["a", "b", "c"], "metadata": '{"k":"mid","o":1}'}
inner = {"user.id": "u-mid", "user.id.type": "custom", "session.id": "s", "tag.tags": ["a", "b", "c", "d"],
         "metadata": '{"k":"mid","n":true,"o":1}'}
cases.append({
    "name": "nesting three deep merges and restores",
    "steps": [{"scope": {"user_id": "u-outer", "tags": ["a", "b"], "metadata": {"k": "outer", "o": 1}, "session_id": "s"},
               "do": [{"capture": "mid", "options": {"user_id": "u-mid", "tags": ["b", "c"], "metadata": {"k": "mid"}},
                       "do": [{"capture": "inner", "options": {"user_id_type": "custom", "tags": ["a", "d"], "metadata": {"n": True}},
                               "do": [{"span": "leaf"}]},
                              {"span": "after"}]},
                      {"span": "outside"}]}],
    "expect": {"spans": [
        span("mid", None, mid),
        span("inner", "mid", inner),
        span("leaf", "inner", inner),
        span("after", "mid", mid),
        span("outside", None, {"user.id": "u-outer", "session.id": "s", "tag.tags": ["a", "b"], "metadata": '{"k":"outer","o":1}'}),
    ]},
})

cases.append({
    "name": "leaving a scope restores the outer one exactly",
    "steps": [{"scope": {"user_id": "a"}, "do": [
        {"scope": {"user_id": "b", "session_id": "s2"}, "do": [{"span": "in"}]},
        {"span": "out"}]},
        {"span": "none"}],
    "expect": {"spans": [
        span("in", None, {"user.id": "b", "session.id": "s2"}),
        span("out", None, {"user.id": "a"}),
        span("none", None, {}),
    ]},
})

cases.append({
    "name": "user id type, hash and user metadata",
    "steps": [{"capture": "t", "options": {"user_id": "ada@example.com", "user_id_type": "email", "user_id_hash": "abc",
                                           "user_metadata": {"region": "eu", "plan": "pro"}}}],
    "expect": {"spans": [span("t", None, {"user.id": "ada@example.com", "user.id.type": "email", "user.id.hash": "abc", "user.hash": "abc",
                                          "user.metadata": '{"plan":"pro","region":"eu"}'})]},
})

cases.append({
    "name": "user metadata merges shallowly, inner key wins",
    "steps": [{"scope": {"user_metadata": {"plan": "free", "tier": 1, "nested": {"a": 1}}},
               "do": [{"capture": "c", "options": {"user_id": "u", "user_metadata": {"plan": "pro", "nested": {"b": 2}}}}]}],
    "expect": {"spans": [span("c", None, {"user.id": "u", "user.metadata": '{"nested":{"b":2},"plan":"pro","tier":1}'})]},
})

cases.append({
    "name": "extra attributes keep their types; typed options win",
    "steps": [{"capture": "a", "options": {"user_id": "u", "attributes": {
        "app.version": "1.2", "retries": 3, "ratio": 0.5, "flag": True, "list": ["x", "y"], "nums": [1, 2], "user.id": "ignored"}}}],
    "expect": {"spans": [span("a", None, {"app.version": "1.2", "retries": 3, "ratio": 0.5, "flag": True, "list": ["x", "y"],
                                          "nums": [1, 2], "user.id": "u"})]},
})

cases.append({
    "name": "a typed hash wins over user.id.hash and user.hash given as extra attributes",
    "steps": [{"capture": "h", "options": {"user_id": "u", "user_id_hash": "typed",
                                           "attributes": {"user.hash": "extra", "user.id.hash": "extra"}}}],
    "expect": {"spans": [span("h", None, {"user.id": "u", "user.id.hash": "typed", "user.hash": "typed"})]},
})

cases.append({
    "name": "tags are deduplicated in order",
    "steps": [{"scope": {"tags": ["a", "a", "b"]}, "do": [{"capture": "t", "options": {"tags": ["c", "b", "a"]}}]}],
    "expect": {"spans": [span("t", None, {"tag.tags": ["a", "b", "c"]})]},
})

cases.append({
    "name": "empty and null options mean unset",
    "steps": [{"capture": "e", "options": {"user_id": "", "user_email": None, "session_id": "s"}}],
    "expect": {"spans": [span("e", None, {"session.id": "s"})]},
})

cases.append({
    "name": "an error is recorded on the capture span and re-raised",
    "steps": [{"capture": "boom", "options": {"user_id": "u"}, "do": [{"fail": "kaput"}]}],
    "expect": {"spans": [span("boom", None, {"user.id": "u"}, "ERROR", "kaput")]},
})

cases.append({
    "name": "an error crosses nested captures",
    "steps": [{"capture": "outer", "options": {"user_id": "u"}, "do": [
        {"span": "ok-child"},
        {"capture": "inner", "do": [{"fail": "deep"}]}]}],
    "expect": {"spans": [
        span("ok-child", "outer", {"user.id": "u"}),
        span("inner", "outer", {"user.id": "u"}, "ERROR", "deep"),
        span("outer", None, {"user.id": "u"}, "ERROR", "deep"),
    ]},
})

long_meta = {f"k{i:03d}": "x" * 100 for i in range(50)}
cases.append({
    "name": "over-long values are truncated and counted",
    "steps": [{"capture": "long", "options": {"user_id": "a" * 300, "session_id": "é" * 257, "tags": ["t" * 256, "u" * 260],
                                              "metadata": long_meta}}],
    "expect": {
        "spans": [span("long", None, {"user.id": "a" * 256, "session.id": "é" * 256, "tag.tags": ["t" * 256, "u" * 256],
                                      "metadata": truncated_meta(long_meta)})],
        "values_truncated": 4,
    },
})

cases.append({
    "name": "hashing mode add keeps the id and adds its HMAC",
    "init": {"user_id_hashing": "add", "hash_key": "secret"},
    "steps": [{"capture": "h", "options": {"user_id": "u-1", "user_email": "a@x.io"}, "do": [{"span": "child"}]}],
    "expect": {"spans": [
        span("h", None, {"user.id": "u-1", "user.id.hash": hm("secret", "u-1"), "user.hash": hm("secret", "u-1"), "user.email": "a@x.io"}),
        span("child", "h", {"user.id": "u-1", "user.id.hash": hm("secret", "u-1"), "user.hash": hm("secret", "u-1"), "user.email": "a@x.io"}),
    ]},
})

cases.append({
    "name": "hashing mode replace sends only the HMAC and drops the e-mail",
    "init": {"user_id_hashing": "replace", "hash_key": "secret"},
    "steps": [{"capture": "r", "options": {"user_id": "ada@example.com", "user_id_type": "email", "user_email": "ada@example.com",
                                           "session_id": "s"}}],
    "expect": {"spans": [span("r", None, {"user.id": hm("secret", "ada@example.com"), "user.id.type": "email",
                                          "user.id.hash": hm("secret", "ada@example.com"),
                                          "user.hash": hm("secret", "ada@example.com"), "session.id": "s"})]},
})

# A span of a plain OpenTelemetry tracer of the host (a provider the test owns, not the pipeline's)
# under the host's UserAttributesSpanProcessor built with no options: it renders with the privacy
# mode `init` configured, so "replace" leaves no raw id or e-mail on it either.
ada = "ada@example.com"
for mode, stamped in [
    ("add", {"user.id": ada, "user.id.hash": hm("k-otel", ada), "user.hash": hm("k-otel", ada), "user.email": ada,
             "session.id": "s-otel"}),
    ("replace", {"user.id": hm("k-otel", ada), "user.id.hash": hm("k-otel", ada), "user.hash": hm("k-otel", ada),
                 "session.id": "s-otel"}),
]:
    cases.append({
        "name": f"host OTel processor without options follows init: hashing mode {mode}",
        "init": {"user_id_hashing": mode, "hash_key": "k-otel"},
        "steps": [{"scope": {"user_id": ada, "user_email": ada, "session_id": "s-otel"},
                   "do": [{"otel_span": "plain"}, {"capture": "turn", "do": [{"otel_span": "inner"}]}]}],
        "expect": {
            "spans": [span("turn", None, stamped)],
            "otel_spans": [{"name": "plain", "attributes": stamped}, {"name": "inner", "attributes": stamped}],
        },
    })

for name, options, kind, field in [
    ("unknown option", {"userid": "u"}, "unknown_option", "userid"),
    ("user id of the wrong type", {"user_id": 42}, "type", "user_id"),
    ("user id type outside the enum", {"user_id": "u", "user_id_type": "phone-number"}, "value", "user_id_type"),
    ("tags with a non-string", {"tags": ["a", 1]}, "type", "tags[1]"),
    ("metadata that is not a mapping", {"metadata": "plan=pro"}, "type", "metadata"),
    ("attribute with a nested mapping", {"attributes": {"k": {"n": 1}}}, "type", "attributes.k"),
]:
    cases.append({
        "name": f"bad input: {name}",
        "steps": [{"capture": "never", "options": options, "do": [{"span": "fn-ran"}]}],
        "expect": {"error": {"kind": kind, "field": field}, "spans": []},
    })

out = pathlib.Path(__file__).with_name("scopes.json")
out.write_text(json.dumps({"cases": cases}, indent=1, ensure_ascii=False) + "\n")
print(f"wrote {len(cases)} cases to {out}")
