//! An SCF custom-runtime function in Rust: the response is the event, byte for byte.
//!
//! Build it, copy `target/release/bootstrap` into a folder, and run
//! `scfrt invoke <folder> --event '{"hello":"world"}'`.

use scf_core::{ErrorReport, Invocation};

fn main() -> std::process::ExitCode {
    scf_core::serve(|inv: &Invocation| -> Result<Vec<u8>, ErrorReport> {
        eprintln!(
            "rust-echo: {} bytes, request {}",
            inv.body.len(),
            inv.request_id
        );
        Ok(inv.body.clone())
    })
}
