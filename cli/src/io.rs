//! Reading tokens (from an argument or standard input), files, and the system clock.

use crate::output::Failure;
use std::ffi::OsStr;
use std::io::Read;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// The most read from standard input for a token. No token the core accepts comes near it; a
/// longer input is cut here and then rejected by the core as too large.
pub const MAX_STDIN_BYTES: u64 = 1024 * 1024;

/// The most read from a key, secret or claims file.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The token named on the command line: the argument's bytes exactly as given, or, for `-`,
/// standard input with one trailing newline (`\n` or `\r\n`) removed.
pub fn token_bytes(arg: &OsStr) -> Result<Vec<u8>, Failure> {
    if arg == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .take(MAX_STDIN_BYTES)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                Failure::Other(format!("cannot read the token from standard input: {e}"))
            })?;
        Ok(strip_one_newline(bytes))
    } else {
        Ok(os_bytes(arg))
    }
}

/// Removes exactly one trailing `\n` or `\r\n`, and nothing else.
pub fn strip_one_newline(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    bytes
}

#[cfg(unix)]
fn os_bytes(arg: &OsStr) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    arg.as_bytes().to_vec()
}

#[cfg(not(unix))]
fn os_bytes(arg: &OsStr) -> Vec<u8> {
    arg.to_string_lossy().into_owned().into_bytes()
}

/// Reads a whole file of at most [`MAX_FILE_BYTES`]; `what` names it in errors ("key file").
pub fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    let cannot =
        |e: std::io::Error| Failure::Other(format!("cannot read {what} {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Failure::Other(format!(
            "{what} {} is larger than {MAX_FILE_BYTES} bytes",
            path.display()
        )));
    }
    Ok(bytes)
}

/// A secret kept out of the command line (where `ps` and shell history see it): the one line of
/// the file at `path` that is neither blank nor a `#` comment (so what `webhook keygen --scheme
/// v1` prints will do). `what` names it in errors, which never show the file's text.
pub fn secret_file(path: &Path, what: &str) -> Result<String, Failure> {
    let text = String::from_utf8(read_file(path, what)?)
        .map_err(|_| Failure::Other(format!("{what} {} is not UTF-8 text", path.display())))?;
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    match (lines.next(), lines.next()) {
        (Some(secret), None) => Ok(secret.to_owned()),
        _ => Err(Failure::Other(format!(
            "{what} {} must hold exactly one key (blank and # lines aside)",
            path.display()
        ))),
    }
}

/// A key given as an argument: the argument itself, or for `-` standard input with one
/// trailing newline removed (so that the key stays out of the command line).
pub fn key_arg(arg: &str) -> Result<String, Failure> {
    if arg != "-" {
        return Ok(arg.to_owned());
    }
    String::from_utf8(token_bytes(OsStr::new("-"))?)
        .map_err(|_| Failure::Other("the key on standard input is not UTF-8 text".to_owned()))
}

/// `now` for checks and minting: the value given, or the system clock in Unix seconds.
pub fn now(given: Option<u64>) -> Result<u64, Failure> {
    match given {
        Some(now) => Ok(now),
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .map_err(|_| Failure::Other("the system clock is before 1970; pass --now".to_owned())),
    }
}

/// Writes a new file (never overwriting one), readable only by its owner on Unix when `secret`.
pub fn write_new_file(path: &Path, contents: &[u8], secret: bool) -> Result<(), Failure> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let cannot = |e: std::io::Error| {
        let hint = if e.kind() == std::io::ErrorKind::AlreadyExists {
            " (it exists; keys are never overwritten)"
        } else {
            ""
        };
        Failure::Other(format!("cannot create {}: {e}{hint}", path.display()))
    };
    let mut file = options.open(path).map_err(cannot)?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(cannot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_exactly_one_trailing_newline() {
        assert_eq!(strip_one_newline(b"a.b.c\n".to_vec()), b"a.b.c");
        assert_eq!(strip_one_newline(b"a.b.c\r\n".to_vec()), b"a.b.c");
        assert_eq!(strip_one_newline(b"a.b.c\n\n".to_vec()), b"a.b.c\n");
        assert_eq!(strip_one_newline(b"a.b.c\r".to_vec()), b"a.b.c\r");
        assert_eq!(strip_one_newline(b" a.b.c ".to_vec()), b" a.b.c ");
        assert_eq!(strip_one_newline(Vec::new()), b"");
    }
}
