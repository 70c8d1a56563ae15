//! Runs one workload of the capture benchmark a fixed number of times, for instruction counts
//! that a busy machine does not disturb (criterion's wall times do move with the load):
//!
//! ```sh
//! cargo build --release -p userspan --example capture_loop
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/capture_loop capture exported 100000
//! ```
//!
//! Arguments: the workload (`raw`, `raw-static-current`, `raw-owned-current`, `capture`, `binding-path`), the export
//! setup (`exported`: both sides to a no-op exporter behind the SDK's `BatchSpanProcessor`, as in
//! the benchmark's `to_noop_exporter` group; `none`: nothing exported, as in `no_exporter`), and
//! the number of calls. Per-call instructions = (Ir of N₂ calls − Ir of N₁ calls) / (N₂ − N₁),
//! which cancels start-up.

#[path = "../benches/workloads/mod.rs"]
mod workloads;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::hint::black_box;
use userspan::{Config, ExporterKind};
use workloads::{binding_path, capture, raw_owned_current, raw_static, raw_static_current, NoopExporter};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: capture_loop raw|raw-static-current|raw-owned-current|capture|binding-path exported|none CALLS";
    let (workload, setup, calls) = match &args[1..] {
        [w, s, n] => (w.as_str(), s.as_str(), n.parse::<u64>().expect(usage)),
        _ => panic!("{usage}"),
    };
    let exported = match setup {
        "exported" => true,
        "none" => false,
        _ => panic!("{usage}"),
    };
    let provider = if exported {
        userspan::init_with_batch_exporter(Config::default(), NoopExporter).unwrap();
        SdkTracerProvider::builder().with_batch_exporter(NoopExporter).build()
    } else {
        userspan::init(Config { exporter: Some(ExporterKind::None), ..Default::default() }).unwrap();
        SdkTracerProvider::builder().build()
    };
    let raw = provider.tracer("raw");
    let owned = ("user-42".to_string(), "ada@example.com".to_string(), "conv-7".to_string());
    let values = (&owned.0, &owned.1, &owned.2);
    for _ in 0..calls {
        match workload {
            "raw" => raw_static(&raw),
            "raw-static-current" => raw_static_current(&raw),
            "raw-owned-current" => raw_owned_current(&raw, values),
            "capture" => {
                black_box(capture());
            }
            "binding-path" => {
                black_box(binding_path(values));
            }
            _ => panic!("{usage}"),
        }
    }
    userspan::shutdown(std::time::Duration::from_secs(1));
    let _ = provider.shutdown();
}
