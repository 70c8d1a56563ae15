//! List prices of LLM calls: a span with token usage and a model but no reported cost is priced
//! at ingest with the [`genai_prices`] crate (pydantic's maintained price database, MIT, data
//! bundled at its release), or with a `userspan serve --prices FILE` override, which wins.
//!
//! Nothing here is a price table or a model matcher of the receiver's own: the bundled prices,
//! the model matching (aliases, dated snapshots, fallbacks), historic prices and service-tier
//! variants are the crate's. The only mapping kept here is [`PROVIDER_IDS`]: the provider names
//! instrumentations send (OTel GenAI `gen_ai.provider.name` values, OpenInference
//! `llm.provider` / `llm.system` values) to the crate's provider ids where they differ.
//!
//! Rounding (docs/design.md, "Cost"): a span's cost in USD becomes integer micro-USD once, per
//! span, rounding half up ([`usd_to_micros`]).

use genai_prices::{Calculator, ErrorKind, ExtractRequest, ExtractedUsage, PriceRequest, Usage, UsageKey};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, UNIX_EPOCH};

/// The version of the bundled price data: the `genai-prices` crate's (its data is bundled at its
/// release). Shown beside estimated costs ("list price, genai-prices 0.2.1"); a test checks it
/// against Cargo.lock.
pub const GENAI_PRICES_VERSION: &str = "0.2.1";

/// Longest model name priced, in bytes; a longer one is stored but left unpriced (no real model
/// id comes near it, and the crate's regex rules would run over all of it).
pub const MAX_PRICED_MODEL_BYTES: usize = 256;

/// Largest token count accepted for one usage kind of one span (10^12); a larger, negative or
/// non-numeric count makes the span's usage invalid: stored as 0, the span unpriced and counted.
pub const MAX_TOKEN_COUNT: i64 = 1_000_000_000_000;

/// Provider names sent by instrumentations → `genai-prices` provider ids, where they differ.
/// Any other name is passed to the crate as is (it matches ids and its own aliases, e.g.
/// `azure.ai.openai` contains `openai`). Sources: OTel GenAI `gen_ai.provider.name` well-known
/// values (`aws.bedrock`, `azure.ai.inference`, `azure.ai.openai`, `gcp.gemini`, `gcp.vertex_ai`,
/// `gcp.gen_ai`, `mistral_ai`, `x_ai`), OpenInference `llm.provider` (`azure`, `google`, `aws`,
/// `xai`, `mistralai`) and `llm.system` (`vertexai`, `mistralai`) values.
pub const PROVIDER_IDS: &[(&str, &str)] = &[
    ("aws.bedrock", "aws"),
    ("azure.ai.inference", "azure"),
    ("azure.ai.openai", "azure"),
    ("gcp.gemini", "google"),
    ("gcp.vertex_ai", "google"),
    ("gcp.gen_ai", "google"),
    ("vertexai", "google"),
    ("mistral_ai", "mistral"),
    ("mistralai", "mistral"),
    ("x_ai", "x-ai"),
    ("xai", "x-ai"),
];

/// The `genai-prices` provider id for a provider name a span sent.
pub fn provider_id(name: &str) -> &str {
    let n = name.trim();
    PROVIDER_IDS.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map_or(n, |(_, v)| v)
}

/// USD → integer micro-USD, rounding half up (the one rounding rule of costs). `None` for a
/// negative, non-finite or absurd (≥ 10^9 USD) amount.
pub fn usd_to_micros(usd: f64) -> Option<i64> {
    if !(0.0..1e9).contains(&usd) {
        return None;
    }
    Some((usd * 1e6 + 0.5).floor() as i64)
}

/// The token usage of one span, by kind. `input` includes cache reads and writes, `output`
/// includes reasoning (as OTel GenAI, OpenInference and OpenLLMetry report them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenUsage {
    /// Input (prompt) tokens, all of them.
    pub input: i64,
    /// Output (completion) tokens, all of them.
    pub output: i64,
    /// Of the input, read from the provider's prompt cache.
    pub cache_read: i64,
    /// Of the input, written to the provider's prompt cache.
    pub cache_write: i64,
    /// Of the output, reasoning tokens.
    pub reasoning: i64,
}

/// What a span's model, provider and tier are priced as.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// Cost, USD (before rounding to micro-USD).
    pub usd: f64,
    /// The provider id the price came from: `genai-prices`'s, or the override's provider, else
    /// `prices-file` (an override for any provider).
    pub provider: String,
    /// The model id matched (`genai-prices`'s id, or the override's name or prefix).
    pub model: String,
    /// From a `--prices` override rather than the bundled table.
    pub overridden: bool,
}

/// One model price of a `--prices` file.
#[derive(Debug, Clone, PartialEq)]
pub struct OverridePrice {
    /// Model name (exact) or prefix, matched case-sensitively.
    pub model: String,
    /// Whether [`Self::model`] is a prefix (`model_prefix`) rather than the exact name (`model`).
    pub prefix: bool,
    /// Only for spans of this provider (compared after [`provider_id`], case-insensitively).
    pub provider: Option<String>,
    /// USD per million uncached input tokens.
    pub input: f64,
    /// USD per million output tokens (reasoning included unless `reasoning` is given).
    pub output: f64,
    /// USD per million cache-read input tokens (default: `input`).
    pub cache_read: Option<f64>,
    /// USD per million cache-write input tokens (default: `input`).
    pub cache_write: Option<f64>,
    /// USD per million reasoning output tokens (default: `output`).
    pub reasoning: Option<f64>,
}

impl OverridePrice {
    fn cost(&self, u: &TokenUsage) -> f64 {
        let cached = u.cache_read + u.cache_write;
        let plain_in = (u.input - cached).max(0) as f64;
        let plain_out = (u.output - u.reasoning).max(0) as f64;
        (plain_in * self.input
            + u.cache_read as f64 * self.cache_read.unwrap_or(self.input)
            + u.cache_write as f64 * self.cache_write.unwrap_or(self.input)
            + plain_out * self.output
            + u.reasoning as f64 * self.reasoning.unwrap_or(self.output))
            / 1e6
    }

    fn matches(&self, provider: Option<&str>, model: &str) -> bool {
        let model_ok = if self.prefix { model.starts_with(&self.model) } else { model == self.model };
        model_ok
            && match &self.provider {
                None => true,
                Some(p) => provider.is_some_and(|sp| provider_id(sp).eq_ignore_ascii_case(p)),
            }
    }
}

/// Most (provider, model) pairs whose `genai-prices` match one [`Pricer`] remembers; the memo is
/// cleared when full.
pub const MATCH_MEMO_ENTRIES: usize = 4096;

thread_local! {
    /// The memo key of the span being priced, reused so a lookup allocates nothing.
    static KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// What `genai-prices` matched for one (provider id, model) pair. Its matching depends on those
/// two only; the time, tier and usage select a price of the matched model afterwards.
#[derive(Debug)]
enum Matched {
    /// No provider or no model: the crate would answer the same again.
    Unknown,
    /// The crate's own record of the match (provider selected, provider defining the model, model
    /// id), which [`ExtractedUsage::price_request`] turns into a request priced against that model
    /// without matching again. Its `usage` is not used.
    Resolved(ExtractedUsage),
    /// Known, but the crate's match could not be recorded (the provider has no usage extractor
    /// for [`synthetic_response`], or it is a LiteLLM proxy ref): priced by the crate in full on
    /// every call.
    Direct,
}

/// Prices spans: the `--prices` overrides first, then the bundled `genai-prices` table.
#[derive(Debug)]
pub struct Pricer {
    calc: &'static Calculator,
    overrides: Vec<OverridePrice>,
    /// The crate's match of each (provider id, model) pair seen, keyed `"{provider}\0{model}"`
    /// (no provider: empty). Matching is the dear part of a lookup (the provider's model rules,
    /// many of them regexes, in order, then its fallback providers and a compact-date retry);
    /// pricing a matched model is the crate's too (historic and time-of-day prices, service-tier
    /// variants, tiered prices by token count).
    matched: RwLock<HashMap<String, Arc<Matched>>>,
}

impl Default for Pricer {
    fn default() -> Pricer {
        Pricer::bundled()
    }
}

/// A response body of the usual shapes (`model` / `usage` of OpenAI chat and responses,
/// Anthropic, Bedrock Converse; Gemini's `modelVersion` / `usageMetadata`; Workers AI's
/// `result`; Cohere's `billed_units`; Cursor's `tokenUsage`) naming `model`, with one token of usage: what [`Calculator::extract_usage`] needs to
/// record its match of `model` (the usage is discarded).
fn synthetic_response(model: &str) -> serde_json::Value {
    let billed = serde_json::json!({ "input_tokens": 1, "output_tokens": 1 });
    let usage = serde_json::json!({
        "prompt_tokens": 1, "completion_tokens": 1,
        "input_tokens": 1, "output_tokens": 1,
        "inputTokens": 1, "outputTokens": 1,
        "billed_units": billed,
    });
    serde_json::json!({
        "model": model,
        "usage": usage,
        "modelVersion": model,
        "usageMetadata": { "promptTokenCount": 1, "candidatesTokenCount": 1 },
        "result": { "model": model, "usage": usage },
        "meta": { "billed_units": billed },
        "tokenUsage": { "inputTokens": 1, "outputTokens": 1, "cacheReadTokens": 0, "cacheWriteTokens": 0 },
    })
}

impl Pricer {
    /// The bundled table only. Decodes it (≈ 100 ms, once per process).
    pub fn bundled() -> Pricer {
        Pricer::with_overrides(Vec::new())
    }

    /// The bundled table with `overrides` taking precedence.
    pub fn with_overrides(overrides: Vec<OverridePrice>) -> Pricer {
        Pricer { calc: Calculator::bundled(), overrides, matched: RwLock::new(HashMap::new()) }
    }

    /// Reads a `--prices` file (TOML, or JSON when it ends in `.json`): see [`parse_prices`].
    pub fn from_file(path: &Path) -> Result<Pricer, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
        parse_prices(&text, json).map(Pricer::with_overrides).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The overrides in force.
    pub fn overrides(&self) -> &[OverridePrice] {
        &self.overrides
    }

    /// The list price of one call of `model` (from `provider`, when the span says) that started
    /// at `start_ns` (unix ns; historic prices), in service `tier` (OpenAI's `service_tier`),
    /// using `usage`. `None` when no price is known (unknown provider or model, a model name
    /// over [`MAX_PRICED_MODEL_BYTES`], usage the crate finds inconsistent).
    ///
    /// An override matches by exact name before prefix, the longest prefix first, and one naming
    /// the span's provider before one naming none.
    ///
    /// The crate's match of each (provider, model) pair is remembered (up to
    /// [`MATCH_MEMO_ENTRIES`]): an unknown pair is answered `None` without a lookup, a known one
    /// is priced by the crate against the remembered model (same price as a full lookup: the
    /// time, tier and usage are applied by the crate on every call).
    pub fn price(
        &self,
        provider: Option<&str>,
        model: &str,
        start_ns: i64,
        tier: Option<&str>,
        usage: &TokenUsage,
    ) -> Option<Estimate> {
        if model.is_empty() || model.len() > MAX_PRICED_MODEL_BYTES {
            return None;
        }
        if let Some(o) = self.best_override(provider, model) {
            return Some(Estimate {
                usd: o.cost(usage),
                provider: o.provider.clone().unwrap_or_else(|| "prices-file".into()),
                model: o.model.clone(),
                overridden: true,
            });
        }
        let provider = provider.map(provider_id).filter(|p| !p.is_empty());
        let seen = KEY.with_borrow_mut(|key| {
            key.clear();
            key.push_str(provider.unwrap_or(""));
            key.push('\0');
            key.push_str(model);
            self.matched.read().unwrap_or_else(|e| e.into_inner()).get(key.as_str()).cloned()
        });
        match seen.as_deref() {
            Some(Matched::Unknown) => return None,
            Some(Matched::Resolved(m)) => return self.lookup_resolved(m, start_ns, tier, usage).ok(),
            Some(Matched::Direct) => return self.lookup(provider, model, start_ns, tier, usage).ok(),
            None => {}
        }
        let (found, answer) = match self.lookup(provider, model, start_ns, tier, usage) {
            Ok(e) => (self.resolve(provider, model, &e, start_ns, tier, usage), Some(e)),
            Err(ErrorKind::ProviderNotFound | ErrorKind::ModelNotFound) => (Matched::Unknown, None),
            // Inconsistent usage or a failed regex: not a property of the pair.
            Err(_) => return None,
        };
        let mut memo = self.matched.write().unwrap_or_else(|e| e.into_inner());
        if memo.len() >= MATCH_MEMO_ENTRIES {
            memo.clear();
        }
        memo.insert(format!("{}\0{model}", provider.unwrap_or("")), Arc::new(found));
        answer
    }

    /// Records the crate's match of a known pair whose full lookup answered `direct`: extraction
    /// from [`synthetic_response`] with the provider the lookup selected, in each of its API
    /// flavors until one matches the same model, kept only if pricing through it gives exactly
    /// `direct` for this call.
    fn resolve(
        &self,
        provider: Option<&str>,
        model: &str,
        direct: &Estimate,
        start_ns: i64,
        tier: Option<&str>,
        usage: &TokenUsage,
    ) -> Matched {
        // A LiteLLM ref (`anthropic/claude-...`) is re-targeted by the crate's lookup only.
        if provider.is_some_and(|p| p.trim().eq_ignore_ascii_case("litellm")) {
            return Matched::Direct;
        }
        let Ok(Some(selected)) = self.calc.find_provider(Some(&direct.provider), None) else { return Matched::Direct };
        let body = synthetic_response(model);
        for flavor in selected.api_flavors() {
            let req = ExtractRequest::from_value(&body).with_provider_id(selected.id()).with_api_flavor(flavor);
            let Ok(m) = self.calc.extract_usage(&req) else { continue };
            if m.provider_id != direct.provider || m.model_id.as_deref() != Some(direct.model.as_str()) {
                continue;
            }
            if self.lookup_resolved(&m, start_ns, tier, usage).as_ref() == Ok(direct) {
                return Matched::Resolved(m);
            }
        }
        Matched::Direct
    }

    /// The `genai-prices` usage of `usage`.
    fn usage(usage: &TokenUsage) -> Usage {
        let mut u = Usage::new();
        u.insert(UsageKey::INPUT_TOKENS, usage.input as f64);
        u.insert(UsageKey::OUTPUT_TOKENS, usage.output as f64);
        if usage.cache_read > 0 {
            u.insert(UsageKey::CACHE_READ_TOKENS, usage.cache_read as f64);
        }
        if usage.cache_write > 0 {
            u.insert(UsageKey::CACHE_WRITE_TOKENS, usage.cache_write as f64);
        }
        if usage.reasoning > 0 {
            u.insert(UsageKey::OUTPUT_REASONING_TOKENS, usage.reasoning as f64);
        }
        u
    }

    /// Completes a request with the time and tier of the call and prices it.
    fn calculate<'a>(
        &self,
        mut req: PriceRequest<'a>,
        start_ns: i64,
        tier: Option<&'a str>,
    ) -> Result<Estimate, ErrorKind> {
        req.timestamp = Some(UNIX_EPOCH + Duration::from_nanos(u64::try_from(start_ns).unwrap_or(0)));
        if let Some(t) = tier.filter(|t| !t.is_empty()) {
            req = req.with_price_context("service_tier", t);
        }
        let calc = self.calc.calculate(&req).map_err(|e| e.kind())?;
        Ok(Estimate { usd: calc.total_price, provider: calc.provider_id, model: calc.model_id, overridden: false })
    }

    /// The `genai-prices` price, unmemoised; `provider` is already a crate provider id.
    fn lookup(
        &self,
        provider: Option<&str>,
        model: &str,
        start_ns: i64,
        tier: Option<&str>,
        usage: &TokenUsage,
    ) -> Result<Estimate, ErrorKind> {
        let u = Pricer::usage(usage);
        let mut req = PriceRequest::new(model, &u);
        if let Some(p) = provider {
            req = req.with_provider_id(p);
        }
        self.calculate(req, start_ns, tier)
    }

    /// The `genai-prices` price of the model the crate matched before (`m`).
    fn lookup_resolved(
        &self,
        m: &ExtractedUsage,
        start_ns: i64,
        tier: Option<&str>,
        usage: &TokenUsage,
    ) -> Result<Estimate, ErrorKind> {
        let u = Pricer::usage(usage);
        let Some(mut req) = m.price_request() else { return Err(ErrorKind::ModelNotFound) };
        req.usage = &u;
        self.calculate(req, start_ns, tier)
    }

    fn best_override(&self, provider: Option<&str>, model: &str) -> Option<&OverridePrice> {
        self.overrides
            .iter()
            .filter(|o| o.matches(provider, model))
            .max_by_key(|o| (!o.prefix, o.model.len(), o.provider.is_some()))
    }
}

/// Parses a `--prices` file: a list of model prices, in TOML
///
/// ```toml
/// [[price]]
/// model = "my-finetune"        # exact name, or: model_prefix = "ft:gpt-4o"
/// provider = "openai"          # optional
/// input = 3.0                  # USD per million tokens
/// output = 12.0
/// cache_read = 1.5             # optional (default: input)
/// cache_write = 3.75           # optional (default: input)
/// reasoning = 12.0             # optional (default: output)
/// ```
///
/// or JSON (`json`: `{"price": [{"model": "my-finetune", "input": 3.0, "output": 12.0}]}`).
///
/// # Errors
/// The message names the line (and column) and the field: bad syntax, an unknown field (usage
/// kind), a negative or non-finite price, an entry without `model`/`model_prefix` or with both,
/// a missing `input`/`output`, and a duplicate match (same name or prefix and provider).
pub fn parse_prices(text: &str, json: bool) -> Result<Vec<OverridePrice>, String> {
    if json {
        let file: PricesFile = serde_json::from_str(text).map_err(|e| format!("invalid prices JSON: {e}"))?;
        return Ok(file.price.0);
    }
    // TOML: each entry with its span, so entry-level errors name the entry's line.
    let file: TomlFile = toml::from_str(text).map_err(|e| format!("invalid prices TOML: {e}"))?;
    let mut out = Vec::with_capacity(file.price.len());
    for e in file.price {
        let line = 1 + text[..e.span().start.min(text.len())].matches('\n').count();
        let p = e.into_inner().into_price().map_err(|m| format!("invalid prices TOML at line {line}: {m}"))?;
        push_unique(&mut out, p).map_err(|m| format!("invalid prices TOML at line {line}: {m}"))?;
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PricesFile {
    price: PriceList,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlFile {
    price: Vec<toml::Spanned<Entry>>,
}

/// Adds `p` unless an entry with the same match (name or prefix, and provider) is there.
fn push_unique(out: &mut Vec<OverridePrice>, p: OverridePrice) -> Result<(), String> {
    let same = |o: &OverridePrice| {
        o.model == p.model
            && o.prefix == p.prefix
            && o.provider.as_deref().map(str::to_ascii_lowercase) == p.provider.as_deref().map(str::to_ascii_lowercase)
    };
    if let Some(i) = out.iter().position(same) {
        let field = if p.prefix { "model_prefix" } else { "model" };
        return Err(format!(
            "price {}: duplicate match: field `{field}` = {:?}{} is already priced by price {}",
            out.len() + 1,
            p.model,
            p.provider.as_deref().map(|x| format!(" (provider {x:?})")).unwrap_or_default(),
            i + 1
        ));
    }
    out.push(p);
    Ok(())
}

/// The entries, checked for duplicates as they are read, so the format's error carries the
/// position of the duplicate.
struct PriceList(Vec<OverridePrice>);

impl<'de> Deserialize<'de> for PriceList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PriceList, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PriceList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of model prices")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PriceList, A::Error> {
                let mut out: Vec<OverridePrice> = Vec::new();
                while let Some(e) = seq.next_element::<Entry>()? {
                    let p = e.into_price().map_err(de::Error::custom)?;
                    push_unique(&mut out, p).map_err(de::Error::custom)?;
                }
                Ok(PriceList(out))
            }
        }
        d.deserialize_seq(V)
    }
}

/// A price in USD per million tokens: a finite number, not negative.
#[derive(Debug, Clone, Copy)]
struct Usd(f64);

macro_rules! price_field {
    ($($name:ident => $field:literal,)*) => {$(
        fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Usd>, D::Error> {
            let v = f64::deserialize(d)?;
            if !v.is_finite() || v < 0.0 {
                return Err(de::Error::custom(format!(
                    concat!("field `", $field, "`: a price must be a number of USD per million tokens, not negative; got {}"),
                    v
                )));
            }
            Ok(Some(Usd(v)))
        }
    )*};
}

price_field! {
    de_input => "input",
    de_output => "output",
    de_cache_read => "cache_read",
    de_cache_write => "cache_write",
    de_reasoning => "reasoning",
}

/// One entry as written; `deny_unknown_fields` refuses an unknown usage kind by name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    model: Option<String>,
    model_prefix: Option<String>,
    provider: Option<String>,
    #[serde(default, deserialize_with = "de_input")]
    input: Option<Usd>,
    #[serde(default, deserialize_with = "de_output")]
    output: Option<Usd>,
    #[serde(default, deserialize_with = "de_cache_read")]
    cache_read: Option<Usd>,
    #[serde(default, deserialize_with = "de_cache_write")]
    cache_write: Option<Usd>,
    #[serde(default, deserialize_with = "de_reasoning")]
    reasoning: Option<Usd>,
}

impl Entry {
    fn into_price(self) -> Result<OverridePrice, String> {
        let (model, prefix) = match (self.model, self.model_prefix) {
            (Some(m), None) if !m.is_empty() => (m, false),
            (None, Some(m)) if !m.is_empty() => (m, true),
            (Some(_), Some(_)) => return Err("give field `model` or field `model_prefix`, not both".into()),
            _ => return Err("field `model` (or `model_prefix`) is required and not empty".into()),
        };
        let need =
            |v: Option<Usd>, f: &str| v.map(|u| u.0).ok_or_else(|| format!("field `{f}` is required for {model:?}"));
        Ok(OverridePrice {
            input: need(self.input, "input")?,
            output: need(self.output, "output")?,
            cache_read: self.cache_read.map(|u| u.0),
            cache_write: self.cache_write.map(|u| u.0),
            reasoning: self.reasoning.map(|u| u.0),
            provider: self.provider.filter(|p| !p.trim().is_empty()).map(|p| provider_id(&p).to_string()),
            model,
            prefix,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_half_up_per_span() {
        assert_eq!(usd_to_micros(0.0000005), Some(1));
        assert_eq!(usd_to_micros(0.0000004999), Some(0));
        assert_eq!(usd_to_micros(1.0), Some(1_000_000));
        assert_eq!(usd_to_micros(-0.1), None);
        assert_eq!(usd_to_micros(f64::NAN), None);
        assert_eq!(usd_to_micros(f64::INFINITY), None);
    }

    /// The version shown beside estimated costs is the locked crate's.
    #[test]
    fn version_matches_the_lock_file() {
        let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock")).unwrap();
        let at = lock.find("name = \"genai-prices\"\nversion = \"").expect("genai-prices in Cargo.lock");
        let rest = &lock[at + "name = \"genai-prices\"\nversion = \"".len()..];
        assert_eq!(&rest[..rest.find('"').unwrap()], GENAI_PRICES_VERSION);
    }

    /// The memo answers exactly what the crate answers, for known and unknown models, across
    /// tiers, historic and current timestamps and usage kinds; an override still wins.
    #[test]
    fn memoised_prices_equal_unmemoised() {
        let pricer = Pricer::bundled();
        let usages = [
            TokenUsage { input: 1200, output: 300, ..TokenUsage::default() },
            TokenUsage { input: 900, output: 200, cache_read: 400, cache_write: 100, reasoning: 50 },
            TokenUsage { input: 300_000, output: 10, ..TokenUsage::default() },
        ];
        // 2023-06-01, 2024-11-01, 2025-09-01 (UTC midnight) and 16:45 UTC on 2025-09-01.
        let times = [1_685_577_600, 1_730_419_200, 1_756_684_800, 1_756_745_100].map(|s: i64| s * 1_000_000_000);
        let calls = [
            (Some("openai"), "gpt-4o-2024-08-06"),
            (Some("openai"), "gpt-4o-mini"),
            (Some("anthropic"), "claude-3-5-sonnet-20241022"),
            (None, "gemini-2.5-pro"),
            (Some("deepseek"), "deepseek-chat"),
            (Some("openai"), "acme-internal-llm-v1"),
            (None, "acme-internal-llm-v1"),
            (Some("no-such-provider"), "gpt-4o"),
        ];
        let mut priced = 0;
        for _round in 0..2 {
            for (provider, model) in calls {
                for tier in [None, Some("default"), Some("flex"), Some("priority")] {
                    for at in times {
                        for u in &usages {
                            let memo = pricer.price(provider, model, at, tier, u);
                            let direct = pricer.lookup(provider.map(provider_id), model, at, tier, u).ok();
                            assert_eq!(memo, direct, "{provider:?} {model} {tier:?} {at} {u:?}");
                            priced += usize::from(memo.is_some());
                        }
                    }
                }
            }
        }
        assert!(priced > 0, "the bundled table prices the known models");
        let memo = pricer.matched.read().unwrap();
        let kind = |k: &str| {
            memo.get(k).map(|m| match **m {
                Matched::Unknown => "unknown",
                Matched::Resolved(_) => "resolved",
                Matched::Direct => "direct",
            })
        };
        assert_eq!(kind("openai\0acme-internal-llm-v1"), Some("unknown"));
        assert_eq!(kind("\0acme-internal-llm-v1"), Some("unknown"));
        assert_eq!(kind("no-such-provider\0gpt-4o"), Some("unknown"));
        for known in ["openai\0gpt-4o-mini", "anthropic\0claude-3-5-sonnet-20241022", "\0gemini-2.5-pro"] {
            assert_eq!(kind(known), Some("resolved"), "{known}: priced against the remembered match");
        }
        drop(memo);

        let o = parse_prices(
            "[[price]]\nmodel = \"acme-internal-llm-v1\"\ninput = 1.0\noutput = 2.0\n\n\
             [[price]]\nmodel = \"gpt-4o-mini\"\ninput = 10.0\noutput = 20.0\n",
            false,
        )
        .unwrap();
        let pricer = Pricer::with_overrides(o);
        let u = TokenUsage { input: 1_000_000, output: 1_000_000, ..TokenUsage::default() };
        for _round in 0..2 {
            let e = pricer.price(Some("openai"), "acme-internal-llm-v1", times[2], None, &u).unwrap();
            assert!(e.overridden && e.usd == 3.0, "{e:?}");
            let e = pricer.price(Some("openai"), "gpt-4o-mini", times[2], Some("default"), &u).unwrap();
            assert!(e.overridden && e.usd == 30.0, "{e:?}");
        }
    }

    /// The memo of matches stays bounded.
    #[test]
    fn match_memo_is_bounded() {
        let pricer = Pricer::bundled();
        let u = TokenUsage { input: 10, output: 10, ..TokenUsage::default() };
        for i in 0..MATCH_MEMO_ENTRIES + 10 {
            assert_eq!(pricer.price(Some("openai"), &format!("acme-{i}"), 0, None, &u), None);
        }
        let n = pricer.matched.read().unwrap().len();
        assert!((1..=MATCH_MEMO_ENTRIES).contains(&n), "{n}");
    }

    /// Every bundled model priced with its provider is priced against the crate's recorded match,
    /// except the models of providers without a usage extractor (priced by a full lookup).
    #[test]
    fn known_models_are_priced_against_the_recorded_match() {
        let pricer = Pricer::bundled();
        let u = TokenUsage { input: 1000, output: 100, ..TokenUsage::default() };
        let at = 1_756_684_800_000_000_000;
        let mut direct = Vec::new();
        let mut resolved = 0;
        for p in pricer.calc.providers() {
            for m in p.models() {
                if pricer.price(Some(p.id()), m.id(), at, None, &u).is_none() {
                    continue;
                }
                let memo = pricer.matched.read().unwrap();
                match *memo[&format!("{}\0{}", p.id(), m.id())] {
                    Matched::Resolved(_) => resolved += 1,
                    Matched::Direct => direct.push((p.id(), p.api_flavors().count(), m.id())),
                    Matched::Unknown => unreachable!("priced"),
                }
            }
        }
        assert!(resolved > 1_900, "{resolved} priced against the recorded match");
        assert!(direct.iter().all(|(_, flavors, _)| *flavors == 0), "{direct:?}");
    }

    #[test]
    fn provider_names_map_to_crate_ids() {
        for (name, id) in PROVIDER_IDS {
            assert!(
                Calculator::bundled().find_provider(Some(id), None).unwrap().is_some(),
                "{name} -> {id} is a genai-prices provider"
            );
        }
        assert_eq!(provider_id("gcp.vertex_ai"), "google");
        assert_eq!(provider_id("openai"), "openai");
    }
}
