//! An OTLP/HTTP sink over TLS for the tests: a CA, a server certificate for 127.0.0.1 and a client
//! certificate made with `rcgen`, served by `axum-server` with rustls (optionally requiring a
//! client certificate signed by the CA). Every request is kept with its path, headers and body
//! (gunzipped when `Content-Encoding: gzip`), and answered as an OTLP back end does.
#![allow(dead_code)] // each test binary uses part of it

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use prost::Message;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// The test PKI: a CA and two leaf certificates it signed, written as PEM files in `dir`.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca_pem: String,
    /// The server certificate and key as PEM (for servers that take PEM, like tonic's).
    pub server_pem: String,
    pub server_key_pem: String,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
    ca_der: CertificateDer<'static>,
}

impl Pki {
    /// Makes the CA, a server certificate for `127.0.0.1` / `localhost` and a client certificate,
    /// and writes `ca.pem`, `client.pem`, `client.key`, `other-ca.pem` (a CA that signed nothing
    /// here) and `garbage.pem`.
    pub fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
        let ca = |name: &str| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.distinguished_name.push(DnType::CommonName, name);
            let cert = params.self_signed(&key).unwrap();
            (cert, Issuer::new(params, key))
        };
        let (ca_cert, issuer) = ca("userspan test CA");
        let (other_ca, _) = ca("some other CA");
        let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(names).unwrap();
            params.extended_key_usages = vec![usage];
            (params.signed_by(&key, &issuer).unwrap(), key)
        };
        let (server, server_key) =
            leaf(vec!["127.0.0.1".into(), "localhost".into()], ExtendedKeyUsagePurpose::ServerAuth);
        let (client, client_key) = leaf(vec!["userspan-test-client".into()], ExtendedKeyUsagePurpose::ClientAuth);
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("ca.pem", &ca_cert.pem());
        write("other-ca.pem", &other_ca.pem());
        write("client.pem", &client.pem());
        write("client.key", &client_key.serialize_pem());
        write("garbage.pem", "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
        write("not-pem.txt", "hello, this is not PEM\n");
        Pki {
            ca_pem: ca_cert.pem(),
            server_pem: server.pem(),
            server_key_pem: server_key.serialize_pem(),
            server_chain: vec![server.der().clone()],
            server_key: server_key.serialize_der(),
            ca_der: ca_cert.der().clone(),
            dir,
        }
    }

    /// The path of one of the files written by [`Pki::new`].
    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn server_config(&self, require_client_cert: bool) -> rustls::ServerConfig {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = if require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(self.ca_der.clone()).unwrap();
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        let mut config = builder.with_single_cert(self.server_chain.clone(), key).unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config
    }
}

/// One request the sink received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    /// The body as sent (compressed if it was).
    pub raw: Bytes,
    /// The body, gunzipped when `Content-Encoding: gzip`.
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn is_json(&self) -> bool {
        self.header("content-type").is_some_and(|c| c.starts_with("application/json"))
    }

    /// The OTLP request, decoded from protobuf or JSON per its content type.
    pub fn decode(&self) -> ExportTraceServiceRequest {
        if self.is_json() {
            serde_json::from_slice(&self.body).expect("valid OTLP/JSON")
        } else {
            assert_eq!(self.header("content-type"), Some("application/x-protobuf"));
            ExportTraceServiceRequest::decode(self.body.as_slice()).expect("valid OTLP protobuf")
        }
    }
}

/// A running sink.
pub struct Sink {
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Sink {
    /// Starts a sink on 127.0.0.1 (ephemeral port) on its own runtime thread.
    pub fn start(pki: &Pki, require_client_cert: bool) -> Sink {
        let config =
            axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(pki.server_config(require_client_cert)));
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let kept = requests.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let app =
                    axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, raw: Bytes| {
                        let kept = kept.clone();
                        async move {
                            let gzip = headers.get("content-encoding").is_some_and(|v| v.as_bytes() == b"gzip");
                            let body = if gzip {
                                let mut out = Vec::new();
                                flate2::read::GzDecoder::new(raw.as_ref()).read_to_end(&mut out).expect("valid gzip");
                                out
                            } else {
                                raw.to_vec()
                            };
                            let json = headers
                                .get("content-type")
                                .is_some_and(|c| c.as_bytes().starts_with(b"application/json"));
                            kept.lock().unwrap().push(Request {
                                method,
                                path: uri.path().to_string(),
                                headers,
                                raw,
                                body,
                            });
                            if json {
                                (StatusCode::OK, [("content-type", "application/json")], b"{}".to_vec()).into_response()
                            } else {
                                let ok = ExportTraceServiceResponse::default().encode_to_vec();
                                (StatusCode::OK, [("content-type", "application/x-protobuf")], ok).into_response()
                            }
                        }
                    });
                axum_server::from_tcp_rustls(listener, config).unwrap().serve(app.into_make_service()).await.unwrap();
            });
        });
        Sink { url, requests }
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

/// One test at a time per binary: `init` and the environment are process-wide.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The string value of `key` among `kvs`.
pub fn string(kvs: &[KeyValue], key: &str) -> Option<String> {
    kvs.iter().find(|kv| kv.key == key).and_then(|kv| match &kv.value {
        Some(AnyValue { value: Some(any_value::Value::StringValue(s)) }) => Some(s.clone()),
        _ => None,
    })
}

/// The string array value of `key` among `kvs`.
pub fn strings(kvs: &[KeyValue], key: &str) -> Option<Vec<String>> {
    kvs.iter().find(|kv| kv.key == key).and_then(|kv| match &kv.value {
        Some(AnyValue { value: Some(any_value::Value::ArrayValue(a)) }) => a
            .values
            .iter()
            .map(|v| match &v.value {
                Some(any_value::Value::StringValue(s)) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => None,
    })
}

/// Every span of the request with its resource attributes.
pub fn spans(req: &ExportTraceServiceRequest) -> Vec<(Vec<KeyValue>, opentelemetry_proto::tonic::trace::v1::Span)> {
    req.resource_spans
        .iter()
        .flat_map(|rs| {
            let resource = rs.resource.as_ref().map(|r| r.attributes.clone()).unwrap_or_default();
            rs.scope_spans.iter().flat_map(move |ss| {
                ss.spans.iter().map({
                    let resource = resource.clone();
                    move |s| (resource.clone(), s.clone())
                })
            })
        })
        .collect()
}

/// Removes every variable this suite may set.
pub fn clear_env() {
    for (k, _) in std::env::vars() {
        if k.starts_with("OTEL_") || k.starts_with("USERSPAN_") {
            std::env::remove_var(k);
        }
    }
}

pub fn temp_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}
