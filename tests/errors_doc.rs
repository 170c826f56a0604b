//! `docs/errors.md` lists every `ErrorCode`: number, name, HTTP status, meaning. This test renders
//! the table from the code and fails if the document differs. Regenerate with
//! `TOLLGATE_BLESS=1 cargo test -p tollgate-tests --test errors_doc`.

use std::path::PathBuf;
use tollgate::ErrorCode;

const BEGIN: &str = "<!-- codes:begin (generated from ErrorCode; do not edit by hand) -->\n";
const END: &str = "<!-- codes:end -->";

fn table() -> String {
    let mut out = String::from("| number | name | HTTP | meaning |\n| ---: | --- | ---: | --- |\n");
    for c in ErrorCode::ALL {
        out.push_str(&format!(
            "| {} | `{}` | {} | {} |\n",
            c.number(),
            c.name(),
            c.http_status(),
            c.summary()
        ));
    }
    out
}

#[test]
fn docs_errors_md_lists_every_code() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/errors.md");
    let doc = std::fs::read_to_string(&path).expect("docs/errors.md");
    let start = doc.find(BEGIN).expect("begin marker") + BEGIN.len();
    let end = doc.find(END).expect("end marker");
    let expected = table();
    if doc[start..end] != expected {
        if std::env::var_os("TOLLGATE_BLESS").is_some() {
            let updated = format!("{}{}{}", &doc[..start], expected, &doc[end..]);
            std::fs::write(&path, updated).expect("write docs/errors.md");
            return;
        }
        panic!(
            "docs/errors.md is out of date with ErrorCode; rerun with TOLLGATE_BLESS=1. Expected:\n{expected}"
        );
    }
}
