//! What the workspace's Rust tests share, in one place: [`faults`], a scripted SCF runtime API
//! that injects transport faults, used by the tests in `tests/rust/` and by the reliability
//! suite (`tests/reliability/`).

pub mod faults;
