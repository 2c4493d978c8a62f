//! `scf-triggers`: what SCF's triggers do, as data, for `scfrt` to run on one machine
//! (docs/triggers.md): the event each trigger sends a function, the project files that declare
//! functions and their triggers, and the schedules of timer triggers. Nothing here runs a
//! function or listens on a port; `scf-emulator` and `scf-serve` do.

pub mod project;
pub mod schedule;
