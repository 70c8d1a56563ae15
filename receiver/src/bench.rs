//! bench
/// Arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {}
/// Runs.
pub fn run(_a: &BenchArgs) -> Result<(), String> { Ok(()) }
