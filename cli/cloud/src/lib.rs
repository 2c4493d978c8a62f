//! `scf-cloud`: the TencentCloud API 3.0 protocol as scfrt speaks it, from both ends: the
//! request and answer envelope ([`api`]), the TC3-HMAC-SHA256 signature ([`tc3`]) and the older
//! v1 signatures ([`v1`]), a client that signs with TC3 ([`client`]), and `scfrt deploy` /
//! `scfrt remote-invoke` on it ([`deploy`]), and `scfrt logs` ([`logs`]). `scf-serve` verifies requests with the same code.
//! It stands on `scf-package` (code zips) and must not depend on the command line (no clap) nor
//! on the server (`scf-serve`, hyper, tokio).
#![warn(missing_docs)]

pub mod api;
pub mod client;
pub mod deploy;
pub mod logs;
pub mod tc3;
pub mod v1;
