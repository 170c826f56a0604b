//! JWS compact serialization (RFC 7515 §7.1): strict parsing into an [`UnverifiedJws`], and
//! signature verification that turns it into a [`VerifiedJws`].
//!
//! Parsing, in this order, before any signature work: size cap; exactly three segments; strict
//! base64url header; strict JSON header (no duplicate members, nesting capped); `alg` present,
//! supported, never `none`; no `crit` (no extension is understood) and no `b64: false`; strict
//! base64url payload and signature; a signature of the algorithm's exact length.

use crate::alg::Algorithm;
use crate::base64url;
use crate::error::{truncated, Error};
use crate::json::{self, JsonStr};
use crate::key::Key;
use crate::keyset::KeySet;
use crate::limits;

/// Reusable scratch space for decoded segments, so that a steady stream of verifications does not
/// allocate: decoded headers, payloads and signatures borrow from it. Its `Debug` shows its size
/// only: what it holds decodes the last token, a live credential.
#[derive(Default, Clone)]
pub struct TokenBuffer {
    buf: Vec<u8>,
    /// The last header parsed through this buffer: a stream of tokens from one issuer repeats
    /// its header byte for byte, and the same bytes parse the same way.
    header: HeaderMemo,
}

impl core::fmt::Debug for TokenBuffer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TokenBuffer")
            .field("capacity", &self.buf.capacity())
            .finish_non_exhaustive()
    }
}

/// A header's encoded bytes and what parsing them gave: where its members are in the decoded
/// header. Only a header that parsed is kept.
#[derive(Debug, Default, Clone)]
struct HeaderMemo {
    encoded: Vec<u8>,
    /// `encoded`, decoded: copied into the buffer when the same header comes again, instead of
    /// decoding it again.
    decoded: Vec<u8>,
    max_depth: usize,
    parsed: Option<HeaderSpans>,
}

/// A [`Header`] as offsets into its decoded bytes.
#[derive(Debug, Clone, Copy)]
struct HeaderSpans {
    alg: Algorithm,
    kid: Option<(usize, usize, bool)>,
    typ: Option<(usize, usize, bool)>,
    cty: Option<(usize, usize, bool)>,
    object: (usize, usize),
}

impl HeaderSpans {
    /// The spans of `header`, whose decoded bytes start at `base`.
    fn of(header: &Header<'_>, base: &[u8]) -> Option<HeaderSpans> {
        let at = |s: &str| s.as_ptr().addr().checked_sub(base.as_ptr().addr());
        let span = |s: Option<JsonStr<'_>>| -> Option<Option<(usize, usize, bool)>> {
            match s {
                None => Some(None),
                Some(s) => {
                    let start = at(s.raw())?;
                    Some(Some((
                        start,
                        start + s.raw().len(),
                        s.as_borrowed().is_none(),
                    )))
                }
            }
        };
        let object = header.object.as_str();
        let start = at(object)?;
        Some(HeaderSpans {
            alg: header.alg,
            kid: span(header.kid)?,
            typ: span(header.typ)?,
            cty: span(header.cty)?,
            object: (start, start + object.len()),
        })
    }

    /// The header these spans describe, over the same decoded bytes.
    fn header<'a>(&self, bytes: &'a [u8]) -> Option<Header<'a>> {
        let text = core::str::from_utf8(bytes).ok()?;
        let string = |s: Option<(usize, usize, bool)>| -> Option<Option<JsonStr<'a>>> {
            match s {
                None => Some(None),
                Some((start, end, escaped)) => {
                    Some(Some(JsonStr::checked(text.get(start..end)?, escaped)))
                }
            }
        };
        Some(Header {
            alg: self.alg,
            kid: string(self.kid)?,
            typ: string(self.typ)?,
            cty: string(self.cty)?,
            object: json::Object::checked(text.get(self.object.0..self.object.1)?),
        })
    }
}

impl TokenBuffer {
    /// An empty buffer; it grows to fit the largest token seen and keeps that size.
    pub fn new() -> TokenBuffer {
        TokenBuffer::default()
    }

    /// Puts `bytes` at the start of the buffer (growing it only if it is too small), for
    /// [`restore`] to parse.
    pub(crate) fn load(&mut self, bytes: &[u8]) {
        if self.buf.len() < bytes.len() {
            self.buf.resize(bytes.len(), 0);
        }
        if let Some(dst) = self.buf.get_mut(..bytes.len()) {
            dst.copy_from_slice(bytes);
        }
    }

    /// A buffer already large enough for tokens of up to `max_token_bytes`.
    pub fn with_capacity(max_token_bytes: usize) -> TokenBuffer {
        TokenBuffer {
            buf: vec![0; base64url::max_decoded_len(max_token_bytes).saturating_add(6)],
            header: HeaderMemo::default(),
        }
    }
}

/// Limits applied while parsing.
#[derive(Clone, Copy, Debug)]
pub struct ParseLimits {
    /// Longest token accepted, in bytes.
    pub max_token_bytes: usize,
    /// Deepest JSON nesting accepted in the header and claims.
    pub max_json_depth: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_token_bytes: limits::DEFAULT_MAX_TOKEN_BYTES,
            max_json_depth: limits::DEFAULT_MAX_JSON_DEPTH,
        }
    }
}

/// The protected header of a JWS, parsed but not yet trusted unless reached through a
/// [`VerifiedJws`].
#[derive(Clone, Copy, Debug)]
pub struct Header<'a> {
    alg: Algorithm,
    kid: Option<JsonStr<'a>>,
    typ: Option<JsonStr<'a>>,
    cty: Option<JsonStr<'a>>,
    object: json::Object<'a>,
}

impl<'a> Header<'a> {
    /// The algorithm the header names.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The `kid`, if present.
    pub fn kid(&self) -> Option<JsonStr<'a>> {
        self.kid
    }

    /// The `typ`, if present.
    pub fn typ(&self) -> Option<JsonStr<'a>> {
        self.typ
    }

    /// The `cty`, if present.
    pub fn cty(&self) -> Option<JsonStr<'a>> {
        self.cty
    }

    /// The whole header object.
    pub fn object(&self) -> json::Object<'a> {
        self.object
    }

    #[cfg(test)]
    #[allow(clippy::unwrap_used)]
    pub(crate) fn parse_for_tests(bytes: &'a [u8]) -> Header<'a> {
        Header::parse(bytes, 16).unwrap()
    }

    fn parse(bytes: &'a [u8], max_depth: usize) -> Result<Header<'a>, Error> {
        let string = |m: &json::Member<'a>, what: &'static str| match m.value_str() {
            Some(s) => Ok(s),
            None => Err(Error::InvalidHeader { reason: what }),
        };
        let mut alg = None;
        let (mut kid, mut typ, mut cty, mut crit, mut b64) = (None, None, None, None, None);
        // The first member of the wrong type, reported only once the whole header is known to
        // be strict JSON.
        let mut wrong_type = None;
        let object = json::parse_object_with(bytes, max_depth, |member| {
            if wrong_type.is_some() {
                return;
            }
            let (name, value) = (member.name, member.value);
            let read = match name.as_borrowed() {
                Some("alg") => string(&member, "alg must be a string").map(|s| alg = Some(s)),
                Some("kid") => string(&member, "kid must be a string").map(|s| kid = Some(s)),
                Some("typ") => string(&member, "typ must be a string").map(|s| typ = Some(s)),
                Some("cty") => string(&member, "cty must be a string").map(|s| cty = Some(s)),
                Some("crit") => {
                    crit = Some(value);
                    Ok(())
                }
                Some("b64") => {
                    b64 = Some(value);
                    Ok(())
                }
                Some(_) => Ok(()),
                // Escaped names: compare after unescaping, so "\u0061lg" cannot hide an alg.
                None => {
                    let mut read = Ok(());
                    for (n, slot) in [
                        ("alg", &mut alg),
                        ("kid", &mut kid),
                        ("typ", &mut typ),
                        ("cty", &mut cty),
                    ] {
                        if name.eq_str(n) {
                            read = string(&member, "header member must be a string")
                                .map(|s| *slot = Some(s));
                        }
                    }
                    if name.eq_str("crit") {
                        crit = Some(value);
                    }
                    if name.eq_str("b64") {
                        b64 = Some(value);
                    }
                    read
                }
            };
            wrong_type = read.err();
        })
        .map_err(|reason| Error::json("header", reason, max_depth))?;
        if let Some(e) = wrong_type {
            return Err(e);
        }
        let Some(alg) = alg else {
            return Err(Error::InvalidHeader {
                reason: "missing alg",
            });
        };
        let alg = Algorithm::from_name(&alg.to_cow())?;
        if let Some(crit) = crit {
            let reason = match crit.as_array() {
                None => "crit must be an array".to_owned(),
                Some(mut names) => match names.next() {
                    None => "crit must not be empty".to_owned(),
                    Some(first) => format!(
                        "crit lists {} and no extension is understood",
                        truncated(first.as_raw(), 40)
                    ),
                },
            };
            return Err(Error::UnsupportedCritical { reason });
        }
        if let Some(b64) = b64 {
            match b64.as_bool() {
                Some(true) => {}
                Some(false) => {
                    return Err(Error::UnsupportedCritical {
                        reason: "b64: false (RFC 7797 unencoded payload) is not supported"
                            .to_owned(),
                    })
                }
                None => {
                    return Err(Error::InvalidHeader {
                        reason: "b64 must be a boolean",
                    })
                }
            }
        }
        if kid.is_some_and(|k| k.raw().len() > crate::key::MAX_KID_LEN * 6) {
            return Err(Error::InvalidHeader {
                reason: "kid is longer than the limit of 1536 bytes of JSON text (256 bytes, each possibly escaped)",
            });
        }
        Ok(Header {
            alg,
            kid,
            typ,
            cty,
            object,
        })
    }
}

/// A JWS whose syntax has been checked and whose signature has not. Its payload is not to be
/// trusted; only [`UnverifiedJws::verify`] yields a [`VerifiedJws`].
#[derive(Debug)]
pub struct UnverifiedJws<'t, 'b> {
    signing_input: &'t [u8],
    header: Header<'b>,
    payload: &'b [u8],
    signature: &'b [u8],
}

/// A JWS whose signature verified under a key from the caller's key set.
#[derive(Clone, Copy, Debug)]
pub struct VerifiedJws<'b> {
    header: Header<'b>,
    payload: &'b [u8],
    kid: Option<&'b str>,
}

/// Base64url characters of the largest signature accepted ([`limits::MAX_SIGNATURE_BYTES`]).
const MAX_SIGNATURE_CHARS: usize = (limits::MAX_SIGNATURE_BYTES * 4).div_ceil(3);

/// The three segments of a compact token: header, payload, signature.
type Segments<'t> = (&'t [u8], &'t [u8], &'t [u8]);

/// The position of the first dot in `token` at or after `from`.
fn dot(token: &[u8], from: usize) -> Option<usize> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        memchr::memchr(b'.', token.get(from..)?).map(|i| from + i)
    }
    #[cfg(target_arch = "wasm32")]
    {
        crate::scan::find_byte(token, from, b'.')
    }
}

fn segments(token: &[u8]) -> Result<Segments<'_>, Error> {
    let first = dot(token, 0);
    let second = first.and_then(|f| dot(token, f + 1));
    let third = second.and_then(|s| dot(token, s + 1));
    match (first, second, third) {
        (Some(f), Some(s), None) => match (token.get(..f), token.get(f + 1..s), token.get(s + 1..))
        {
            (Some(h), Some(p), Some(sig)) => Ok((h, p, sig)),
            _ => Err(Error::Internal {
                reason: "token segments",
            }),
        },
        _ => Err(Error::MalformedToken {
            segments: token
                .iter()
                .filter(|&&b| b == b'.')
                .count()
                .saturating_add(1),
        }),
    }
}

fn decode_segment<'b>(
    input: &[u8],
    out: &'b mut [u8],
    segment: &'static str,
) -> Result<(&'b [u8], &'b mut [u8]), Error> {
    let room = base64url::max_decoded_len(input.len());
    let Some((region, rest)) = out.split_at_mut_checked(room) else {
        return Err(Error::Internal {
            reason: "token buffer sizing",
        });
    };
    let n = base64url::decode_into(input, region).map_err(|_| Error::InvalidBase64 { segment })?;
    let Some(decoded) = region.get(..n) else {
        return Err(Error::Internal {
            reason: "base64 length",
        });
    };
    Ok((decoded, rest))
}

/// [`decode_segment`] for a segment of `encoded_len` characters already decoded once (`decoded`):
/// copies it into the same place of `out`.
fn copy_segment<'b>(
    decoded: &[u8],
    encoded_len: usize,
    out: &'b mut [u8],
) -> Result<(&'b [u8], &'b mut [u8]), Error> {
    let room = base64url::max_decoded_len(encoded_len);
    let sizing = || Error::Internal {
        reason: "token buffer sizing",
    };
    let (region, rest) = out.split_at_mut_checked(room).ok_or_else(sizing)?;
    let target = region.get_mut(..decoded.len()).ok_or_else(sizing)?;
    target.copy_from_slice(decoded);
    Ok((target, rest))
}

/// Parses a compact JWS, decoding into `buf`. Nothing here trusts the token.
pub fn parse<'t, 'b>(
    token: &'t [u8],
    limits: ParseLimits,
    buf: &'b mut TokenBuffer,
) -> Result<UnverifiedJws<'t, 'b>, Error> {
    if token.len() > limits.max_token_bytes {
        return Err(Error::TokenTooLarge {
            len: token.len(),
            max: limits.max_token_bytes,
        });
    }
    let (h, p, s) = segments(token)?;
    let Some(signing_input) = token.get(..h.len() + 1 + p.len()) else {
        return Err(Error::Internal {
            reason: "signing input",
        });
    };
    let needed = base64url::max_decoded_len(h.len())
        + base64url::max_decoded_len(p.len())
        + base64url::max_decoded_len(s.len());
    let TokenBuffer { buf, header: memo } = buf;
    if buf.len() < needed {
        buf.resize(needed, 0);
    }
    let remembered = memo
        .parsed
        .filter(|_| memo.encoded == h && memo.max_depth == limits.max_json_depth);
    let (header, rest) = match remembered {
        Some(spans) => {
            let (header_bytes, rest) = copy_segment(&memo.decoded, h.len(), buf)?;
            let header = spans.header(header_bytes).ok_or(Error::Internal {
                reason: "remembered header",
            })?;
            (header, rest)
        }
        None => {
            let (header_bytes, rest) = decode_segment(h, buf, "header")?;
            let header = Header::parse(header_bytes, limits.max_json_depth)?;
            memo.encoded.clear();
            memo.encoded.extend_from_slice(h);
            memo.decoded.clear();
            memo.decoded.extend_from_slice(header_bytes);
            memo.max_depth = limits.max_json_depth;
            memo.parsed = HeaderSpans::of(&header, header_bytes);
            (header, rest)
        }
    };
    let (payload, rest) = decode_segment(p, rest, "payload")?;
    // Compared as base64url text, before decoding: at most the characters of a
    // MAX_SIGNATURE_BYTES signature.
    if s.len() > MAX_SIGNATURE_CHARS {
        return Err(Error::SignatureTooLarge {
            chars: s.len(),
            max: limits::MAX_SIGNATURE_BYTES,
        });
    }
    let (signature, _) = decode_segment(s, rest, "signature")?;
    if let Some(len) = header.alg.fixed_signature_len() {
        if signature.len() != len {
            return Err(Error::InvalidSignature);
        }
    }
    Ok(UnverifiedJws {
        signing_input,
        header,
        payload,
        signature,
    })
}

impl<'t, 'b> UnverifiedJws<'t, 'b> {
    /// The header (untrusted until verified).
    pub fn header(&self) -> &Header<'b> {
        &self.header
    }

    /// The decoded payload, **unverified**: for display and debugging only.
    pub fn unverified_payload(&self) -> &'b [u8] {
        self.payload
    }

    /// Selects the key (see [`KeySet::select`]) and verifies the signature.
    pub fn verify(self, keys: &'b KeySet) -> Result<VerifiedJws<'b>, Error> {
        let key = keys.select_json(self.header.alg, self.header.kid)?;
        key.inner
            .verify(self.header.alg, self.signing_input, self.signature)
            .map_err(|()| Error::InvalidSignature)?;
        Ok(VerifiedJws {
            header: self.header,
            payload: self.payload,
            kid: key.kid(),
        })
    }
}

/// One signature check, as [`UnverifiedJws::verify_with`] hands it to a host that verifies
/// signatures with its own crypto (a runtime's WebCrypto). Everything before the signature has
/// run: the header is strict and names a supported `alg`, the key was selected (by `kid`, bound
/// to that `alg`), and the signature has the algorithm's exact length. (An RSA signature must be
/// as long as the modulus: in-process verification enforces that, and a host's must too.)
#[derive(Clone, Copy, Debug)]
pub struct SignatureInput<'a> {
    /// The algorithm: the key's, which the header agreed with.
    pub alg: Algorithm,
    /// The selected key ([`Key::public_key`] gives its public material).
    pub key: &'a Key,
    /// The signed bytes: the token's `header.payload`, as sent.
    pub signing_input: &'a [u8],
    /// The decoded signature (`r || s` for ECDSA, as WebCrypto expects).
    pub signature: &'a [u8],
}

impl SignatureInput<'_> {
    /// Verifies the signature in process, exactly as [`UnverifiedJws::verify`] does. The key is
    /// used with its own algorithm only: an `alg` other than the key's (a host building an input
    /// itself) is [`Error::AlgorithmMismatch`], on every backend.
    pub fn verify(&self) -> Result<(), Error> {
        let bound = self.key.algorithm();
        if self.alg != bound {
            return Err(Error::AlgorithmMismatch {
                key_alg: bound.name(),
                header_alg: self.alg.name(),
            });
        }
        self.key
            .inner
            .verify(bound, self.signing_input, self.signature)
            .map_err(|()| Error::InvalidSignature)
    }
}

impl<'t, 'b> UnverifiedJws<'t, 'b> {
    /// Selects the key like [`UnverifiedJws::verify`], then lets `check` decide the signature:
    /// `Ok(())` accepts it, an error (normally [`Error::InvalidSignature`]) is returned as is.
    /// For hosts with their own signature crypto; [`SignatureInput::verify`] is the in-process
    /// check, so `|s| s.verify()` behaves exactly as `verify`.
    pub fn verify_with(
        self,
        keys: &'b KeySet,
        check: impl FnOnce(&SignatureInput<'_>) -> Result<(), Error>,
    ) -> Result<VerifiedJws<'b>, Error> {
        let key = keys.select_json(self.header.alg, self.header.kid)?;
        check(&SignatureInput {
            alg: self.header.alg,
            key,
            signing_input: self.signing_input,
            signature: self.signature,
        })?;
        Ok(VerifiedJws {
            header: self.header,
            payload: self.payload,
            kid: key.kid(),
        })
    }
}

/// Rebuilds a verified JWS from a cache entry: its decoded header and payload, loaded into `buf`
/// at `[..len]` (header first, `header_len` bytes). The header is parsed again and the key that
/// verified it selected again (a lookup, not a signature check), so the result is exactly what
/// the original verification returned.
pub(crate) fn restore<'b>(
    buf: &'b TokenBuffer,
    len: usize,
    header_len: usize,
    max_json_depth: usize,
    keys: &'b KeySet,
) -> Result<VerifiedJws<'b>, Error> {
    let internal = Error::Internal {
        reason: "cache entry layout",
    };
    let bytes = buf.buf.get(..len).ok_or_else(|| internal.clone())?;
    let (header_bytes, payload) = bytes.split_at_checked(header_len).ok_or(internal)?;
    let header = Header::parse(header_bytes, max_json_depth)?;
    let key = keys.select_json(header.alg, header.kid)?;
    Ok(VerifiedJws {
        header,
        payload,
        kid: key.kid(),
    })
}

impl<'b> VerifiedJws<'b> {
    /// The verified header.
    pub fn header(&self) -> &Header<'b> {
        &self.header
    }

    /// The verified payload bytes.
    pub fn payload(&self) -> &'b [u8] {
        self.payload
    }

    /// The `kid` of the key that verified the signature.
    pub fn key_id(&self) -> Option<&'b str> {
        self.kid
    }

    /// The decoded header bytes as verified (the header object's text).
    pub(crate) fn header_bytes(&self) -> &'b [u8] {
        self.header.object.as_str().as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::PublicKey;
    use crate::{keygen, mint, SigningKey};

    /// `verify_with` hands over exactly the selected key, the signed bytes and the signature;
    /// `|s| s.verify()` decides as `verify`; a refusal comes back as given.
    #[test]
    fn verify_with_hands_the_signature_to_the_host() {
        for alg in [
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::EdDSA,
            Algorithm::HS256,
        ] {
            let generated = keygen::generate(alg).unwrap();
            let signer = if alg.is_symmetric() {
                SigningKey::from_jwk(generated.private.as_bytes(), Some(alg)).unwrap()
            } else {
                SigningKey::from_pem_or_der(alg, generated.private.as_bytes(), Some(&generated.kid))
                    .unwrap()
            };
            let jwk = generated
                .public_jwk
                .clone()
                .unwrap_or_else(|| serde_json::from_str(&generated.private).unwrap());
            let keys = KeySet::from_jwks(jwk.to_string().as_bytes()).unwrap();
            let token = mint(&signer, br#"{"sub":"a"}"#, None).unwrap();
            let (input, sig) = token.rsplit_once('.').unwrap();
            let mut tampered = token.clone();
            tampered.insert(input.len() - 1, 'A');

            for t in [&token, &tampered] {
                let mut buf = TokenBuffer::new();
                let plain = parse(t.as_bytes(), ParseLimits::default(), &mut buf)
                    .and_then(|p| p.verify(&keys).map(|v| v.payload().to_vec()));
                let mut buf = TokenBuffer::new();
                let hosted = parse(t.as_bytes(), ParseLimits::default(), &mut buf).and_then(|p| {
                    p.verify_with(&keys, |s| s.verify())
                        .map(|v| v.payload().to_vec())
                });
                assert_eq!(plain, hosted, "{alg}");
            }

            let mut buf = TokenBuffer::new();
            let parsed = parse(token.as_bytes(), ParseLimits::default(), &mut buf).unwrap();
            let mut calls = 0;
            let verified = parsed
                .verify_with(&keys, |s| {
                    calls += 1;
                    assert_eq!(s.alg, alg);
                    assert_eq!(s.signing_input, input.as_bytes());
                    assert_eq!(
                        s.signature,
                        base64url::decode(sig.as_bytes()).unwrap().as_slice()
                    );
                    match (s.key.public_key(), alg) {
                        (None, Algorithm::HS256) => {}
                        (Some(PublicKey::Ec { point }), Algorithm::ES256) => {
                            assert_eq!(point.len(), 65)
                        }
                        (Some(PublicKey::Ec { point }), Algorithm::ES384) => {
                            assert_eq!(point.len(), 97)
                        }
                        (Some(PublicKey::Ed25519 { .. }), Algorithm::EdDSA) => {}
                        other => panic!("unexpected public key {other:?}"),
                    }
                    Ok(())
                })
                .unwrap();
            assert_eq!(calls, 1);
            assert_eq!(verified.payload(), br#"{"sub":"a"}"#);

            let mut buf = TokenBuffer::new();
            let parsed = parse(token.as_bytes(), ParseLimits::default(), &mut buf).unwrap();
            assert_eq!(
                parsed
                    .verify_with(&keys, |_| Err(Error::InvalidSignature))
                    .unwrap_err(),
                Error::InvalidSignature
            );
        }
    }

    /// A buffer remembers the last header it parsed. The same header bytes give the same header
    /// as a fresh parse; any other header (another kid, an escaped name, another depth limit, a
    /// header that fails) is parsed afresh and decides for itself.
    #[test]
    fn the_header_memo_answers_only_for_the_same_bytes() {
        let keys = KeySet::from_keys(vec![
            Key::hmac(Algorithm::HS256, &[7; 32], Some("k1")).unwrap(),
            Key::hmac(Algorithm::HS256, &[8; 32], Some("k2")).unwrap(),
        ])
        .unwrap();
        let token = |header: &str, secret: u8| {
            let signer = SigningKey::hmac(Algorithm::HS256, &[secret; 32], None).unwrap();
            let input = format!(
                "{}.{}",
                base64url::encode(header.as_bytes()),
                base64url::encode(br#"{"sub":"a"}"#)
            );
            let sig = signer.sign(input.as_bytes()).unwrap();
            format!("{input}.{}", base64url::encode(&sig))
        };
        let cases = [
            (token(r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#, 7), 16),
            (token(r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#, 7), 16),
            (token(r#"{"alg":"HS256","kid":"k2","typ":"JWT"}"#, 8), 16),
            (token(r#"{"alg":"HS256","kid":"k2","typ":"JWT"}"#, 7), 16),
            (token(r#"{"\u0061lg":"HS256","kid":"k1"}"#, 7), 16),
            (token(r#"{"alg":"HS256","kid":"k1","x":{"y":1}}"#, 7), 2),
            (token(r#"{"alg":"HS256","kid":"k1","x":{"y":1}}"#, 7), 1),
            (token(r#"{"alg":"HS256","kid":"k1","alg":"HS256"}"#, 7), 16),
            (token(r#"{"alg":"HS256","kid":"k\u0031"}"#, 7), 16),
            (token(r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#, 7), 16),
        ];
        let outcome = |buf: &mut TokenBuffer, t: &str, depth: usize| {
            let limits = ParseLimits {
                max_json_depth: depth,
                ..ParseLimits::default()
            };
            parse(t.as_bytes(), limits, buf).and_then(|p| {
                let typ = p.header().typ().map(|s| s.to_cow().into_owned());
                let object = p.header().object().as_str().to_owned();
                p.verify(&keys).map(|v| {
                    (
                        v.key_id().map(str::to_owned),
                        typ,
                        object,
                        v.payload().to_vec(),
                    )
                })
            })
        };
        let mut reused = TokenBuffer::new();
        let mut verdicts = Vec::new();
        for (t, depth) in &cases {
            let fresh = outcome(&mut TokenBuffer::new(), t, *depth);
            let memo = outcome(&mut reused, t, *depth);
            assert_eq!(memo, fresh, "{t}");
            verdicts.push(memo.map(|v| v.0).map_err(|e| e.code()));
        }
        use crate::ErrorCode::*;
        let k = |kid: &str| Ok(Some(kid.to_owned()));
        assert_eq!(
            verdicts,
            [
                k("k1"),
                k("k1"),
                k("k2"),
                Err(InvalidSignature),
                k("k1"),
                k("k1"),
                Err(InvalidJson),
                Err(InvalidJson),
                k("k1"),
                k("k1"),
            ]
        );
    }

    /// Key selection fails before the host is asked anything.
    #[test]
    fn verify_with_selects_the_key_first() {
        let signer = SigningKey::hmac(Algorithm::HS256, &[7; 32], Some("other")).unwrap();
        let keys = KeySet::from_keys(vec![
            Key::hmac(Algorithm::HS256, &[7; 32], Some("k1")).unwrap()
        ])
        .unwrap();
        let token = mint(&signer, br#"{"sub":"a"}"#, None).unwrap();
        let mut buf = TokenBuffer::new();
        let parsed = parse(token.as_bytes(), ParseLimits::default(), &mut buf).unwrap();
        let err = parsed
            .verify_with(&keys, |_| panic!("asked about a key that was not selected"))
            .unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::UnknownKid);
    }

    /// RSA public material comes back without leading zeros.
    #[test]
    fn rsa_public_material() {
        let mut n = vec![0u8, 0xc5];
        n.extend(std::iter::repeat_n(0xc5, 254));
        n.push(0xc7);
        let key = Key::rsa(Algorithm::RS256, &n, &[0, 1, 0, 1], None).unwrap();
        match key.public_key() {
            Some(PublicKey::Rsa { n: got_n, e }) => {
                assert_eq!(got_n, &n[1..]);
                assert_eq!(e, &[1, 0, 1]);
            }
            other => panic!("{other:?}"),
        }
    }
}
