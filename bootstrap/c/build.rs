//! Exports libscfruntime's `scf_*` functions from the executable's dynamic symbol table, so a
//! handler `.so` built against `scfruntime.h` (and not linked to libscfruntime) resolves its
//! `scf_invocation_body`, `scf_response_set_body`, ... calls to this binary's copy when dlopened.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    // zig's linker (cargo zigbuild, scripts/portable-build.sh) has no --export-dynamic-symbol;
    // there, export every global symbol instead (a larger dynamic symbol table, same behaviour).
    let zig = std::env::var("RUSTC_LINKER").is_ok_and(|l| l.contains("zig"));
    if zig {
        println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic");
    } else {
        println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic-symbol=scf_*");
    }
}
