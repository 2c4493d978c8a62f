//! Links the bootstrap with an rpath to the libpython it was built against (without it the
//! loader may pick another libpython, e.g. Debian's 3.11.2 instead of pyenv's 3.11.7), plus any
//! extra rpath entries from `SCF_PYTHON_RPATH` (colon-separated), such as `/opt/python/lib`
//! for a layer or `$ORIGIN/python/lib` for a libpython shipped beside the bootstrap.
//! The tests get that Python's `major.minor` as `SCF_BUILD_PYTHON_VERSION` (they lay out
//! `lib/python3.X` directories).
fn main() {
    pyo3_build_config::add_libpython_rpath_link_args();
    let version = pyo3_build_config::get().version();
    println!(
        "cargo:rustc-env=SCF_BUILD_PYTHON_VERSION={}.{}",
        version.major, version.minor
    );
    println!("cargo:rerun-if-env-changed=SCF_PYTHON_RPATH");
    if let Ok(extra) = std::env::var("SCF_PYTHON_RPATH") {
        for dir in extra.split(':').filter(|d| !d.is_empty()) {
            println!("cargo:rustc-link-arg-bins=-Wl,-rpath,{dir}");
        }
    }
}
