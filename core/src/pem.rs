//! PEM armor (RFC 7468): `-----BEGIN LABEL-----`, base64 body, `-----END LABEL-----`.

use crate::base64url;

/// Largest key document accepted, in bytes: PEM, or DER (which is smaller for the same key).
pub const MAX_PEM_BYTES: usize = 64 * 1024;

/// Refuses a DER key document over [`MAX_PEM_BYTES`], as [`decode`] refuses a PEM one.
pub(crate) fn check_der_size(der: &[u8]) -> Result<(), &'static str> {
    if der.len() > MAX_PEM_BYTES {
        return Err("DER key is larger than the limit of 65536 bytes");
    }
    Ok(())
}

/// One decoded PEM block: its label (`PUBLIC KEY`, `PRIVATE KEY`, …) and DER contents.
#[derive(PartialEq, Eq)]
pub struct Pem {
    /// The label between `BEGIN ` and the dashes.
    pub label: String,
    /// The decoded body.
    pub der: Vec<u8>,
}

/// The body may be a private key: `Debug` shows its length only.
impl core::fmt::Debug for Pem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pem")
            .field("label", &self.label)
            .field("der", &format_args!("<{} bytes>", self.der.len()))
            .finish()
    }
}

/// Whether `bytes` look like PEM (start with `-----BEGIN `, after optional whitespace).
pub fn is_pem(bytes: &[u8]) -> bool {
    bytes.trim_ascii_start().starts_with(b"-----BEGIN ")
}

/// Decodes the first PEM block in `text`. Text outside the block is ignored, as RFC 7468 allows.
pub fn decode(text: &[u8]) -> Result<Pem, &'static str> {
    if text.len() > MAX_PEM_BYTES {
        return Err("PEM document is larger than the limit of 65536 bytes");
    }
    let text = core::str::from_utf8(text).map_err(|_| "PEM is not UTF-8 text")?;
    let begin = text.find("-----BEGIN ").ok_or("no PEM BEGIN line")?;
    let rest = text.get(begin + 11..).ok_or("truncated PEM")?;
    let label_end = rest.find("-----").ok_or("unterminated PEM BEGIN line")?;
    let label = rest.get(..label_end).ok_or("truncated PEM")?;
    let body_and_end = rest.get(label_end + 5..).ok_or("truncated PEM")?;
    let end_line = format!("-----END {label}-----");
    let end = body_and_end
        .find(&end_line)
        .ok_or("no matching PEM END line")?;
    let body: Vec<u8> = body_and_end
        .get(..end)
        .ok_or("truncated PEM")?
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let der = base64url::decode_standard(&body).map_err(|_| "PEM body is not valid base64")?;
    Ok(Pem {
        label: label.to_owned(),
        der,
    })
}

/// Encodes DER as a PEM block with 64-character lines.
pub fn encode(label: &str, der: &[u8]) -> String {
    let b64 = base64url::encode_standard(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(core::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_mismatched_armor() {
        let der: Vec<u8> = (0..=200u8).collect();
        let pem = encode("PUBLIC KEY", &der);
        assert!(is_pem(pem.as_bytes()));
        let back = decode(pem.as_bytes()).unwrap();
        assert_eq!(back.label, "PUBLIC KEY");
        assert_eq!(back.der, der);
        assert_eq!(MAX_PEM_BYTES, 65536, "the error message names the limit");
        let wrong = pem.replace("END PUBLIC", "END PRIVATE");
        assert_eq!(decode(wrong.as_bytes()), Err("no matching PEM END line"));
        let bad = pem.replacen('A', "*", 1);
        assert!(decode(bad.as_bytes()).is_err());
    }

    #[test]
    fn debug_shows_the_label_and_the_length_only() {
        let secret = [0x5au8; 48];
        let block = decode(encode("PRIVATE KEY", &secret).as_bytes()).unwrap();
        assert_eq!(
            format!("{block:?}"),
            r#"Pem { label: "PRIVATE KEY", der: <48 bytes> }"#
        );
    }
}
