//! demo
/// Arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {}
/// Runs.
pub fn run(_a: &DemoArgs) -> Result<(), String> { Ok(()) }
