//! # userspan-receiver
//!
//! The reference receiver of userspan: OTLP/HTTP and OTLP/gRPC trace ingest, a SQLite store with
//! per-trace and per-user rollups, every per-user metric of the design contract, a JSON API, and
//! the CLI (`userspan serve | users | demo | bench`).

pub mod api;
pub mod auth;
pub mod bench;
pub mod demo;
pub mod feedback;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod pricing;
pub mod server;
pub mod store;
pub mod table;
pub mod timefmt;
pub mod tls;
pub mod web;
