//! The Rust bootstrap of this suite: `scf_core::serve` with the handler the in-process Rust
//! cases use (events `{"i":N,"mode":"..."}`: `fail` returns an error report, `panic` panics,
//! anything else is echoed byte for byte). A subprocess, so that signals can be sent to it.

use scf_core::{ErrorReport, Invocation};

fn handler(inv: &Invocation) -> Result<Vec<u8>, ErrorReport> {
    let body = String::from_utf8_lossy(&inv.body);
    if body.contains("\"mode\":\"fail\"") {
        return Err(ErrorReport::new("Fail", "the event asked to fail"));
    }
    if body.contains("\"mode\":\"panic\"") {
        panic!("the event asked to panic");
    }
    Ok(inv.body.clone())
}

fn main() -> std::process::ExitCode {
    scf_core::serve(handler)
}
