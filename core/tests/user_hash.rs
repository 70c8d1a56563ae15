//! `user.hash` (OTel semconv) goes out with the same value as `user.id.hash`, whenever that one
//! does, and exactly once: a typed hash wins over extra attributes of either key.
use opentelemetry::KeyValue;
use userspan::conventions as conv;
use userspan::{Attributes, Privacy, UserIdHashing};

fn values(kvs: &[KeyValue], key: &str) -> Vec<String> {
    kvs.iter().filter(|kv| kv.key.as_str() == key).map(|kv| kv.value.as_str().into_owned()).collect()
}

#[test]
fn user_hash_is_sent_with_user_id_hash_once() {
    let typed = Attributes::new()
        .user_id("u")
        .user_id_hash("typed")
        .attribute(KeyValue::new(conv::USER_HASH, "extra"))
        .attribute(KeyValue::new(conv::USER_ID_HASH, "extra"));
    let out = typed.render(&Privacy::off());
    assert_eq!(values(&out, conv::USER_ID_HASH), ["typed"]);
    assert_eq!(values(&out, conv::USER_HASH), ["typed"]);

    for mode in [UserIdHashing::Add, UserIdHashing::Replace] {
        let out = Attributes::new().user_id("u-1").render(&Privacy::new(mode, Some("secret")).unwrap());
        let hmac = "8a756f7a5508f73fdfa425b9e762443bcfcfe5f372ab3643a890ddcd2433f599";
        assert_eq!(values(&out, conv::USER_ID_HASH), [hmac], "{mode:?}");
        assert_eq!(values(&out, conv::USER_HASH), [hmac], "{mode:?}");
    }
    // No hash, no user.hash (an extra one stays the app's own attribute).
    let out = Attributes::new().user_id("u").render(&Privacy::off());
    assert!(values(&out, conv::USER_HASH).is_empty());
    let out = Attributes::new().attribute(KeyValue::new(conv::USER_HASH, "app")).render(&Privacy::off());
    assert_eq!(values(&out, conv::USER_HASH), ["app"]);
}
