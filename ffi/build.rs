//! Gives the shared library a versioned soname, so programs linked against `libscfruntime.so`
//! record `libscfruntime.so.0` and keep working across compatible upgrades.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" || os == "android" || os.ends_with("bsd") {
        // Bump together with SCF_VERSION_MAJOR once the ABI is declared stable (1.0).
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libscfruntime.so.0");
    }
}
