//! `scfrt`: Tencent Cloud SCF on one machine.
//!
//! - [`runtime_api`]: the platform side of the SCF runtime API (an HTTP server on 127.0.0.1).
//! - [`emulator`]: a function run the way the platform runs it: process supervision, timeouts,
//!   size limits, log capture and framing, Duration / BillDuration / MemUsage; a code package
//!   through the runtime API, or an image through `POST /event-invoke` on its own HTTP server
//!   ([`image`]: the platform side of that).
//! - [`package`]: safe extraction of code zips.
//! - [`pack`]: `scfrt package`, the code zip SCF accepts, with [`elf`] checks of the binaries.
//! - [`init`]: `scfrt init`, starter functions per language.
//! - [`serve`]: `scfrt serve`, the SCF Invoke API (TencentCloud API 3.0) for the TencentCloud SDK,
//!   with [`tc3`] signatures, an [`api`] envelope, a [`store`] on disk and a [`pool`] of instances.
//! - [`deploy`]: `scfrt deploy` / `scfrt remote-invoke`, the same package on the real SCF, through
//!   [`cloud`], a TencentCloud API 3.0 client signing with [`tc3`].
//! - [`cli`]: the `scfrt` command line.
//!
//! Unix only (process groups, `/proc`, `wait4`).
#![warn(missing_docs)]

pub mod api;
pub mod cli;
pub mod cloud;
pub mod deploy;
pub mod elf;
pub mod emulator;
pub mod image;
pub mod init;
mod logs;
pub mod pack;
pub mod package;
pub mod pool;
mod process;
pub mod runtime_api;
pub mod serve;
pub mod store;
pub mod tc3;
