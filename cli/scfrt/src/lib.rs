//! `scfrt`: Tencent Cloud SCF on one machine. This crate is only the command line ([`cli`]); the
//! products it drives are crates of their own under `cli/`, each depending only on those before it:
//!
//! - `scf-runtime-api`: the platform side of the SCF runtime API and of image mode.
//! - `scf-emulator`: a function run the way the platform runs it (process supervision,
//!   timeouts, size and memory limits, logs, Duration / BillDuration / MemUsage, a warm pool).
//! - `scf-package`: code zips (safe extraction, `scfrt package` with ELF checks, `scfrt init`).
//! - `scf-cloud`: the TencentCloud API protocol (TC3 and v1 signatures, the client, `scfrt deploy`).
//! - `scf-serve`: `scfrt serve`, the Invoke API on one machine.
//!
//! Unix only (process groups, `/proc`, `wait4`).
#![warn(missing_docs)]

pub mod cli;
