//! Trace sampling, as the OpenTelemetry SDK environment specification names it
//! (`OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`, the `sampler` / `sampler_arg` init options),
//! carried out by `opentelemetry_sdk::trace::Sampler`.
//!
//! A span the sampler drops is not recording: the stamping processor never sees it, it is not
//! counted in [`crate::stats()`] and is not exported. Per-user numbers therefore count what is
//! sampled in.
//!
//! Source: <https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#general-sdk-configuration>

use crate::error::{Error, Result};
use opentelemetry_sdk::trace::Sampler;
use std::str::FromStr;

/// The sampler names of `OTEL_TRACES_SAMPLER` that the SDK implements here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SamplerKind {
    /// `always_on`: every span.
    AlwaysOn,
    /// `always_off`: no span.
    AlwaysOff,
    /// `traceidratio`: a fraction of the traces (the ratio is `sampler_arg`), decided from the
    /// trace id, so every span of a trace is in or out together.
    TraceIdRatio,
    /// `parentbased_always_on` (the default): follow the parent; a root span is sampled.
    #[default]
    ParentBasedAlwaysOn,
    /// `parentbased_always_off`: follow the parent; a root span is not sampled.
    ParentBasedAlwaysOff,
    /// `parentbased_traceidratio`: follow the parent; a root span by `traceidratio`.
    ParentBasedTraceIdRatio,
}

/// The accepted spellings, quoted, as error messages list them.
pub const SAMPLER_NAMES: &str = "\"always_on\", \"always_off\", \"traceidratio\", \"parentbased_always_on\", \
                                 \"parentbased_always_off\", \"parentbased_traceidratio\"";

impl FromStr for SamplerKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "always_on" => SamplerKind::AlwaysOn,
            "always_off" => SamplerKind::AlwaysOff,
            "traceidratio" => SamplerKind::TraceIdRatio,
            "parentbased_always_on" => SamplerKind::ParentBasedAlwaysOn,
            "parentbased_always_off" => SamplerKind::ParentBasedAlwaysOff,
            "parentbased_traceidratio" => SamplerKind::ParentBasedTraceIdRatio,
            other => {
                return Err(Error::InvalidValue {
                    field: "sampler".into(),
                    allowed: SAMPLER_NAMES.into(),
                    got: format!("{other:?}"),
                })
            }
        })
    }
}

impl SamplerKind {
    /// Whether the sampler reads a ratio (`sampler_arg`).
    pub fn takes_ratio(self) -> bool {
        matches!(self, SamplerKind::TraceIdRatio | SamplerKind::ParentBasedTraceIdRatio)
    }

    /// The SDK sampler; `ratio` (0.0..=1.0) is used by the ratio kinds only.
    pub fn to_sdk(self, ratio: f64) -> Sampler {
        match self {
            SamplerKind::AlwaysOn => Sampler::AlwaysOn,
            SamplerKind::AlwaysOff => Sampler::AlwaysOff,
            SamplerKind::TraceIdRatio => Sampler::TraceIdRatioBased(ratio),
            SamplerKind::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            SamplerKind::ParentBasedAlwaysOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
            SamplerKind::ParentBasedTraceIdRatio => Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio))),
        }
    }
}

/// Checks a sampling ratio: a finite number in `0.0..=1.0` (the spec's `OTEL_TRACES_SAMPLER_ARG`
/// for the ratio samplers). `origin` names the option or variable in the error.
///
/// # Errors
/// [`Error::Config`] naming `origin` when `ratio` is outside `0.0..=1.0` or not a number.
pub fn check_ratio(ratio: f64, origin: &str) -> Result<f64> {
    if ratio.is_finite() && (0.0..=1.0).contains(&ratio) {
        Ok(ratio)
    } else {
        Err(Error::Config(format!("{origin}={ratio} must be a sampling ratio from 0.0 to 1.0")))
    }
}
