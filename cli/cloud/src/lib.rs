//! `scf-cloud`: the TencentCloud API side of scfrt. It stands on `scf-emulator` (functions run
//! locally) and `scf-package` (code zips), and must not depend on the command line (no clap).
//!
//! - [`serve`]: `scfrt serve`, the SCF Invoke API (TencentCloud API 3.0) for the TencentCloud
//!   SDKs and tccli, with [`tc3`] (and the older [`v1`]) signatures, an [`api`] envelope, a [`store`] of functions on disk and the
//!   emulator's warm pool of instances, over http or https ([`tls`]).
//! - [`deploy`]: `scfrt deploy` / `scfrt remote-invoke`, the same package on the real SCF, through
//!   [`client`], a TencentCloud API 3.0 client signing with [`tc3`].
#![warn(missing_docs)]

pub mod api;
pub mod client;
pub mod deploy;
pub mod serve;
pub mod store;
pub mod tc3;
pub mod tls;
pub mod v1;
