//! Shared helpers for the cross-crate suites: where the public vectors live, how to read them, and
//! a tally that prints per-file counts and fails on any disagreement.
//!
//! The vectors are read in place from `../shared/vectors/` (beside the repository), never copied.

use std::fmt::Write as _;
use std::path::PathBuf;

pub mod strict_json;

/// The shared vectors directory, `../shared/vectors` relative to the repository root.
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors")
}

/// Reads and parses one vector file (path relative to the vectors directory).
pub fn load(name: &str) -> serde_json::Value {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Decodes lowercase or uppercase hex.
pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// Drops leading zero bytes (ASN.1 integers carry a sign byte; ring wants minimal big-endian).
pub fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

/// Counts agreements for one vector file; `finish` prints the counts and fails on any mismatch.
#[derive(Default)]
pub struct Tally {
    file: String,
    passed: usize,
    skipped: Vec<String>,
    failures: Vec<String>,
}

impl Tally {
    /// A tally for `file`.
    pub fn new(file: &str) -> Tally {
        Tally {
            file: file.to_owned(),
            ..Tally::default()
        }
    }

    /// Records one case: `ok` says whether Tollgate agreed with the expectation.
    pub fn check(&mut self, id: impl std::fmt::Display, ok: bool, detail: impl FnOnce() -> String) {
        if ok {
            self.passed += 1;
        } else {
            self.failures.push(format!("{id}: {}", detail()));
        }
    }

    /// Records a documented skip, with its reason.
    pub fn skip(&mut self, id: impl std::fmt::Display, reason: &str) {
        self.skipped.push(format!("{id} ({reason})"));
    }

    /// Cases that agreed.
    pub fn passed(&self) -> usize {
        self.passed
    }

    /// Prints `file: N agree, M skipped` and panics listing every disagreement.
    pub fn finish(self) -> usize {
        println!(
            "{:<48} {:>5} agree, {:>3} skipped, {} disagree",
            self.file,
            self.passed,
            self.skipped.len(),
            self.failures.len()
        );
        if !self.failures.is_empty() {
            let mut msg = format!("{}: {} disagreement(s)\n", self.file, self.failures.len());
            for f in &self.failures {
                let _ = writeln!(msg, "  {f}");
            }
            panic!("{msg}");
        }
        assert!(self.passed > 0, "{}: no case ran", self.file);
        self.passed
    }
}
