//! The Rust bootstrap of this suite: `scf_core::serve` with the handler the in-process Rust
//! cases use ([`scf_test_support::faults::rust_handler`]). A subprocess, so that signals can be
//! sent to it.

fn main() -> std::process::ExitCode {
    scf_core::serve(scf_test_support::faults::rust_handler)
}
