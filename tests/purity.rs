//! Architecture checks that clippy cannot make: only `core/src/crypto/` names a crypto library,
//! and no core source reaches for IO or the clock even through a full path.

use std::path::{Path, PathBuf};

/// Every core source file outside `crypto/`, with its text.
fn core_sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "crypto") {
                    walk(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                let name = path.display().to_string();
                out.push((name, std::fs::read_to_string(&path).expect("read")));
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../core/src"),
        &mut out,
    );
    assert!(out.len() > 10, "core sources not found");
    out
}

/// Whether `text` uses `name::` as a path root (not as the tail of an identifier like `string::`).
fn names_crate(text: &str, name: &str) -> bool {
    let pattern = format!("{name}::");
    text.match_indices(&pattern).any(|(i, _)| {
        i == 0 || {
            let before = text.as_bytes()[i - 1];
            !before.is_ascii_alphanumeric() && before != b'_'
        }
    })
}

#[test]
fn only_the_crypto_module_names_a_crypto_library() {
    for (name, text) in core_sources() {
        for lib in ["ring", "aws_lc_rs"] {
            assert!(!names_crate(&text, lib), "{name} names {lib} directly");
        }
    }
    assert!(names_crate("use ::ring::hmac;", "ring"));
    assert!(!names_crate("String::new()", "ring"));
}

#[test]
fn core_does_no_io_and_reads_no_clock() {
    for (name, text) in core_sources() {
        for banned in [
            "std::fs",
            "std::net",
            "std::env",
            "SystemTime",
            "Instant::now",
            "std::process",
        ] {
            assert!(!text.contains(banned), "{name} mentions {banned}");
        }
    }
}
