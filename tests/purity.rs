//! Architecture checks that clippy cannot make: only `core/src/crypto.rs` names the crypto
//! library, and no core source reaches for IO or the clock even through a full path.

use std::path::PathBuf;

fn core_sources() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../core/src");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("core/src") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            out.push((name, std::fs::read_to_string(&path).expect("read")));
        }
    }
    assert!(out.len() > 10, "core sources not found");
    out
}

#[test]
fn only_the_crypto_module_names_ring() {
    for (name, text) in core_sources() {
        if name == "crypto.rs" {
            continue;
        }
        // `ring::` as a path root, not the tail of an identifier such as `string::`.
        let names_ring = text.match_indices("ring::").any(|(i, _)| {
            i == 0
                || !text.as_bytes()[i - 1].is_ascii_alphanumeric() && text.as_bytes()[i - 1] != b'_'
        });
        assert!(!names_ring, "{name} names ring directly");
    }
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
