//! Lets this crate's own test binaries (which link libpython) find the libpython they were built
//! against instead of the system's; a no-op for the extension module maturin builds. Also sets
//! pyo3's cfgs (`Py_LIMITED_API` with the `abi3` feature), for the code that differs there.
fn main() {
    pyo3_build_config::use_pyo3_cfgs();
    pyo3_build_config::add_libpython_rpath_link_args();
}
