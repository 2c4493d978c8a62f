//! The reliability and security suite of scfruntime (issue 8): the bootstraps of each binding as
//! subprocesses ([`bootstraps`]), process statistics ([`proc_stats`]) and the summary file
//! ([`summary`]) that test.sh prints. The fault-injecting runtime API is
//! `scf_test_support::faults` (tests/support/src/faults.rs), shared with the tests in
//! `tests/rust/`.
//!
//! The tests are in `tests/`: `fault_matrix` (transport faults x endpoints x bindings),
//! `handler_faults` (crashes, loops, floods through the emulator), `soak` (10^5 invocations),
//! `serve_load` (`scfrt serve` under concurrent clients), `hostile` (bad zips, events, API
//! requests), `serve_hostile` (`scfrt serve` against unauthenticated uploads, connection and
//! body floods, other HTTP methods, exposure and crash leftovers) and `supervisor` (daemons
//! that detach from their instance, hostile image-mode servers). `fault_matrix` also holds the
//! transport cases of issue 14 (idle poll reset, answers without an event, 65 headers, SIGTERM
//! while an event arrives) through every binding.

pub mod api_client;
pub mod bootstraps;
pub mod proc_stats;
pub mod serve_proc;
pub mod summary;
