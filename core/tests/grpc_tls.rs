//! OTLP/gRPC over TLS (the `grpc` feature): a tonic `TraceService` with a CA made here; export
//! succeeds with the CA, fails (counted) without it, and an mTLS server requires the client
//! certificate. Run with `cargo test -p userspan --features grpc --test grpc_tls`.
#![cfg(feature = "grpc")]

mod sink;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use sink::{spans, string, Pki};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use userspan::{Attributes, Compression, Config, Protocol};

/// A request's `authorization` metadata and the request.
type Received = (Option<String>, ExportTraceServiceRequest);

#[derive(Clone, Default)]
struct Kept(Arc<Mutex<Vec<Received>>>);

#[tonic::async_trait]
impl TraceService for Kept {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let auth = request.metadata().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
        self.0.lock().unwrap().push((auth, request.into_inner()));
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// A gRPC OTLP server over TLS on 127.0.0.1, on the test's runtime; returns its `https://` URL.
async fn server(pki: &Pki, require_client_cert: bool, kept: Kept) -> String {
    let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(&pki.server_pem, &pki.server_key_pem));
    if require_client_cert {
        tls = tls.client_ca_root(Certificate::from_pem(&pki.ca_pem));
    }
    let incoming = tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("https://127.0.0.1:{}", incoming.local_addr().unwrap().port());
    let service = TraceServiceServer::new(kept).accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    let router = Server::builder().tls_config(tls).unwrap().add_service(service);
    tokio::spawn(router.serve_with_incoming(incoming));
    url
}

fn config(url: &str) -> Config {
    Config {
        endpoint: Some(url.to_string()),
        protocol: Some(Protocol::Grpc),
        api_key: Some("grpc-key".into()),
        scheduled_delay: Some(Duration::from_millis(20)),
        export_timeout: Some(Duration::from_secs(2)),
        ..Default::default()
    }
}

/// Flushes off the runtime's worker threads (the SDK's flush blocks).
async fn flush() -> bool {
    tokio::task::spawn_blocking(|| userspan::flush(Duration::from_secs(20))).await.unwrap()
}

async fn shutdown() {
    tokio::task::spawn_blocking(|| userspan::shutdown(Duration::from_secs(5))).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_over_tls_with_the_ca_without_it_and_with_mtls() {
    // The one test of this binary: nothing else touches the pipeline or the environment.
    sink::clear_env();
    let pki = Pki::new();
    let kept = Kept::default();
    let url = server(&pki, false, kept.clone()).await;

    // Trusted CA, gzip: exported, decoded, the key in the metadata.
    userspan::init(Config {
        certificate: Some(pki.path("ca.pem")),
        compression: Some(Compression::Gzip),
        ..config(&url)
    })
    .unwrap();
    let before = userspan::stats();
    userspan::capture("grpc-turn", Attributes::new().user_id("u-grpc"), || ());
    assert!(flush().await);
    assert_eq!(userspan::stats().spans_exported - before.spans_exported, 1);
    shutdown().await;
    {
        let got = kept.0.lock().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0.as_deref(), Some("Bearer grpc-key"));
        let (_, span) = &spans(&got[0].1)[0];
        assert_eq!(span.name, "grpc-turn");
        assert_eq!(string(&span.attributes, "user.id").as_deref(), Some("u-grpc"));
    }

    // Default roots: the test CA is not among them; counted, never raised.
    userspan::init(config(&url)).unwrap();
    let before = userspan::stats();
    assert_eq!(userspan::capture("untrusted", Attributes::new(), || 7), 7);
    let _ = flush().await;
    let after = userspan::stats();
    assert!(after.export_errors > before.export_errors, "{after:?}");
    assert_eq!(after.spans_exported, before.spans_exported);
    shutdown().await;
    assert_eq!(kept.0.lock().unwrap().len(), 1);

    // mTLS server: refused without the client certificate, accepted with it.
    let mtls_kept = Kept::default();
    let mtls = server(&pki, true, mtls_kept.clone()).await;
    userspan::init(Config { certificate: Some(pki.path("ca.pem")), ..config(&mtls) }).unwrap();
    let before = userspan::stats();
    userspan::capture("no-client-cert", Attributes::new(), || ());
    let _ = flush().await;
    assert!(userspan::stats().export_errors > before.export_errors);
    shutdown().await;
    userspan::init(Config {
        certificate: Some(pki.path("ca.pem")),
        client_certificate: Some(pki.path("client.pem")),
        client_key: Some(pki.path("client.key")),
        ..config(&mtls)
    })
    .unwrap();
    let before = userspan::stats();
    userspan::capture("client-cert", Attributes::new(), || ());
    assert!(flush().await);
    assert_eq!(userspan::stats().spans_exported - before.spans_exported, 1);
    shutdown().await;
    let names: Vec<String> = mtls_kept.0.lock().unwrap().iter().map(|(_, r)| spans(r)[0].1.name.clone()).collect();
    assert_eq!(names, ["client-cert"]);
}
