//! `init` configuration: from code, filled from the environment (code wins; the environment fills
//! what code left unset). Variables: the OTel SDK's standard `OTEL_EXPORTER_OTLP_ENDPOINT`,
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_PROTOCOL`,
//! `OTEL_SERVICE_NAME`, `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_SCHEDULE_DELAY` (ms),
//! `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, `OTEL_BSP_EXPORT_TIMEOUT` (ms); and userspan's
//! `USERSPAN_API_KEY`, `USERSPAN_PROJECT`, `USERSPAN_EXPORTER`, `USERSPAN_USER_ID_HASHING`,
//! `USERSPAN_HASH_KEY`, `USERSPAN_PROPAGATE_BAGGAGE`.

use crate::attributes::{KeyStyle, OptionValue};
use crate::error::{Error, Result};
use crate::privacy::{Privacy, UserIdHashing};
use std::str::FromStr;
use std::time::Duration;

/// Default OTLP/HTTP base endpoint: the reference receiver on loopback.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:4318";
/// Default OTLP/gRPC endpoint.
pub const DEFAULT_GRPC_ENDPOINT: &str = "http://127.0.0.1:4317";

/// OTLP transport (`OTEL_EXPORTER_OTLP_PROTOCOL` spelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// `http/protobuf` (default).
    #[default]
    HttpProtobuf,
    /// `http/json`.
    HttpJson,
    /// `grpc` (needs the crate feature `grpc` and a Tokio runtime at `init`).
    Grpc,
}

impl FromStr for Protocol {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "http/protobuf" => Ok(Protocol::HttpProtobuf),
            "http/json" => Ok(Protocol::HttpJson),
            "grpc" => Ok(Protocol::Grpc),
            other => Err(invalid("protocol", "\"http/protobuf\", \"http/json\", \"grpc\"", other)),
        }
    }
}

/// Where finished spans go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExporterKind {
    /// OTLP to `endpoint` over `protocol`, batched on a background thread (default).
    #[default]
    Otlp,
    /// Kept in memory, readable with [`crate::finished_spans`] (for tests).
    Memory,
    /// One JSON line per span on stdout (for debugging).
    Console,
    /// Spans are stamped and counted but not exported.
    None,
}

impl FromStr for ExporterKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "otlp" => Ok(ExporterKind::Otlp),
            "memory" => Ok(ExporterKind::Memory),
            "console" => Ok(ExporterKind::Console),
            "none" => Ok(ExporterKind::None),
            other => Err(invalid("exporter", "\"otlp\", \"memory\", \"console\", \"none\"", other)),
        }
    }
}

fn invalid(field: &str, allowed: &str, got: &str) -> Error {
    Error::InvalidValue { field: field.into(), allowed: allowed.into(), got: format!("{got:?}") }
}

/// What `init` accepts. Every field is optional; unset fields come from the environment, then
/// from the defaults.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// OTLP base URL (`/v1/traces` is appended for HTTP unless already there). Default
    /// `http://127.0.0.1:4318`.
    pub endpoint: Option<String>,
    /// Sent as `Authorization: Bearer <api_key>`.
    pub api_key: Option<String>,
    /// Resource attribute `userspan.project`.
    pub project: Option<String>,
    /// Resource attribute `service.name`.
    pub service_name: Option<String>,
    /// OTLP transport.
    pub protocol: Option<Protocol>,
    /// Extra export headers.
    pub headers: Option<Vec<(String, String)>>,
    /// Exporter kind.
    pub exporter: Option<ExporterKind>,
    /// Privacy mode.
    pub user_id_hashing: Option<UserIdHashing>,
    /// HMAC key for `add` / `replace`.
    pub hash_key: Option<String>,
    /// Keys (`user.id`, `session.id`) to put in and read from W3C baggage. Default: none.
    pub propagate_baggage: Option<Vec<String>>,
    /// Bounded export queue, in spans (default 2048).
    pub max_queue_size: Option<usize>,
    /// Delay between batch exports (default 5 s).
    pub scheduled_delay: Option<Duration>,
    /// Spans per export request (default 512).
    pub max_export_batch_size: Option<usize>,
    /// Deadline of one export including retries (default 10 s).
    pub export_timeout: Option<Duration>,
}

/// Fully resolved configuration, as the pipeline uses it.
#[derive(Debug, Clone)]
pub struct ResolvedConfig {
    /// Full traces URL (HTTP) or gRPC endpoint.
    pub traces_endpoint: String,
    /// Export headers, `Authorization` included when an API key is set.
    pub headers: Vec<(String, String)>,
    /// `userspan.project`, if any.
    pub project: Option<String>,
    /// `service.name`, if set in code or `OTEL_SERVICE_NAME`.
    pub service_name: Option<String>,
    /// Transport.
    pub protocol: Protocol,
    /// Exporter kind.
    pub exporter: ExporterKind,
    /// Hashing mode and key.
    pub privacy: Privacy,
    /// Baggage keys propagated.
    pub propagate_baggage: Vec<&'static str>,
    /// Queue size, spans.
    pub max_queue_size: usize,
    /// Batch delay.
    pub scheduled_delay: Duration,
    /// Batch size, spans.
    pub max_export_batch_size: usize,
    /// Export deadline.
    pub export_timeout: Duration,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_parse<T: FromStr>(name: &str) -> Result<Option<T>> {
    env(name)
        .map(|v| v.trim().parse::<T>().map_err(|_| Error::Config(format!("{name}={v:?} is not a valid number"))))
        .transpose()
}

/// Parses `OTEL_EXPORTER_OTLP_HEADERS` syntax: `k1=v1,k2=v2`, values percent-decoded (W3C baggage
/// octet rules, as the OTel spec says).
pub fn parse_headers(text: &str) -> Result<Vec<(String, String)>> {
    text.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| Error::Config(format!("header {pair:?} is not of the form key=value")))?;
            let v = percent_encoding::percent_decode_str(v.trim()).decode_utf8_lossy().into_owned();
            Ok((k.trim().to_string(), v))
        })
        .collect()
}

fn baggage_keys(keys: Vec<String>) -> Result<Vec<&'static str>> {
    use crate::conventions::BAGGAGE_KEYS;
    keys.iter()
        .map(|k| {
            BAGGAGE_KEYS
                .iter()
                .find(|b| **b == k.trim())
                .copied()
                .ok_or_else(|| invalid("propagate_baggage", &BAGGAGE_KEYS.map(|b| format!("{b:?}")).join(", "), k))
        })
        .collect()
}

impl Config {
    /// Fills unset fields from the environment and defaults, and validates.
    ///
    /// # Errors
    /// [`Error::Config`] / [`Error::InvalidValue`] naming the option or variable: an endpoint that is
    /// not `http(s)://`, a bad protocol/exporter/hashing value, a non-numeric `OTEL_BSP_*`, a missing
    /// hash key for `add`/`replace`, `grpc` without the `grpc` feature.
    pub fn resolve(self) -> Result<ResolvedConfig> {
        let privacy = self.privacy()?;
        let protocol = match self.protocol {
            Some(p) => p,
            None => match env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL")) {
                Some(p) => p.trim().parse()?,
                None => Protocol::default(),
            },
        };
        if protocol == Protocol::Grpc && !cfg!(feature = "grpc") {
            return Err(Error::Config("protocol \"grpc\" needs userspan built with the `grpc` feature".into()));
        }
        let traces_endpoint = match (self.endpoint, env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) {
            (Some(base), _) => traces_url(&base, protocol),
            (None, Some(full)) => full,
            (None, None) => match env("OTEL_EXPORTER_OTLP_ENDPOINT") {
                Some(base) => traces_url(&base, protocol),
                None if protocol == Protocol::Grpc => DEFAULT_GRPC_ENDPOINT.to_string(),
                None => traces_url(DEFAULT_ENDPOINT, protocol),
            },
        };
        if !(traces_endpoint.starts_with("http://") || traces_endpoint.starts_with("https://")) {
            return Err(Error::Config(format!("endpoint {traces_endpoint:?} must start with http:// or https://")));
        }
        let mut headers = match self.headers {
            Some(h) => h,
            None => match env("OTEL_EXPORTER_OTLP_TRACES_HEADERS").or_else(|| env("OTEL_EXPORTER_OTLP_HEADERS")) {
                Some(text) => parse_headers(&text)?,
                None => Vec::new(),
            },
        };
        if let Some(key) = self.api_key.or_else(|| env("USERSPAN_API_KEY")) {
            headers.retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
            headers.push(("Authorization".into(), format!("Bearer {key}")));
        }
        let exporter = match self.exporter {
            Some(e) => e,
            None => env("USERSPAN_EXPORTER").map(|v| v.trim().parse()).transpose()?.unwrap_or_default(),
        };
        let propagate_baggage = match self.propagate_baggage {
            Some(keys) => baggage_keys(keys)?,
            None => match env("USERSPAN_PROPAGATE_BAGGAGE") {
                Some(v) => baggage_keys(v.split(',').map(str::to_string).collect())?,
                None => Vec::new(),
            },
        };
        let ms = |name| -> Result<Option<Duration>> { Ok(env_parse::<u64>(name)?.map(Duration::from_millis)) };
        let max_queue_size = match self.max_queue_size {
            Some(n) => n,
            None => env_parse("OTEL_BSP_MAX_QUEUE_SIZE")?.unwrap_or(2048),
        }
        .max(1);
        let max_export_batch_size = match self.max_export_batch_size {
            Some(n) => n,
            None => env_parse("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")?.unwrap_or(512),
        }
        .clamp(1, max_queue_size);
        Ok(ResolvedConfig {
            traces_endpoint,
            headers,
            project: self.project.or_else(|| env("USERSPAN_PROJECT")),
            service_name: self.service_name.or_else(|| env("OTEL_SERVICE_NAME")),
            protocol,
            exporter,
            privacy,
            propagate_baggage,
            max_queue_size,
            scheduled_delay: self.scheduled_delay.or(ms("OTEL_BSP_SCHEDULE_DELAY")?).unwrap_or(Duration::from_secs(5)),
            max_export_batch_size,
            export_timeout: self.export_timeout.or(ms("OTEL_BSP_EXPORT_TIMEOUT")?).unwrap_or(Duration::from_secs(10)),
        })
    }

    /// Only the privacy settings (`user_id_hashing`, `hash_key`, filled from
    /// `USERSPAN_USER_ID_HASHING` / `USERSPAN_HASH_KEY`), for span processors that stamp host-SDK
    /// spans and need nothing else of the configuration.
    ///
    /// # Errors
    /// As [`Privacy::new`], or a bad `USERSPAN_USER_ID_HASHING`.
    pub fn privacy(&self) -> Result<Privacy> {
        let mode = match self.user_id_hashing {
            Some(m) => m,
            None => env("USERSPAN_USER_ID_HASHING").map(|v| v.trim().parse()).transpose()?.unwrap_or_default(),
        };
        Privacy::new(mode, self.hash_key.clone().or_else(|| env("USERSPAN_HASH_KEY")).as_deref())
    }

    /// Builds a config from host `init` options (what a binding was given, translated to
    /// [`OptionValue`]s). Names in `style`: `endpoint`, `api_key`/`apiKey`, `project`,
    /// `service_name`/`serviceName`, `protocol`, `headers` (mapping of strings), `exporter`,
    /// `user_id_hashing`/`userIdHashing`, `hash_key`/`hashKey`,
    /// `propagate_baggage`/`propagateBaggage` (list), `max_queue_size`/`maxQueueSize`,
    /// `scheduled_delay_ms`/`scheduledDelayMs`, `max_export_batch_size`/`maxExportBatchSize`,
    /// `export_timeout_ms`/`exportTimeoutMs`. `null` means unset.
    ///
    /// # Errors
    /// [`Error::UnknownOption`], [`Error::InvalidType`] or [`Error::InvalidValue`] naming the option.
    pub fn from_options<I>(options: I, style: KeyStyle) -> Result<Config>
    where
        I: IntoIterator<Item = (String, OptionValue)>,
    {
        const NAMES: [(&str, &str); 14] = [
            ("endpoint", "endpoint"),
            ("api_key", "apiKey"),
            ("project", "project"),
            ("service_name", "serviceName"),
            ("protocol", "protocol"),
            ("headers", "headers"),
            ("exporter", "exporter"),
            ("user_id_hashing", "userIdHashing"),
            ("hash_key", "hashKey"),
            ("propagate_baggage", "propagateBaggage"),
            ("max_queue_size", "maxQueueSize"),
            ("scheduled_delay_ms", "scheduledDelayMs"),
            ("max_export_batch_size", "maxExportBatchSize"),
            ("export_timeout_ms", "exportTimeoutMs"),
        ];
        let mut c = Config::default();
        for (key, value) in options {
            let Some(idx) = NAMES.iter().position(|(s, k)| key == if style == KeyStyle::Snake { *s } else { *k })
            else {
                let names: Vec<&str> =
                    NAMES.iter().map(|(s, k)| if style == KeyStyle::Snake { *s } else { *k }).collect();
                return Err(Error::UnknownOption { field: key, allowed: names.join(", ") });
            };
            if value == OptionValue::Null {
                continue;
            }
            let type_err_at = |field: String, expected: &str, v: &OptionValue| Error::InvalidType {
                field,
                expected: expected.into(),
                got: v.describe(),
            };
            let type_err = |expected: &str, v: &OptionValue| type_err_at(key.clone(), expected, v);
            let string = |v: OptionValue| match v {
                OptionValue::Str(s) => Ok(s.to_string()),
                other => Err(type_err("a string", &other)),
            };
            let count = |v: OptionValue| match v {
                OptionValue::Int(i) if i > 0 => Ok(i as u64),
                other => Err(type_err("a positive integer", &other)),
            };
            match NAMES[idx].0 {
                "endpoint" => c.endpoint = Some(string(value)?),
                "api_key" => c.api_key = Some(string(value)?),
                "project" => c.project = Some(string(value)?),
                "service_name" => c.service_name = Some(string(value)?),
                "protocol" => c.protocol = Some(string(value)?.parse().map_err(|e| rename(e, &key))?),
                "exporter" => c.exporter = Some(string(value)?.parse().map_err(|e| rename(e, &key))?),
                "user_id_hashing" => c.user_id_hashing = Some(string(value)?.parse().map_err(|e| rename(e, &key))?),
                "hash_key" => c.hash_key = Some(string(value)?),
                "headers" => {
                    let OptionValue::Map(entries) = value else { return Err(type_err("a mapping of strings", &value)) };
                    c.headers = Some(
                        entries
                            .into_iter()
                            .map(|(k, v)| match v {
                                OptionValue::Str(s) => Ok((k, s.to_string())),
                                other => Err(type_err_at(format!("{key}.{k}"), "a string", &other)),
                            })
                            .collect::<Result<Vec<_>>>()?,
                    );
                }
                "propagate_baggage" => {
                    let OptionValue::List(items) = value else { return Err(type_err("a list of strings", &value)) };
                    c.propagate_baggage = Some(items.into_iter().map(string).collect::<Result<_>>()?);
                }
                "max_queue_size" => c.max_queue_size = Some(count(value)? as usize),
                "max_export_batch_size" => c.max_export_batch_size = Some(count(value)? as usize),
                "scheduled_delay_ms" => c.scheduled_delay = Some(Duration::from_millis(count(value)?)),
                "export_timeout_ms" => c.export_timeout = Some(Duration::from_millis(count(value)?)),
                _ => unreachable!("every option name is handled"),
            }
        }
        Ok(c)
    }
}

fn rename(e: Error, field: &str) -> Error {
    match e {
        Error::InvalidValue { allowed, got, .. } => Error::InvalidValue { field: field.into(), allowed, got },
        other => other,
    }
}

/// `base` + `/v1/traces` for HTTP (unless it already ends so); `base` unchanged for gRPC.
fn traces_url(base: &str, protocol: Protocol) -> String {
    let base = base.trim();
    if protocol == Protocol::Grpc || base.ends_with("/v1/traces") {
        return base.to_string();
    }
    format!("{}/v1/traces", base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_follow_the_otel_syntax() {
        assert_eq!(
            parse_headers("a=1, b=x%20y").unwrap(),
            vec![("a".to_string(), "1".to_string()), ("b".to_string(), "x y".to_string())]
        );
        assert!(parse_headers("novalue").is_err());
    }

    #[test]
    fn endpoint_gets_the_traces_path_once() {
        assert_eq!(traces_url("http://h:4318/", Protocol::HttpProtobuf), "http://h:4318/v1/traces");
        assert_eq!(traces_url("http://h:4318/v1/traces", Protocol::HttpJson), "http://h:4318/v1/traces");
    }

    #[test]
    fn code_options_are_validated_with_their_names() {
        let e = Config::from_options([("exporter".to_string(), OptionValue::Str("file".into()))], KeyStyle::Camel)
            .unwrap_err();
        assert_eq!(e.field(), Some("exporter"));
        let e =
            Config::from_options([("api_key".to_string(), OptionValue::Str("k".into()))], KeyStyle::Camel).unwrap_err();
        assert!(e.to_string().contains("apiKey"), "{e}");
        let e = Config::from_options([("serviceName".to_string(), OptionValue::Int(5))], KeyStyle::Camel).unwrap_err();
        assert_eq!(e.to_string(), "userspan: `serviceName` must be a string, got an integer");
        let headers = OptionValue::Map(vec![("x-a".into(), OptionValue::Bool(true))]);
        let e = Config::from_options([("headers".to_string(), headers)], KeyStyle::Snake).unwrap_err();
        assert_eq!(e.field(), Some("headers.x-a"));
        let c = Config { api_key: Some("k".into()), endpoint: Some("http://x:1".into()), ..Default::default() };
        let r = c.resolve().unwrap();
        assert_eq!(r.traces_endpoint, "http://x:1/v1/traces");
        assert!(r.headers.contains(&("Authorization".to_string(), "Bearer k".to_string())));
    }
}
