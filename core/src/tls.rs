//! TLS of the OTLP exporter: the trusted roots and the client certificate (mTLS).
//!
//! Transport: rustls (reqwest's `rustls` backend for OTLP/HTTP, tonic's for OTLP/gRPC), with the
//! aws-lc-rs crypto provider (reqwest's default; builds with the C compiler alone).
//!
//! Trusted roots, unless a CA bundle is given: the platform's store (reqwest's
//! `rustls-platform-verifier`; on Linux the system bundle, honouring `SSL_CERT_FILE` /
//! `SSL_CERT_DIR`, as the OpenTelemetry Collector and the Go and Java SDKs do) **and** Mozilla's
//! root program (`webpki-root-certs`), so that a slim container with no CA store still reaches a
//! hosted back end (they all use public CAs) and an administrator's own CA installed in the system
//! store is still trusted. Python (`certifi`) and Node (its bundled roots) trust Mozilla's roots
//! already, so this widens nothing for the apps of those packages.
//!
//! With a CA bundle (`OTEL_EXPORTER_OTLP_CERTIFICATE`, `…_TRACES_CERTIFICATE`, option
//! `certificate`), only that bundle is trusted, as in the other OpenTelemetry SDKs. A client
//! certificate and key (`…_CLIENT_CERTIFICATE`, `…_CLIENT_KEY`, options `client_certificate`,
//! `client_key`; both or neither) are presented to a server that asks for one.
//!
//! Files are read and parsed at `init`: a missing, unreadable or unparsable one is an
//! [`Error::Config`] naming the variable or option and the path. A certificate the server rejects
//! is an export error, counted in [`crate::stats()`] and never raised.
//!
//! Source of the variables:
//! <https://opentelemetry.io/docs/specs/otel/protocol/exporter/#configuration-options>

use crate::error::{Error, Result};
use std::fmt;

/// A PEM file named by a variable or an option, read at `init`.
#[derive(Clone, PartialEq, Eq)]
pub struct PemFile {
    /// The variable or option that named it (`OTEL_EXPORTER_OTLP_CERTIFICATE`, `certificate`, ...).
    pub origin: String,
    /// The path as given.
    pub path: String,
    /// The file's bytes (kept out of `Debug`: a client key is a secret).
    pub pem: Vec<u8>,
}

impl fmt::Debug for PemFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PemFile")
            .field("origin", &self.origin)
            .field("path", &self.path)
            .field("bytes", &self.pem.len())
            .finish()
    }
}

impl PemFile {
    /// Reads `path`, named by `origin`.
    ///
    /// # Errors
    /// [`Error::Config`] naming `origin` and `path` when the file cannot be read or is empty.
    pub fn read(origin: &str, path: &str) -> Result<PemFile> {
        let pem = std::fs::read(path).map_err(|e| Error::Config(format!("{origin}: cannot read {path:?}: {e}")))?;
        if pem.iter().all(u8::is_ascii_whitespace) {
            return Err(Error::Config(format!("{origin}: {path:?} is empty")));
        }
        Ok(PemFile { origin: origin.into(), path: path.into(), pem })
    }

    #[cfg(feature = "otlp")]
    fn error(&self, what: impl fmt::Display) -> Error {
        Error::Config(format!("{}: {:?}: {what}", self.origin, self.path))
    }
}

/// The TLS files of the OTLP exporter (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA bundle trusted instead of the default roots.
    pub certificate: Option<PemFile>,
    /// Client certificate chain (mTLS), with `client_key`.
    pub client_certificate: Option<PemFile>,
    /// Client private key (PKCS#8, PKCS#1 or SEC1 PEM), with `client_certificate`.
    pub client_key: Option<PemFile>,
}

impl TlsFiles {
    /// Checks that the client certificate and key come together.
    ///
    /// # Errors
    /// [`Error::Config`] naming the one given without the other.
    pub fn check_pairs(&self) -> Result<()> {
        match (&self.client_certificate, &self.client_key) {
            (Some(c), None) => Err(Error::Config(format!(
                "{} is set but no client key is (OTEL_EXPORTER_OTLP_CLIENT_KEY or option client_key)",
                c.origin
            ))),
            (None, Some(k)) => Err(Error::Config(format!(
                "{} is set but no client certificate is (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE or option \
                 client_certificate)",
                k.origin
            ))),
            _ => Ok(()),
        }
    }

    /// Whether any file is set.
    pub fn is_empty(&self) -> bool {
        self.certificate.is_none() && self.client_certificate.is_none() && self.client_key.is_none()
    }
}

#[cfg(feature = "otlp")]
fn ca_bundle(ca: &PemFile) -> Result<Vec<reqwest::Certificate>> {
    let certs =
        reqwest::Certificate::from_pem_bundle(&ca.pem).map_err(|e| ca.error(format!("not a PEM bundle: {e}")))?;
    if certs.is_empty() {
        return Err(ca.error("holds no PEM certificate"));
    }
    Ok(certs)
}

#[cfg(feature = "otlp")]
fn identity(files: &TlsFiles) -> Result<Option<reqwest::Identity>> {
    let (Some(cert), Some(key)) = (&files.client_certificate, &files.client_key) else { return Ok(None) };
    match reqwest::Certificate::from_pem_bundle(&cert.pem) {
        Ok(c) if !c.is_empty() => {}
        _ => return Err(cert.error("holds no PEM certificate")),
    }
    let mut both = cert.pem.clone();
    both.push(b'\n');
    both.extend_from_slice(&key.pem);
    reqwest::Identity::from_pem(&both)
        .map(Some)
        .map_err(|e| key.error(format!("no usable PEM private key with {} {:?}: {e}", cert.origin, cert.path)))
}

/// Names the files a client-build failure can come from.
#[cfg(feature = "otlp")]
fn origins(files: &TlsFiles) -> String {
    let named: Vec<String> = [&files.certificate, &files.client_certificate, &files.client_key]
        .into_iter()
        .flatten()
        .map(|f| format!("{} {:?}", f.origin, f.path))
        .collect();
    if named.is_empty() {
        "the default roots".into()
    } else {
        named.join(", ")
    }
}

/// The blocking HTTP client of the OTLP/HTTP exporter, with the TLS described in the module docs
/// and `timeout` per request.
///
/// # Errors
/// [`Error::Config`] naming the variable or option and path of a file that does not parse, or of
/// a client certificate and key that do not match.
#[cfg(feature = "otlp")]
pub(crate) fn http_client(files: &TlsFiles, timeout: std::time::Duration) -> Result<reqwest::blocking::Client> {
    files.check_pairs()?;
    let mut builder = reqwest::blocking::Client::builder().timeout(timeout);
    builder = match &files.certificate {
        Some(ca) => builder.tls_certs_only(ca_bundle(ca)?),
        None => builder.tls_certs_merge(
            webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().filter_map(|der| reqwest::Certificate::from_der(der).ok()),
        ),
    };
    if let Some(id) = identity(files)? {
        builder = builder.identity(id);
    }
    // The blocking client owns a runtime: build (and on error drop) it off any async context the
    // caller may be in, as opentelemetry-otlp does for its own.
    let built = std::thread::Builder::new()
        .name("userspan-http-client".into())
        .spawn(move || builder.build().map_err(|e| e.to_string()))
        .map_err(|e| Error::Config(format!("cannot start a thread for the HTTP client: {e}")))?
        .join()
        .map_err(|_| Error::Config("building the HTTP client panicked".into()))?;
    built.map_err(|e| Error::Config(format!("cannot build the HTTPS client from {}: {e}", origins(files))))
}

/// The gRPC exporter's TLS: as [`http_client`]'s (the platform's roots and Mozilla's, or only the
/// CA bundle), with the client identity.
///
/// # Errors
/// As [`http_client`] for files that do not parse.
#[cfg(feature = "grpc")]
pub(crate) fn tonic_tls(files: &TlsFiles) -> Result<tonic::transport::ClientTlsConfig> {
    use tonic::transport::{Certificate, ClientTlsConfig, Identity};
    files.check_pairs()?;
    let mut tls = ClientTlsConfig::new();
    tls = match &files.certificate {
        Some(ca) => {
            ca_bundle(ca)?;
            tls.ca_certificate(Certificate::from_pem(&ca.pem))
        }
        None => tls.with_native_roots().with_webpki_roots(),
    };
    if identity(files)?.is_some() {
        if let (Some(cert), Some(key)) = (&files.client_certificate, &files.client_key) {
            tls = tls.identity(Identity::from_pem(&cert.pem, &key.pem));
        }
    }
    Ok(tls)
}
