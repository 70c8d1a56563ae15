//! OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export` (the service of
//! `opentelemetry-proto`'s definitions, served with tonic) on its own port (4317 by default).
//!
//! The request goes through [`super::export`], the pipeline of OTLP/HTTP: the same API keys (the
//! `authorization: Bearer KEY` metadata entry), the same 64 MiB cap, the same decode budget
//! ([`super::budget`]: `RESOURCE_EXHAUSTED` before decoding), the same decoder and span
//! mapping, the same writer, and the answer only after the writer's COMMIT, with
//! `partial_success` when spans were rejected. Errors are [`ExportError::grpc_status`]: bad
//! protobuf → `INVALID_ARGUMENT`, no valid key → `UNAUTHENTICATED` (checked before the message
//! is read), over the cap → `RESOURCE_EXHAUSTED` without retry info, busy or stopping →
//! `UNAVAILABLE` with a `google.rpc.RetryInfo` detail. `grpc-encoding: gzip` is accepted (and
//! the cap applies after decompression); the response is not compressed.
//!
//! The message bytes are decoded here, not by tonic's prost codec: that codec reports a bad
//! protobuf as `INTERNAL`, where the OTLP spec wants the non-retryable `INVALID_ARGUMENT`.

use super::export::{authenticate, export, export_logs, ExportError};
use super::AppState;
use crate::ingest::{Encoding, MAX_BODY_BYTES};
use bytes::{Buf, BufMut};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::SERVICE_NAME;
use prost::Message;
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::body::Body as GrpcBody;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{http, Body, BoxFuture, Bytes, Service, StdError};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Code, Request, Response, Status};

/// The gRPC path of the export method.
pub const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// The gRPC path of the logs export method (`LogsService/Export`, served on the same port with
/// the same pipeline; feedback records, [`crate::feedback`]).
pub const LOGS_EXPORT_PATH: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

/// The default OTLP/gRPC address (the OTLP spec's default port, 4317, on loopback).
pub const DEFAULT_GRPC_LISTEN: &str = "127.0.0.1:4317";

/// tonic codec of the export methods: requests are kept as bytes (decoded by the shared
/// pipeline), responses are already prost-encoded `ExportTraceServiceResponse`s or
/// `ExportLogsServiceResponse`s.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportCodec;

/// Encoder half of [`ExportCodec`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ResponseEncoder;

/// Decoder half of [`ExportCodec`]: one message's bytes, as received (after gRPC decompression).
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesDecoder;

impl Codec for ExportCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = ResponseEncoder;
    type Decoder = BytesDecoder;

    fn encoder(&mut self) -> ResponseEncoder {
        ResponseEncoder
    }

    fn decoder(&mut self) -> BytesDecoder {
        BytesDecoder
    }
}

impl Encoder for ResponseEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for BytesDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n)))
    }
}

/// One call of the export method, for the project the caller's key resolved to.
struct ExportCall {
    st: AppState,
    /// `LogsService/Export` rather than `TraceService/Export`.
    logs: bool,
    project: Option<String>,
    /// Set when tonic decoded a message and handed it over: any error answered while it is unset
    /// is tonic's refusal of the request's framing.
    called: Arc<AtomicBool>,
}

impl UnaryService<Bytes> for ExportCall {
    type Response = Bytes;
    type Future = BoxFuture<Response<Bytes>, Status>;

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        let st = self.st.clone();
        let project = self.project.take();
        self.called.store(true, Ordering::Relaxed);
        let logs = self.logs;
        Box::pin(async move {
            let payload = request.into_inner();
            let answer = if logs {
                export_logs(&st, payload, false, Encoding::Protobuf, project)
                    .await
                    .map(|a| a.logs_response().encode_to_vec())
            } else {
                export(&st, payload, false, Encoding::Protobuf, project).await.map(|a| a.response().encode_to_vec())
            };
            match answer {
                Ok(bytes) => Ok(Response::new(Bytes::from(bytes))),
                Err(e) => Err(e.grpc_status()),
            }
        })
    }
}

/// The `TraceService` as a tower service for tonic's server (what tonic's generated
/// `TraceServiceServer` is, with [`ExportCodec`] in place of the prost codec).
#[derive(Clone)]
pub struct TraceService {
    st: AppState,
}

impl TraceService {
    /// The service over the receiver's state.
    pub fn new(st: AppState) -> TraceService {
        TraceService { st }
    }
}

impl NamedService for TraceService {
    const NAME: &'static str = SERVICE_NAME;
}

fn status_response(status: Status) -> http::Response<GrpcBody> {
    status.into_http()
}

impl<B> Service<http::Request<B>> for TraceService
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<GrpcBody>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let st = self.st.clone();
        Box::pin(async move {
            let logs = match req.uri().path() {
                EXPORT_PATH => false,
                LOGS_EXPORT_PATH => true,
                other => {
                    return Ok(status_response(Status::unimplemented(format!(
                        "{other} is not served here; the OTLP exports are {EXPORT_PATH} and {LOGS_EXPORT_PATH}"
                    ))));
                }
            };
            // The key is checked before the message is read.
            let project = match authenticate(&st, req.headers()) {
                Ok(p) => p,
                Err(e) => return Ok(status_response(e.grpc_status())),
            };
            let mut grpc = Grpc::new(ExportCodec)
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(MAX_BODY_BYTES);
            let called = Arc::new(AtomicBool::new(false));
            let res = grpc.unary(ExportCall { st, logs, project, called: called.clone() }, req).await;
            if called.load(Ordering::Relaxed) {
                return Ok(res);
            }
            // tonic refused the request before any message reached the pipeline. Its codes for
            // that are not the OTLP spec's: a length prefix over the cap is `OUT_OF_RANGE`
            // (retryable per the spec) and a truncated frame, bad gzip or a compressed frame
            // without `grpc-encoding` are `INTERNAL`. Answer them as the shared mapping does:
            // `RESOURCE_EXHAUSTED` like a gzip message over the cap after decompression (which
            // tonic already answers so), and `INVALID_ARGUMENT` for bad data.
            match Status::from_header_map(res.headers()) {
                Some(s) if s.code() == Code::OutOfRange => Ok(status_response(ExportError::TooLarge.grpc_status())),
                Some(s) if s.code() == Code::Internal => {
                    Ok(status_response(ExportError::Invalid(s.message().to_string()).grpc_status()))
                }
                _ => Ok(res),
            }
        })
    }
}

/// Serves OTLP/gRPC on `listener` until `shutdown` completes, then waits for in-flight calls.
pub async fn serve(
    st: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), String> {
    serve_with(st, listener, None, shutdown).await
}

/// [`serve`], over TLS when `tls` is given (`serve --tls-cert/--tls-key`, [`crate::tls::Tls::grpc`]).
pub async fn serve_with(
    st: AppState,
    listener: tokio::net::TcpListener,
    tls: Option<tonic::transport::ServerTlsConfig>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), String> {
    let mut server = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        server = server.tls_config(tls).map_err(|e| format!("OTLP/gRPC TLS: {e}"))?;
    }
    server
        .serve_with_incoming_shutdown(
            TraceService::new(st),
            tonic::transport::server::TcpIncoming::from(listener),
            shutdown,
        )
        .await
        .map_err(|e| format!("OTLP/gRPC server failed: {e}"))
}
