//! `_HANDLER` parsing: any string parses or is refused with an error, never a panic; a parsed
//! spec's module path stays inside the code directory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scf_core::HandlerSpec;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = HandlerSpec::parse(text) {
        let _ = spec.module();
        let path = spec.file_with_extension("py");
        assert!(
            path.is_relative()
                && !path
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir)),
            "{text:?} -> {path:?} leaves the code directory"
        );
    }
});
