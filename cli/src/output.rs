//! How the tool reports: failures with their exit codes, and JSON for stdout.

use std::fmt::Write as _;

/// Why a command failed, which decides the exit code and the stderr text.
#[derive(Debug)]
pub enum Failure {
    /// The token was rejected (exit 1): `error[<code>]: <message>`, plus a refresh hint for an
    /// unknown `kid`.
    Rejected(tollgate::Error),
    /// The token names a `kid` that a fetched key set still lacks after one more fetch (exit 1):
    /// `error[<code>]: <message>`, then a note that the set was fetched again.
    RejectedAfterRefetch(tollgate::Error),
    /// The configuration is unusable (exit 2): a key, key set, claims set or option the core
    /// refused, reported as `error[<code>]: <message>`.
    Config(tollgate::Error),
    /// Any other configuration or IO problem (exit 2), reported as `error: <message>`.
    Other(String),
    /// A check that did not come out as expected (exit 1), reported as `error: <message>`.
    Unexpected(String),
}

impl Failure {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Rejected(_) | Failure::RejectedAfterRefetch(_) | Failure::Unexpected(_) => 1,
            Failure::Config(_) | Failure::Other(_) => 2,
        }
    }

    /// Writes the failure to stderr.
    pub fn report(&self) {
        match self {
            Failure::Rejected(err) => {
                let mut text = error_line(err);
                if let Some(kid) = err.refresh_hint() {
                    text.push_str(&format!(
                        "\nhint: the key set has no kid {kid:?}; refresh it and retry"
                    ));
                }
                note(&text);
            }
            Failure::RejectedAfterRefetch(err) => {
                let mut text = error_line(err);
                if let Some(kid) = err.refresh_hint() {
                    text.push_str(&format!(
                        "\nnote: the key set was fetched again and still has no kid {kid:?}"
                    ));
                }
                note(&text);
            }
            Failure::Config(err) => note(&error_line(err)),
            Failure::Other(message) | Failure::Unexpected(message) => {
                note(&format!("error: {message}"));
            }
        }
    }
}

/// Writes one line to stderr. Unlike `eprintln!`, never panics: if stderr is gone, the exit code
/// is all that is left to tell.
pub fn note(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// `error[<code_name>]: <message>` for a core error.
pub fn error_line(err: &tollgate::Error) -> String {
    format!("error[{}]: {err}", err.code().name())
}

/// Writes `text` to stdout, turning a write failure (a closed pipe) into a [`Failure`].
pub fn print(text: &str) -> Result<(), Failure> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::Other(format!("cannot write to standard output: {e}")))
}

/// A JSON string literal for `s`.
pub fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// Builds a pretty-printed JSON object from members whose values are already valid JSON text.
///
/// Values are re-indented with [`reindent`], never re-parsed: member order, numbers and string
/// escapes appear exactly as in the token.
pub fn object(members: &[(&str, &str)]) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "\n  {}: {}", json_string(name), reindent(value, 1));
    }
    out.push_str(if members.is_empty() { "}" } else { "\n}" });
    out
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// Re-indents valid JSON text with two spaces per level, starting at nesting level `depth`.
/// Whitespace outside strings is replaced; everything else is copied as is. Empty objects and
/// arrays stay on one line (`{}`, `[]`).
pub fn reindent(json: &str, depth: usize) -> String {
    let mut out = String::with_capacity(json.len() * 2);
    let mut depth = depth;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = json.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                let rest = json.get(i + 1..).unwrap_or_default().trim_start();
                if rest.starts_with(close) {
                    // Empty: skip the whitespace and the closer.
                    out.push(c);
                    out.push(close);
                    for (_, skipped) in chars.by_ref() {
                        if skipped == close {
                            break;
                        }
                    }
                } else {
                    out.push(c);
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_ascii_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &str, b: &str) {
        let a: serde_json::Value = serde_json::from_str(a).unwrap();
        let b: serde_json::Value = serde_json::from_str(b).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn reindent_preserves_meaning_order_and_text() {
        let input = "{\"b\" : [1, 2.50, {}],\r\n \"a\":{\"x\":\"q\\\" ,:{[ \\\\\",\"e\":[ ]},\"n\":null,\"big\":1e400}";
        let out = reindent(input, 0);
        assert!(out.find("\"b\"").unwrap() < out.find("\"a\"").unwrap());
        assert!(out.contains("2.50"));
        assert!(out.contains("1e400"));
        assert!(out.contains("\"q\\\" ,:{[ \\\\\""));
        assert!(out.contains("\"e\": []"));
        assert!(out.contains("{},") || out.contains("{}\n"));
        let without_big = |s: &str| s.replace("1e400", "1");
        same(&without_big(&out), &without_big(input));
        assert_eq!(reindent("{}", 0), "{}");
        assert_eq!(reindent("{\"a\":1}", 0), "{\n  \"a\": 1\n}");
        assert_eq!(reindent("{\"a\":1}", 1), "{\n    \"a\": 1\n  }");
        assert_eq!(reindent("\"x y\"", 0), "\"x y\"");
    }

    #[test]
    fn object_embeds_members_in_order() {
        let out = object(&[("header", "{\"alg\":\"HS256\"}"), ("kid", "\"k\\n1\"")]);
        assert_eq!(
            out,
            "{\n  \"header\": {\n    \"alg\": \"HS256\"\n  },\n  \"kid\": \"k\\n1\"\n}"
        );
        same(&out, "{\"header\":{\"alg\":\"HS256\"},\"kid\":\"k\\n1\"}");
        assert_eq!(object(&[]), "{}");
    }
}
