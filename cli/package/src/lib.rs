//! `scf-package`: SCF code zips, the way the platform accepts them. It must not depend on the
//! runtime API, the emulator, the cloud API side or the command line (no HTTP, TLS or clap).
//!
//! - [`extract`]: safe extraction of a code zip (what `scfrt invoke` and `scfrt serve` run).
//! - [`pack`]: `scfrt package`, the code zip SCF accepts, built from a directory, with [`elf`]
//!   checks of the binaries it carries.
//! - [`python`]: `--lang python`'s packages vendored for SCF and its bootstrap script.
//! - [`init`]: `scfrt init`, starter functions per language.
#![warn(missing_docs)]

pub mod elf;
pub mod extract;
pub mod init;
pub mod pack;
pub mod python;
