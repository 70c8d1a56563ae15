//! `init` configuration: from code, filled from the environment (code wins; the environment fills
//! what code left unset). Variables: the OTel SDK's standard `OTEL_EXPORTER_OTLP_ENDPOINT`,
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_PROTOCOL`,
//! `OTEL_SERVICE_NAME`, `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_SCHEDULE_DELAY` (ms),
//! `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, `OTEL_BSP_EXPORT_TIMEOUT` (ms), `OTEL_SDK_DISABLED`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_EXPORTER`, `OTEL_TRACES_SAMPLER`,
//! `OTEL_TRACES_SAMPLER_ARG`, and for the OTLP exporter `OTEL_EXPORTER_OTLP_COMPRESSION`,
//! `OTEL_EXPORTER_OTLP_TIMEOUT` (ms), `OTEL_EXPORTER_OTLP_CERTIFICATE`,
//! `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`, `OTEL_EXPORTER_OTLP_CLIENT_KEY`, each with its
//! `OTEL_EXPORTER_OTLP_TRACES_…` variant, which wins; and userspan's `USERSPAN_API_KEY`,
//! `USERSPAN_PROJECT`, `USERSPAN_EXPORTER` (wins over `OTEL_TRACES_EXPORTER`),
//! `USERSPAN_USER_ID_HASHING`, `USERSPAN_HASH_KEY`, `USERSPAN_PROPAGATE_BAGGAGE`.
//!
//! A bad environment value is an [`Error::Config`] naming the variable (and the allowed values);
//! a bad code option an [`Error::InvalidValue`] / [`Error::InvalidType`] naming the option.
//! Sources: <https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/>,
//! <https://opentelemetry.io/docs/specs/otel/protocol/exporter/#configuration-options>.

use crate::attributes::{KeyStyle, OptionValue};
use crate::error::{Error, Result};
use crate::privacy::{Privacy, UserIdHashing};
use crate::sampler::{check_ratio, SamplerKind};
use crate::tls::{PemFile, TlsFiles};
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

/// Compression of OTLP export requests (`OTEL_EXPORTER_OTLP_COMPRESSION` spelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// `none` (default).
    #[default]
    None,
    /// `gzip`: the request body gzip-compressed (`Content-Encoding: gzip` over HTTP, gRPC's `gzip`
    /// message encoding).
    Gzip,
}

impl FromStr for Compression {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip),
            other => Err(invalid("compression", "\"gzip\", \"none\"", other)),
        }
    }
}

/// A back end whose own attribute keys are emitted beside the OTel ones (option `compat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compat {
    /// `langfuse`: also `langfuse.user.id`, `langfuse.session.id`, `langfuse.trace.tags` and
    /// `langfuse.trace.metadata.<key>` per top-level metadata key (Langfuse's OTel attribute
    /// mapping, <https://langfuse.com/integrations/native/opentelemetry>).
    Langfuse,
}

fn compat_names(names: Vec<String>, field: &str) -> Result<Vec<Compat>> {
    names
        .iter()
        .map(|n| match n.trim() {
            "langfuse" => Ok(Compat::Langfuse),
            other => Err(invalid(field, "\"langfuse\"", other)),
        })
        .collect()
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
    /// Deadline of one export including retries (`OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`, then
    /// `OTEL_EXPORTER_OTLP_TIMEOUT`, then `OTEL_BSP_EXPORT_TIMEOUT`, in ms; default 10 s).
    pub export_timeout: Option<Duration>,
    /// Compression of export requests (default none).
    pub compression: Option<Compression>,
    /// Path of a PEM CA bundle trusted for the OTLP endpoint instead of the default roots.
    pub certificate: Option<String>,
    /// Path of a PEM client certificate chain for mTLS (with `client_key`).
    pub client_certificate: Option<String>,
    /// Path of the PEM private key of `client_certificate`.
    pub client_key: Option<String>,
    /// Sampler (default `parentbased_always_on`).
    pub sampler: Option<SamplerKind>,
    /// Ratio of the `traceidratio` samplers, 0.0 to 1.0 (default 1.0).
    pub sampler_arg: Option<f64>,
    /// Resource attributes, merged over `OTEL_RESOURCE_ATTRIBUTES` (a key given here wins).
    /// `service_name` / `OTEL_SERVICE_NAME` win over a `service.name` here.
    pub resource_attributes: Option<Vec<(String, String)>>,
    /// `true`: nothing is recorded or exported (`OTEL_SDK_DISABLED`); captures still run the
    /// function and return its result.
    pub disabled: Option<bool>,
    /// Back ends whose own keys are emitted too (`USERSPAN_COMPAT`, comma separated). Default: none.
    pub compat: Option<Vec<Compat>>,
}

/// Fully resolved configuration, as the pipeline uses it.
#[derive(Debug, Clone)]
pub struct ResolvedConfig {
    /// Full traces URL (HTTP) or gRPC endpoint.
    pub traces_endpoint: String,
    /// Full logs URL (HTTP: the base endpoint + `/v1/logs`, or `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`
    /// as given) or gRPC endpoint; where feedback records go ([`crate::feedback`]).
    pub logs_endpoint: String,
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
    /// Request compression.
    pub compression: Compression,
    /// TLS files, read (empty unless the exporter is OTLP).
    pub tls: TlsFiles,
    /// Sampler.
    pub sampler: SamplerKind,
    /// Ratio of the ratio samplers (1.0 for the others).
    pub sampler_ratio: f64,
    /// Resource attributes from `resource_attributes` and `OTEL_RESOURCE_ATTRIBUTES`, in order,
    /// `service.name` left out when `service_name` is set.
    pub resource_attributes: Vec<(String, String)>,
    /// SDK disabled: nothing is recorded or exported.
    pub disabled: bool,
    /// Back ends whose own keys are emitted too.
    pub compat: Vec<Compat>,
}

impl ResolvedConfig {
    /// The OpenTelemetry SDK sampler.
    pub fn sdk_sampler(&self) -> opentelemetry_sdk::trace::Sampler {
        if self.disabled {
            return opentelemetry_sdk::trace::Sampler::AlwaysOff;
        }
        self.sampler.to_sdk(self.sampler_ratio)
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `name` parsed by `T::from_str` (an enum); its [`Error::InvalidValue`] becomes an
/// [`Error::Config`] naming the variable and the allowed values.
fn env_enum<T: FromStr<Err = Error>>(name: &str) -> Result<Option<T>> {
    env(name)
        .map(|v| {
            v.trim().parse::<T>().map_err(|e| match e {
                Error::InvalidValue { allowed, got, .. } => {
                    Error::Config(format!("{name}={got} is not one of {allowed}"))
                }
                other => other,
            })
        })
        .transpose()
}

/// The first of `names` that is set, with its name.
fn env_first(names: &[&'static str]) -> Option<(&'static str, String)> {
    names.iter().find_map(|n| env(n).map(|v| (*n, v)))
}

/// A boolean variable per the OTel spec's spelling (`true` / `false`, any case).
fn env_bool(name: &str) -> Result<Option<bool>> {
    env(name)
        .map(|v| match v.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(Error::Config(format!("{name}={v:?} is not one of \"true\", \"false\""))),
        })
        .transpose()
}

/// Positive milliseconds from the first of `names` that is set.
fn env_millis(names: &[&'static str]) -> Result<Option<Duration>> {
    let Some((name, v)) = env_first(names) else { return Ok(None) };
    match v.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => Ok(Some(Duration::from_millis(ms))),
        _ => Err(Error::Config(format!("{name}={v:?} is not a positive number of milliseconds"))),
    }
}

/// Parses `OTEL_RESOURCE_ATTRIBUTES` syntax: `k1=v1,k2=v2`, keys and values trimmed, values
/// percent-decoded (the spec's W3C-baggage octet rules). `origin` names the variable in errors.
///
/// # Errors
/// [`Error::Config`] naming `origin` for an entry without `=`, an empty key, or a value whose
/// percent-decoding is not UTF-8 (the spec discards the whole value on such an error; here it is
/// reported at `init`).
pub fn parse_resource_attributes(text: &str, origin: &str) -> Result<Vec<(String, String)>> {
    text.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| Error::Config(format!("{origin}: {pair:?} is not of the form key=value")))?;
            let k = k.trim();
            if k.is_empty() {
                return Err(Error::Config(format!("{origin}: {pair:?} has an empty key")));
            }
            let v = percent_encoding::percent_decode_str(v.trim())
                .decode_utf8()
                .map_err(|_| Error::Config(format!("{origin}: the value of {k:?} is not percent-encoded UTF-8")))?;
            Ok((k.to_string(), v.into_owned()))
        })
        .collect()
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
    /// hash key for `add`/`replace`, `grpc` without the `grpc` feature; a bad `OTEL_SDK_DISABLED`,
    /// `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_EXPORTER`, `OTEL_TRACES_SAMPLER(_ARG)`,
    /// `OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION` or `…_TIMEOUT` (naming the variable and what is
    /// allowed); with the OTLP exporter, a TLS file (`certificate`, `client_certificate`,
    /// `client_key` or their `OTEL_EXPORTER_OTLP_(TRACES_)…` variables) that cannot be read, or a
    /// client certificate without its key or the other way round. Unparsable PEM is reported by
    /// `init`, which builds the client.
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
        let traces_endpoint = match (self.endpoint.clone(), env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) {
            (Some(base), _) => traces_url(&base, protocol),
            (None, Some(full)) => full,
            (None, None) => match env("OTEL_EXPORTER_OTLP_ENDPOINT") {
                Some(base) => traces_url(&base, protocol),
                None if protocol == Protocol::Grpc => DEFAULT_GRPC_ENDPOINT.to_string(),
                None => traces_url(DEFAULT_ENDPOINT, protocol),
            },
        };
        let logs_endpoint = match (&self.endpoint, env("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")) {
            (Some(_), _) | (None, None) => logs_url(&traces_endpoint, protocol),
            (None, Some(full)) => full,
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
            None => match env("USERSPAN_EXPORTER") {
                Some(v) => v.trim().parse()?,
                None => env_enum("OTEL_TRACES_EXPORTER")?.unwrap_or_default(),
            },
        };
        let disabled = match self.disabled {
            Some(d) => d,
            None => env_bool("OTEL_SDK_DISABLED")?.unwrap_or(false),
        };
        let compression = match self.compression {
            Some(c) => c,
            None => match env_first(&["OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"]) {
                Some((name, _)) => env_enum(name)?.unwrap_or_default(),
                None => Compression::None,
            },
        };
        let sampler = match self.sampler {
            Some(s) => s,
            None => env_enum("OTEL_TRACES_SAMPLER")?.unwrap_or_default(),
        };
        let sampler_ratio = match (sampler.takes_ratio(), self.sampler_arg) {
            (false, _) => 1.0,
            (true, Some(r)) => check_ratio(r, "sampler_arg")?,
            (true, None) => match env("OTEL_TRACES_SAMPLER_ARG") {
                Some(v) => check_ratio(
                    v.trim().parse::<f64>().map_err(|_| {
                        Error::Config(format!("OTEL_TRACES_SAMPLER_ARG={v:?} is not a sampling ratio from 0.0 to 1.0"))
                    })?,
                    "OTEL_TRACES_SAMPLER_ARG",
                )?,
                None => 1.0,
            },
        };
        let service_name = self.service_name.or_else(|| env("OTEL_SERVICE_NAME"));
        let mut resource_attributes = match env("OTEL_RESOURCE_ATTRIBUTES") {
            Some(text) => parse_resource_attributes(&text, "OTEL_RESOURCE_ATTRIBUTES")?,
            None => Vec::new(),
        };
        for (k, v) in self.resource_attributes.unwrap_or_default() {
            resource_attributes.retain(|(e, _)| *e != k);
            resource_attributes.push((k, v));
        }
        if service_name.is_some() {
            resource_attributes.retain(|(k, _)| k != crate::conventions::SERVICE_NAME);
        }
        let tls = if exporter == ExporterKind::Otlp && !disabled {
            let file = |code: Option<String>, option: &str, var: &'static str| -> Result<Option<PemFile>> {
                let traces = var.replacen("OTEL_EXPORTER_OTLP_", "OTEL_EXPORTER_OTLP_TRACES_", 1);
                match code {
                    Some(path) => PemFile::read(&format!("option {option}"), &path).map(Some),
                    None => match env(&traces) {
                        Some(path) => PemFile::read(&traces, path.trim()).map(Some),
                        None => env(var).map(|path| PemFile::read(var, path.trim())).transpose(),
                    },
                }
            };
            let files = TlsFiles {
                certificate: file(self.certificate, "certificate", "OTEL_EXPORTER_OTLP_CERTIFICATE")?,
                client_certificate: file(
                    self.client_certificate,
                    "client_certificate/clientCertificate",
                    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                )?,
                client_key: file(self.client_key, "client_key/clientKey", "OTEL_EXPORTER_OTLP_CLIENT_KEY")?,
            };
            files.check_pairs()?;
            files
        } else {
            TlsFiles::default()
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
            logs_endpoint,
            headers,
            project: self.project.or_else(|| env("USERSPAN_PROJECT")),
            service_name,
            protocol,
            exporter,
            privacy,
            propagate_baggage,
            max_queue_size,
            scheduled_delay: self.scheduled_delay.or(ms("OTEL_BSP_SCHEDULE_DELAY")?).unwrap_or(Duration::from_secs(5)),
            max_export_batch_size,
            export_timeout: match self.export_timeout {
                Some(t) => t,
                None => env_millis(&["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"])?
                    .or(ms("OTEL_BSP_EXPORT_TIMEOUT")?)
                    .unwrap_or(Duration::from_secs(10)),
            },
            compression,
            tls,
            sampler,
            sampler_ratio,
            resource_attributes,
            disabled,
            compat: match self.compat {
                Some(c) => c,
                None => match env("USERSPAN_COMPAT") {
                    Some(v) => compat_names(v.split(',').map(str::to_string).collect(), "USERSPAN_COMPAT").map_err(
                        |e| match e {
                            Error::InvalidValue { allowed, got, .. } => {
                                Error::Config(format!("USERSPAN_COMPAT={got} is not one of {allowed}"))
                            }
                            other => other,
                        },
                    )?,
                    None => Vec::new(),
                },
            },
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
    /// `export_timeout_ms`/`exportTimeoutMs`, `compression` (`"gzip"` / `"none"`), `certificate`,
    /// `client_certificate`/`clientCertificate`, `client_key`/`clientKey` (paths of PEM files),
    /// `sampler` (a `OTEL_TRACES_SAMPLER` name), `sampler_arg`/`samplerArg` (number, 0.0 to 1.0),
    /// `resource_attributes`/`resourceAttributes` (mapping of strings), `disabled` (boolean).
    /// `null` means unset.
    ///
    /// # Errors
    /// [`Error::UnknownOption`], [`Error::InvalidType`] or [`Error::InvalidValue`] naming the option.
    pub fn from_options<I>(options: I, style: KeyStyle) -> Result<Config>
    where
        I: IntoIterator<Item = (String, OptionValue)>,
    {
        const NAMES: [(&str, &str); 23] = [
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
            ("compression", "compression"),
            ("certificate", "certificate"),
            ("client_certificate", "clientCertificate"),
            ("client_key", "clientKey"),
            ("sampler", "sampler"),
            ("sampler_arg", "samplerArg"),
            ("resource_attributes", "resourceAttributes"),
            ("disabled", "disabled"),
            ("compat", "compat"),
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
                "headers" | "resource_attributes" => {
                    let OptionValue::Map(entries) = value else { return Err(type_err("a mapping of strings", &value)) };
                    let entries = entries
                        .into_iter()
                        .map(|(k, v)| match v {
                            OptionValue::Str(s) => Ok((k, s.to_string())),
                            other => Err(type_err_at(format!("{key}.{k}"), "a string", &other)),
                        })
                        .collect::<Result<Vec<_>>>()?;
                    if NAMES[idx].0 == "headers" {
                        c.headers = Some(entries);
                    } else {
                        c.resource_attributes = Some(entries);
                    }
                }
                "compression" => c.compression = Some(string(value)?.parse().map_err(|e| rename(e, &key))?),
                "certificate" => c.certificate = Some(string(value)?),
                "client_certificate" => c.client_certificate = Some(string(value)?),
                "client_key" => c.client_key = Some(string(value)?),
                "sampler" => c.sampler = Some(string(value)?.parse().map_err(|e| rename(e, &key))?),
                "sampler_arg" => {
                    let ratio = match value {
                        OptionValue::Float(f) => f,
                        OptionValue::Int(i) => i as f64,
                        other => return Err(type_err("a number from 0.0 to 1.0", &other)),
                    };
                    if !(0.0..=1.0).contains(&ratio) {
                        return Err(Error::InvalidValue {
                            field: key,
                            allowed: "a sampling ratio from 0.0 to 1.0".into(),
                            got: ratio.to_string(),
                        });
                    }
                    c.sampler_arg = Some(ratio);
                }
                "disabled" => match value {
                    OptionValue::Bool(b) => c.disabled = Some(b),
                    other => return Err(type_err("a boolean", &other)),
                },
                "compat" => {
                    let OptionValue::List(items) = value else { return Err(type_err("a list of strings", &value)) };
                    let names = items.into_iter().map(string).collect::<Result<Vec<_>>>()?;
                    c.compat = Some(compat_names(names, &key)?);
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

/// The logs URL beside a traces URL: `…/v1/traces` → `…/v1/logs` (gRPC: the same endpoint). A
/// full traces URL from `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` without `/v1/traces` gets `/v1/logs`
/// appended to it.
fn logs_url(traces: &str, protocol: Protocol) -> String {
    if protocol == Protocol::Grpc {
        return traces.to_string();
    }
    match traces.strip_suffix("/v1/traces") {
        Some(base) => format!("{base}/v1/logs"),
        None => format!("{}/v1/logs", traces.trim_end_matches('/')),
    }
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
