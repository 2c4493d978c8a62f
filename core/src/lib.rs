//! The SCF custom-runtime API client and its invocation loop.
//!
//! Tencent Cloud SCF starts a function's `bootstrap`, which reports ready, long-polls for each
//! event and posts the result. This crate does that over one keep-alive HTTP connection; every
//! language binding of scfruntime stands on it. See `protocol.md` for the platform's contract.
//!
//! ```no_run
//! use scf_core::{ErrorReport, Invocation};
//!
//! fn main() -> std::process::ExitCode {
//!     scf_core::serve(|inv: &Invocation| -> Result<Vec<u8>, ErrorReport> {
//!         let mut out = b"echo: ".to_vec();
//!         out.extend_from_slice(&inv.body);
//!         Ok(out)
//!     })
//! }
//! ```
#![warn(missing_docs)]

mod config;
mod error;
mod handler_spec;
mod http;
mod invocation;
mod runtime;
mod signal;
mod transport;

pub use config::Config;
pub use error::{Error, ErrorReport, Result};
pub use handler_spec::{HANDLER_FORM, HandlerSpec, HandlerSpecError};
pub use invocation::Invocation;
pub use runtime::{Handler, MAX_RESPONSE_BYTES, RunStats, Runtime, serve};
pub use transport::{
    ERROR_PATH, MAX_EVENT_BYTES, NEXT_PATH, READY_PATH, RESPONSE_PATH, RetryPolicy, Transport,
};

/// This crate's version, the one every binding reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
