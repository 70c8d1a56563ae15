//! TLS for `userspan serve --tls-cert FILE --tls-key FILE`: the HTTP port (OTLP/HTTP, JSON API,
//! dashboard) and the OTLP/gRPC port are served over TLS (rustls, aws-lc-rs crypto) with one
//! certificate chain and key, read once at start.
//!
//! The files are checked before anything is opened or bound ([`Tls::load`]): a file that cannot
//! be read, holds no PEM certificate (or no unencrypted PEM private key), a certificate that is not
//! X.509, a key rustls cannot use, or a key that is not the certificate's refuses start with an
//! error naming the flag, the path and what is wrong. A renewed certificate is picked up by a
//! restart (there is no reload on SIGHUP).
//!
//! HTTP is HTTP/1.1 over TLS (ALPN `http/1.1`), as over plain TCP; gRPC is HTTP/2 (ALPN `h2`).
//! TLS 1.2 and 1.3 with rustls' safe defaults; no client certificates are asked for (API keys
//! authenticate clients).

use axum::Router;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long a client may take for its TLS handshake before its connection is closed (both ports).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The PEM files of `--tls-cert` and `--tls-key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, PEM: the server's certificate first, then any intermediates.
    pub cert: PathBuf,
    /// The certificate's private key, PEM (`PRIVATE KEY` (PKCS#8), `RSA PRIVATE KEY` or
    /// `EC PRIVATE KEY`), not encrypted.
    pub key: PathBuf,
}

/// A checked certificate chain and key, ready for both servers.
#[derive(Clone)]
pub struct Tls {
    /// The HTTP server's configuration (ALPN `http/1.1`).
    http: Arc<rustls::ServerConfig>,
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    note: Option<String>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

fn read(flag: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{flag} {}: cannot read: {e}", path.display()))
}

impl Tls {
    /// Reads and checks `files`.
    ///
    /// # Errors
    /// A message naming `--tls-cert` or `--tls-key`, the path and the problem: cannot read, no
    /// PEM certificate / private key in it, bad PEM, a certificate that is not X.509, a key type
    /// rustls cannot sign with, or a key that does not match the certificate.
    pub fn load(files: &TlsFiles) -> Result<Tls, String> {
        let (cert_path, key_path) = (files.cert.display(), files.key.display());
        let cert_pem = read("--tls-cert", &files.cert)?;
        let key_pem = read("--tls-key", &files.key)?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("--tls-cert {cert_path}: not valid PEM: {e}"))?;
        let Some(leaf) = chain.first() else {
            return Err(format!(
                "--tls-cert {cert_path}: holds no PEM certificate (a `-----BEGIN CERTIFICATE-----` block)"
            ));
        };
        rustls::server::ParsedCertificate::try_from(leaf).map_err(|e| {
            format!("--tls-cert {cert_path}: the first certificate is not a valid X.509 certificate: {e}")
        })?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
            pem::Error::NoItemsFound => format!(
                "--tls-key {key_path}: holds no unencrypted PEM private key (a `PRIVATE KEY`, `RSA PRIVATE KEY` \
                 or `EC PRIVATE KEY` block; encrypted keys are not supported)"
            ),
            e => format!("--tls-key {key_path}: not valid PEM: {e}"),
        })?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let signing = provider
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|e| format!("--tls-key {key_path}: not a usable private key: {e}"))?;
        match CertifiedKey::new(chain.clone(), signing).keys_match() {
            Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
            Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
                return Err(format!(
                    "--tls-key {key_path} does not match the certificate in --tls-cert {cert_path} \
                     (the key's public key is not the certificate's)"
                ))
            }
            Err(e) => return Err(format!("--tls-cert {cert_path} with --tls-key {key_path}: {e}")),
        }
        let note = clients_may_refuse(&chain, &provider).map(|why| format!("--tls-cert {cert_path}: {why}"));
        let mut http = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
            .map_err(|e| format!("--tls-cert {cert_path} with --tls-key {key_path}: {e}"))?;
        http.alpn_protocols = vec![b"http/1.1".to_vec()];
        // tonic builds its rustls configuration with the process-wide provider; make sure there
        // is one (the same aws-lc-rs) even if a dependency enabled a second rustls backend.
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
        let tls = Tls { http: Arc::new(http), cert_pem, key_pem, note };
        // tonic parses the PEM again: check now, not when the gRPC server starts on its thread.
        tonic::transport::Server::builder()
            .tls_config(tls.grpc())
            .map_err(|e| format!("--tls-cert {cert_path} with --tls-key {key_path}: OTLP/gRPC: {e}"))?;
        Ok(tls)
    }

    /// Why clients may refuse the certificate although it loads (the server starts and says so):
    /// it has expired or is not valid yet, or it is a self-signed CA certificate
    /// (`basicConstraints CA:TRUE`, OpenSSL's default for `req -x509`), which rustls-based
    /// clients, the userspan SDKs among them, refuse as a server certificate. Checked only when
    /// the file holds the certificate's issuer (or the certificate is self-signed).
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    /// The OTLP/gRPC server's TLS (tonic adds ALPN `h2`).
    pub fn grpc(&self) -> tonic::transport::ServerTlsConfig {
        use tonic::transport::{Identity, ServerTlsConfig};
        ServerTlsConfig::new().identity(Identity::from_pem(&self.cert_pem, &self.key_pem)).timeout(HANDSHAKE_TIMEOUT)
    }

    /// Serves `app` over TLS on `listener` (non-blocking) until `shutdown` completes, then, as
    /// `axum::serve`'s graceful shutdown does, stops accepting, lets in-flight requests finish and
    /// closes idle connections.
    ///
    /// # Errors
    /// The listener cannot be used or the server fails.
    pub async fn serve(
        &self,
        listener: std::net::TcpListener,
        app: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let config = axum_server::tls_rustls::RustlsConfig::from_config(self.http.clone());
        let handle = axum_server::Handle::new();
        let h = handle.clone();
        tokio::spawn(async move {
            shutdown.await;
            h.graceful_shutdown(None);
        });
        let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(config).handshake_timeout(HANDSHAKE_TIMEOUT);
        axum_server::from_tcp(listener)?.acceptor(acceptor).handle(handle).serve(app.into_make_service()).await
    }
}

/// [`Tls::note`]: verifies the server certificate as a rustls client would, trusting every
/// certificate of the file (so only a self-signed certificate or a chain that includes its CA is
/// checked; the host name is not).
fn clients_may_refuse(
    chain: &[CertificateDer<'static>],
    provider: &Arc<rustls::crypto::CryptoProvider>,
) -> Option<String> {
    use rustls::client::danger::ServerCertVerifier;
    use rustls::CertificateError as E;
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(chain.iter().cloned());
    let verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build().ok()?;
    let name = rustls::pki_types::ServerName::try_from("localhost").ok()?;
    let (leaf, rest) = chain.split_first()?;
    let now = rustls::pki_types::UnixTime::now();
    match verifier.verify_server_cert(leaf, rest, &name, &[], now) {
        Err(rustls::Error::InvalidCertificate(e)) => match e {
            E::Expired | E::ExpiredContext { .. } => {
                Some(format!("the certificate has expired ({e}); clients refuse it"))
            }
            E::NotValidYet | E::NotValidYetContext { .. } => {
                Some(format!("the certificate is not valid yet ({e}); clients refuse it"))
            }
            E::Other(o) if o.to_string().contains("CaUsedAsEndEntity") => Some(
                "a CA certificate (basicConstraints CA:TRUE) used as the server certificate: rustls-based clients \
                 (the userspan SDKs among them) refuse it; make it with `-addext basicConstraints=critical,CA:FALSE` \
                 or sign a server certificate with your CA"
                    .to_string(),
            ),
            _ => None,
        },
        _ => None,
    }
}
