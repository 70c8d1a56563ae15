//! `record_usage` sets the OTel GenAI usage keys on the current span (memory exporter).

use serde_json::json;
use userspan::{capture, record_usage, Attributes, Config, ExporterKind, Usage};

#[test]
fn usage_lands_on_the_current_span_under_gen_ai_keys() {
    userspan::init(Config { exporter: Some(ExporterKind::Memory), ..Default::default() }).unwrap();
    userspan::clear_finished_spans();

    capture("chat gpt-4o-mini", Attributes::new().user_id("user-42"), || {
        record_usage(
            Usage::new()
                .provider("openai")
                .request_model("gpt-4o-mini")
                .response_model("gpt-4o-mini-2024-07-18")
                .input_tokens(120)
                .output_tokens(40),
        );
    });
    capture("partial", Attributes::new().user_id("user-42"), || {
        Usage::new().model("claude-sonnet-4").output_tokens(u64::MAX).record()
    });
    // Outside any span: nothing to set, no error.
    record_usage(Usage::new().input_tokens(1));
    userspan::flush(std::time::Duration::from_secs(5));

    let spans = userspan::finished_spans();
    let chat = spans.iter().find(|s| s.name == "chat gpt-4o-mini").expect("chat span exported");
    assert_eq!(chat.attributes["gen_ai.provider.name"], json!("openai"));
    assert_eq!(chat.attributes["gen_ai.request.model"], json!("gpt-4o-mini"));
    assert_eq!(chat.attributes["gen_ai.response.model"], json!("gpt-4o-mini-2024-07-18"));
    assert_eq!(chat.attributes["gen_ai.usage.input_tokens"], json!(120));
    assert_eq!(chat.attributes["gen_ai.usage.output_tokens"], json!(40));
    assert_eq!(chat.attributes["user.id"], json!("user-42"));

    let partial = spans.iter().find(|s| s.name == "partial").expect("partial span exported");
    assert_eq!(partial.attributes["gen_ai.request.model"], json!("claude-sonnet-4"));
    assert_eq!(partial.attributes["gen_ai.response.model"], json!("claude-sonnet-4"));
    assert_eq!(partial.attributes["gen_ai.usage.output_tokens"], json!(i64::MAX));
    assert!(!partial.attributes.contains_key("gen_ai.usage.input_tokens"));
    assert!(!partial.attributes.contains_key("gen_ai.provider.name"));
    assert_eq!(spans.len(), 2);
    userspan::shutdown(std::time::Duration::from_secs(1));
}

#[test]
fn opentelemetry_is_reexported() {
    let kv = userspan::opentelemetry::KeyValue::new("k", 1_i64);
    assert_eq!(kv.key.as_str(), "k");
}
