//! `tollgate demo`: the example deployments end to end. Each deployment's policy, key snapshot and
//! scenario table are built into the binary; every request of every table is replayed through an
//! [`Engine`] at the table's time, and every decision is compared with the table's expectation.

use crate::output::{self, Failure};
use clap::Args;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use tollgate::scenario::{Case, Table};
use tollgate::Engine;

/// Arguments of `tollgate demo` (none).
#[derive(Debug, Args)]
#[command(after_help = "\
Replays the example deployments (examples/<name>/: policy.json, snapshot.json, scenarios.json) on
their built-in sample keys, each at its scenario table's fixed time, and prints one line per
request: deployment, request and credential, status, reason. Exits 1 if any decision does not
match the table.

Examples:
  tollgate demo")]
pub struct DemoArgs {}

/// One built-in deployment: `(name, policy.json, snapshot.json, scenarios.json)`, all from
/// `examples/<name>/`.
macro_rules! deployment {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../examples/", $name, "/policy.json")),
            include_str!(concat!("../../examples/", $name, "/snapshot.json")),
            include_str!(concat!("../../examples/", $name, "/scenarios.json")),
        )
    };
}

/// The deployments the demo replays, in order: name, policy, snapshot, scenario table.
const DEPLOYMENTS: &[(&str, &str, &str, &str)] = &[
    deployment!("project-oidc"),
    deployment!("workspace-api"),
    deployment!("service-accounts"),
    deployment!("tenant-path"),
];

/// The longest request text shown before it is cut with `…`.
const MAX_REQUEST_CHARS: usize = 120;
/// The longest literal header value shown before it is cut with `…`.
const MAX_LITERAL_CHARS: usize = 10;

/// One replayed request, ready to print.
struct Row {
    deployment: &'static str,
    request: String,
    status: u16,
    reason: &'static str,
    mismatch: Option<String>,
}

/// A built-in deployment that cannot even be loaded: a bug in the demo data (exit 1).
fn broken(name: &str, file: &str, message: impl core::fmt::Display) -> Failure {
    Failure::Unexpected(format!("deployment {name}: {file}: {message}"))
}

/// Runs `tollgate demo`.
pub fn run(_args: DemoArgs) -> Result<(), Failure> {
    let mut rows = Vec::new();
    for &(name, policy, snapshot, scenarios) in DEPLOYMENTS {
        let engine = Engine::from_policy_json(policy.as_bytes())
            .map_err(|e| broken(name, "policy.json", output::error_line(&e)))?;
        engine
            .swap_snapshot_json(snapshot.as_bytes())
            .map_err(|e| broken(name, "snapshot.json", output::error_line(&e)))?;
        let table = Table::from_json(scenarios.as_bytes())
            .map_err(|e| broken(name, "scenarios.json", e))?;
        if table.deployment != name {
            return Err(broken(
                name,
                "scenarios.json",
                format!("the table is for deployment {:?}", table.deployment),
            ));
        }
        for case in &table.cases {
            let decision = table.decide(&engine, case);
            rows.push(Row {
                deployment: name,
                request: request_text(case),
                status: decision.status,
                reason: decision.code.name(),
                mismatch: case.expect.check(&decision).err(),
            });
        }
    }
    let (text, mismatches) = render(&rows);
    output::print(&text)?;
    if mismatches == 0 {
        Ok(())
    } else {
        Err(Failure::Unexpected(format!(
            "{mismatches} of {} demo requests did not get the expected decision",
            rows.len()
        )))
    }
}

/// The table of rows and the summary line; also the number of mismatches.
fn render(rows: &[Row]) -> (String, usize) {
    let headings = ("deployment", "request", "status", "reason");
    let dw = rows
        .iter()
        .map(|r| r.deployment.chars().count())
        .chain([headings.0.len()])
        .max()
        .unwrap_or(0);
    let rw = rows
        .iter()
        .map(|r| r.request.chars().count())
        .chain([headings.1.len()])
        .max()
        .unwrap_or(0);
    let sw = headings.2.len();
    let mut text = String::new();
    let mut line = |dep: &str, req: &str, status: &str, rest: &str| {
        let l = format!("{dep:dw$}  {req:rw$}  {status:sw$}  {rest}");
        text.push_str(l.trim_end());
        text.push('\n');
    };
    line(headings.0, headings.1, headings.2, headings.3);
    let mut counts: BTreeMap<u16, usize> = BTreeMap::new();
    let mut mismatches = 0usize;
    for row in rows {
        *counts.entry(row.status).or_default() += 1;
        let rest = match &row.mismatch {
            Some(diff) => {
                mismatches += 1;
                format!("{}  MISMATCH: {diff}", row.reason)
            }
            None => row.reason.to_owned(),
        };
        line(row.deployment, &row.request, &row.status.to_string(), &rest);
    }
    let deployments = DEPLOYMENTS.len();
    let plural = if deployments == 1 { "" } else { "s" };
    let outcome = if mismatches == 0 {
        "all as expected".to_owned()
    } else {
        format!("{mismatches} not as expected")
    };
    let counts: Vec<String> = counts.iter().map(|(s, n)| format!("{s}: {n}")).collect();
    let _ = writeln!(
        text,
        "\n{} requests across {deployments} deployment{plural}, {outcome}  ({})",
        rows.len(),
        counts.join("  ")
    );
    (text, mismatches)
}

/// `METHOD /path [header: note, …]`: the request with a short note of each header, which names
/// the `{{token}}` references instead of showing tokens. Cut to [`MAX_REQUEST_CHARS`].
fn request_text(case: &Case) -> String {
    let r = &case.request;
    let notes: Vec<String> = r
        .headers
        .iter()
        .map(|(name, value)| format!("{}: {}", printable(name), header_note(value)))
        .collect();
    let mut text = format!("{} {}", printable(&r.method), printable(&r.path));
    if !notes.is_empty() {
        let _ = write!(text, " [{}]", notes.join(", "));
    }
    cut(&text, MAX_REQUEST_CHARS)
}

/// A header value with each `{{name}}` shown as `name`. A value without references is a literal
/// written in the table (a malformed credential, a tenant id, a correlation id): shown cut to
/// [`MAX_LITERAL_CHARS`], so no literal token is printed whole.
fn header_note(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut referenced = false;
    while let Some(start) = rest.find("{{") {
        let after = rest.get(start + 2..).unwrap_or_default();
        let Some(len) = after.find("}}") else { break };
        out.push_str(rest.get(..start).unwrap_or_default());
        out.push_str(after.get(..len).unwrap_or_default());
        rest = after.get(len + 2..).unwrap_or_default();
        referenced = true;
    }
    out.push_str(rest);
    let out = printable(&out);
    if referenced {
        return out;
    }
    // Keep an authorization scheme (`Bearer`, `Basic`) whole; cut what follows it.
    match out.split_once(' ') {
        Some((scheme, rest))
            if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            format!("{scheme} {}", cut(rest, MAX_LITERAL_CHARS))
        }
        _ => cut(&out, MAX_LITERAL_CHARS),
    }
}

/// `s` with control characters escaped, so a table's hostile bytes cannot drive the terminal.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `s` cut to at most `max` characters, ending in `…` when cut.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_notes_name_tokens_and_cut_literals() {
        assert_eq!(header_note("{{alice}}"), "alice");
        assert_eq!(header_note("Bearer {{alice}}"), "Bearer alice");
        assert_eq!(header_note("a={{x}}; b={{y}}"), "a=x; b=y");
        assert_eq!(header_note("{{unclosed"), "{{unclosed");
        assert_eq!(header_note("short"), "short");
        assert_eq!(
            header_note("eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYWxsb3J5In0."),
            "eyJhbGciO…"
        );
        assert_eq!(header_note("Bearer not-a-token"), "Bearer not-a-tok…");
        assert_eq!(header_note("Basic dXNlcjpwYXNz"), "Basic dXNlcjpwY…");
        assert_eq!(header_note("6f1c2a7e-3b4d-4e5f"), "6f1c2a7e-…");
        assert_eq!(header_note("a\u{7}b"), "a\\u{7}b");
    }

    #[test]
    fn every_deployment_replays_as_expected() {
        assert!(!DEPLOYMENTS.is_empty());
        let mut rows = 0;
        for &(name, policy, snapshot, scenarios) in DEPLOYMENTS {
            let engine = Engine::from_policy_json(policy.as_bytes()).unwrap();
            engine.swap_snapshot_json(snapshot.as_bytes()).unwrap();
            let table = Table::from_json(scenarios.as_bytes()).unwrap();
            assert_eq!(table.deployment, name);
            for case in &table.cases {
                let decision = table.decide(&engine, case);
                assert_eq!(
                    case.expect.check(&decision),
                    Ok(()),
                    "{name}: {}",
                    case.name
                );
                let text = request_text(case);
                for token in table.tokens.values() {
                    assert!(!text.contains(token.as_str()), "{text}");
                }
                rows += 1;
            }
        }
        assert!(rows > 0);
    }
}
