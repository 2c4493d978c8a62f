//! Lets this crate's own test binaries (which link libpython) find the libpython they were built
//! against instead of the system's; a no-op for the extension module maturin builds.
fn main() {
    pyo3_build_config::add_libpython_rpath_link_args();
}
