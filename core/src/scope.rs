//! Attribute scopes on [`opentelemetry::Context`]: every span started while a scope is current
//! (from any tracer under a provider with [`crate::UserAttributesSpanProcessor`]) carries its
//! attributes. Entering a scope inside another merges ([`Attributes::merge`]); leaving restores
//! the outer scope exactly, because contexts are immutable and the guard restores the previous one.

use crate::attributes::{Attributes, Derived};
use crate::privacy::Privacy;
use opentelemetry::context::FutureExt as _;
use opentelemetry::{Context, ContextGuard, KeyValue};
use std::future::Future;
use std::sync::{Arc, OnceLock};

/// An immutable, merged attribute set stored in a [`Context`]. Cheap to clone (an `Arc`).
/// Bindings keep it in their own context mechanism (a Python `ContextVar`, a JS
/// `AsyncLocalStorage`) and hand it back at span start.
#[derive(Clone, Debug)]
pub struct Scope(Arc<ScopeInner>);

#[derive(Debug)]
struct ScopeInner {
    attributes: Attributes,
    derived: OnceLock<(u64, Derived)>,
}

impl Scope {
    /// A scope holding exactly `attributes` (no merge).
    pub fn new(attributes: Attributes) -> Scope {
        Scope(Arc::new(ScopeInner { attributes, derived: OnceLock::new() }))
    }

    /// A scope nested in `outer`: `attributes` merged over the outer ones.
    pub fn nested(outer: Option<&Scope>, attributes: Attributes) -> Scope {
        match outer {
            Some(o) => Scope::new(o.attributes().merge(&attributes)),
            None => Scope::new(attributes),
        }
    }

    /// The scope of the current [`Context`], if any.
    pub fn current() -> Option<Scope> {
        Context::map_current(|cx| cx.get::<Scope>().cloned())
    }

    /// The merged attributes.
    pub fn attributes(&self) -> &Attributes {
        &self.0.attributes
    }

    /// The span attributes to stamp under `privacy` (see [`Attributes::render`]).
    pub fn key_values(&self, privacy: &Privacy) -> Vec<KeyValue> {
        let mut out = Vec::new();
        self.for_each_key_value(privacy, |kv| out.push(kv));
        out
    }

    /// Calls `f` with each attribute to stamp under `privacy`. The costly parts (metadata JSON,
    /// the id's HMAC) are computed once per scope for the first privacy configuration that asks
    /// (another configuration computes them afresh each time); a scope without them skips the cache.
    pub fn for_each_key_value(&self, privacy: &Privacy, f: impl FnMut(KeyValue)) {
        let a = &self.0.attributes;
        if !a.derive_is_costly(privacy) {
            // Nothing to hash or serialise: deriving is cheaper than the once-cell (most scopes
            // are made for one capture and stamped once).
            return a.emit(privacy, &a.derive(privacy), f);
        }
        let (id, derived) = self.0.derived.get_or_init(|| (privacy.id, a.derive(privacy)));
        if *id == privacy.id {
            a.emit(privacy, derived, f)
        } else {
            a.emit(privacy, &a.derive(privacy), f)
        }
    }

    /// Makes this scope current until the guard is dropped.
    pub fn attach(self) -> ContextGuard {
        Context::current_with_value(self).attach()
    }
}

/// Enters a scope with `attributes` merged over the current one, until the guard drops.
///
/// ```
/// let _guard = userspan::enter_scope(userspan::Attributes::new().user_id("u-1"));
/// // spans started here carry user.id = "u-1"
/// ```
pub fn enter_scope(attributes: Attributes) -> ContextGuard {
    Scope::nested(Scope::current().as_ref(), attributes).attach()
}

/// Runs `f` inside a scope with `attributes` merged over the current one; returns `f`'s value.
pub fn with_scope<T>(attributes: Attributes, f: impl FnOnce() -> T) -> T {
    let _guard = enter_scope(attributes);
    f()
}

/// Gives futures a scope that follows them across `.await` on any executor.
pub trait ScopeFutureExt: Future + Sized {
    /// Runs this future with `attributes` merged over the scope current *now* (when the future is
    /// created), restoring the caller's context between polls.
    fn with_user_attributes(self, attributes: Attributes) -> opentelemetry::context::WithContext<Self> {
        let scope = Scope::nested(Scope::current().as_ref(), attributes);
        self.with_context(Context::current_with_value(scope))
    }
}

impl<F: Future> ScopeFutureExt for F {}
