//! `scfrt`: Tencent Cloud SCF on one machine.
//!
//! - [`runtime_api`]: the platform side of the SCF runtime API (an HTTP server on 127.0.0.1).
//! - [`emulator`]: a function run the way the platform runs it: process supervision, timeouts,
//!   size limits, log capture and framing, Duration / BillDuration / MemUsage.
//! - [`package`]: safe extraction of code zips.
//! - [`cli`]: the `scfrt` command line.
//!
//! Unix only (process groups, `/proc`, `wait4`).
#![warn(missing_docs)]

pub mod cli;
pub mod emulator;
mod logs;
pub mod package;
mod process;
pub mod runtime_api;
