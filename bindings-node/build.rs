//! Build script: napi-build's link setup for a Node addon (symbols Node provides at load time).
fn main() {
    napi_build::setup();
}
