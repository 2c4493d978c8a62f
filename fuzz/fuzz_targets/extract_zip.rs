//! `scf_package::extract::extract_zip` on arbitrary bytes: extraction succeeds or fails with an error,
//! never panics, and never writes outside the destination directory.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let root = tempfile::tempdir().expect("tempdir");
    let outside = root.path().join("outside");
    std::fs::create_dir(&outside).expect("mkdir");
    let zip = outside.join("input.zip");
    std::fs::write(&zip, data).expect("write input");
    let dest = root.path().join("dest");
    std::fs::create_dir(&dest).expect("mkdir dest");
    let _ = scf_package::extract::extract_zip(&zip, &dest);
    let mut names: Vec<_> = std::fs::read_dir(root.path())
        .expect("read root")
        .map(|e| e.expect("entry").file_name())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["dest", "outside"],
        "something was written beside dest"
    );
    let outside_names: Vec<_> = std::fs::read_dir(&outside)
        .expect("read outside")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        outside_names,
        ["input.zip"],
        "something was written outside dest"
    );
});
