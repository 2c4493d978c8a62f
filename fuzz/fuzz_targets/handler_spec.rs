//! `_HANDLER` parsing, the one parser every binding uses (docs/handler.md): any string parses or
//! is refused with an error, never a panic. A parsed spec keeps the documented rules: its file
//! path stays inside the code directory, its parts are ASCII of the allowed characters, the
//! function is what follows the last '.', and the spec re-joined parses to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scf_core::HandlerSpec;

fn file_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match HandlerSpec::parse(text) {
        Ok(spec) => {
            let path = spec.file_with_extension("py");
            assert!(
                path.is_relative()
                    && !path
                        .components()
                        .any(|c| matches!(c, std::path::Component::ParentDir)),
                "{text:?} -> {path:?} leaves the code directory"
            );
            // Rule 1: taken as it is.
            assert!(!text.chars().any(char::is_whitespace), "{text:?}");
            // Rule 3: the function is the text after the last '.'.
            assert_eq!(
                text.rsplit_once('.').map(|(_, f)| f),
                Some(spec.function.as_str())
            );
            // Rule 4: an ASCII identifier.
            let mut f = spec.function.chars();
            assert!(
                f.next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_'),
                "{text:?}"
            );
            assert!(f.all(|c| c.is_ascii_alphanumeric() || c == '_'), "{text:?}");
            // Rule 5: non-empty components of the allowed characters, '/'-joined.
            assert!(
                spec.path
                    .split('/')
                    .all(|p| !p.is_empty() && p.chars().all(file_char)),
                "{text:?} -> {:?}",
                spec.path
            );
            assert_eq!(spec.module(), spec.path.replace('/', "."));
            // Rule 6: nothing stripped, so the file part re-joined is the same spec.
            let again = HandlerSpec::parse(&format!("{}.{}", spec.path, spec.function));
            assert_eq!(again.as_ref(), Ok(&spec), "{text:?}");
        }
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.contains("expected '<file>.<function>'"),
                "{message}"
            );
            assert_eq!(e.spec, text);
        }
    }
});
