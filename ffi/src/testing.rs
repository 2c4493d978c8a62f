//! The panic-injection test hook (debug builds only).
//!
//! With debug assertions on, `SCFRUNTIME_TEST_PANIC=<site>` makes [`maybe_panic`] panic at the
//! named site: an exported function's name, or `handler` for the wrapper around C handlers.
//! Tests use it to prove that panics are caught at the boundary and the process survives.
//! Release builds compile the hook away, so the variable has no effect there.

/// Panic if `SCFRUNTIME_TEST_PANIC` names `site` (read once per process).
#[cfg(debug_assertions)]
pub(crate) fn maybe_panic(site: &str) {
    use std::sync::OnceLock;
    static TARGET: OnceLock<Option<String>> = OnceLock::new();
    let target = TARGET.get_or_init(|| std::env::var("SCFRUNTIME_TEST_PANIC").ok());
    if target.as_deref() == Some(site) {
        panic!("injected panic at {site} (SCFRUNTIME_TEST_PANIC)");
    }
}

/// Release builds: no hook.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub(crate) fn maybe_panic(_site: &str) {}
