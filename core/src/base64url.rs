//! Strict, canonical base64url (RFC 7515 §2, RFC 4648 §5): no padding, no whitespace, no `+` or `/`,
//! and the unused low bits of the last character must be zero, so each byte string has exactly one
//! encoding.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

const STRICT_URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

const PEM: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
        .with_decode_allow_trailing_bits(false),
);

/// Input that is not canonical base64 (the position is deliberately not reported).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidBase64;

/// The buffer size [`decode_into`] needs for `len` characters (a whole number of 3-byte groups, as
/// the decoder asks for; the decoded length itself may be up to 2 bytes less).
pub const fn max_decoded_len(len: usize) -> usize {
    (len / 4) * 3 + if len % 4 == 0 { 0 } else { 3 }
}

/// Decodes `input` into `out`, returning the decoded length. `out` must hold
/// [`max_decoded_len`]`(input.len())` bytes; otherwise this fails rather than truncating.
pub fn decode_into(input: &[u8], out: &mut [u8]) -> Result<usize, InvalidBase64> {
    if input.len() % 4 == 1 {
        return Err(InvalidBase64);
    }
    STRICT_URL
        .decode_slice(input, out)
        .map_err(|_| InvalidBase64)
}

/// Decodes `input` into a new vector.
pub fn decode(input: &[u8]) -> Result<Vec<u8>, InvalidBase64> {
    STRICT_URL.decode(input).map_err(|_| InvalidBase64)
}

/// Encodes as unpadded base64url.
pub fn encode(input: &[u8]) -> String {
    STRICT_URL.encode(input)
}

/// Appends the unpadded base64url encoding of `input` to `out`.
pub fn encode_to(input: &[u8], out: &mut String) {
    STRICT_URL.encode_string(input, out)
}

/// Decodes standard, padded base64 as found in a PEM body (line breaks already removed).
pub(crate) fn decode_standard(input: &[u8]) -> Result<Vec<u8>, InvalidBase64> {
    PEM.decode(input).map_err(|_| InvalidBase64)
}

/// Encodes standard, padded base64 (for PEM output).
pub(crate) fn encode_standard(input: &[u8]) -> String {
    PEM.encode(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_known_answers() {
        // RFC 4648 §10 test vectors, unpadded.
        let cases: [(&str, &str); 7] = [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, enc) in cases {
            assert_eq!(encode(plain.as_bytes()), enc);
            assert_eq!(decode(enc.as_bytes()).unwrap(), plain.as_bytes());
        }
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn rejects_every_non_canonical_form() {
        for bad in [
            "Zg==", "Zm8=", "Zh", "Zm9", "Z", "Zm 9v", "Zm9v\n", "+/8", "Zm9v.", " Zm9v",
        ] {
            assert!(decode(bad.as_bytes()).is_err(), "{bad:?} accepted");
            let mut out = [0u8; 16];
            assert!(decode_into(bad.as_bytes(), &mut out).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn decode_into_needs_room_and_never_truncates() {
        let mut small = [0u8; 2];
        assert!(decode_into(b"Zm9v", &mut small).is_err());
        let mut exact = [0u8; 3];
        assert_eq!(decode_into(b"Zm9v", &mut exact), Ok(3));
        assert_eq!(max_decoded_len(4), 3);
        assert_eq!(max_decoded_len(6), 6);
    }
}
