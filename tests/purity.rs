//! Architecture checks that clippy cannot make: only `core/src/crypto/` names a crypto library,
//! no core source reaches for IO or the clock even through a full path, and none holds global
//! state.

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

/// No global state outside tests: no `static mut`, lazily built statics, thread-locals or statics
/// holding a lock, cell or atomic. Each file is read up to its `#[cfg(test)] mod`; test code may
/// keep hooks of its own.
#[test]
fn core_holds_no_global_state() {
    for (name, text) in core_sources() {
        let code = text
            .split("\n#[cfg(test)]\nmod ")
            .next()
            .unwrap_or_default();
        for banned in [
            "static mut",
            "thread_local!",
            "OnceLock",
            "LazyLock",
            "OnceCell",
            "lazy_static",
        ] {
            assert!(!code.contains(banned), "{name} mentions {banned}");
        }
        for line in code.lines().map(str::trim_start) {
            let is_static = line.starts_with("static ")
                || line.starts_with("pub static ")
                || line.starts_with("pub(crate) static ");
            if is_static {
                for holder in ["Atomic", "Mutex", "RwLock", "Cell"] {
                    assert!(!line.contains(holder), "{name}: {line}");
                }
            }
        }
    }
    // The one test hook the core has is where this test expects it: inside a test module.
    let record_cache = core_sources()
        .into_iter()
        .find(|(n, _)| n.ends_with("record_cache.rs"))
        .unwrap()
        .1;
    assert!(record_cache.contains("thread_local!"));
}
