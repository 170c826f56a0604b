//! DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) and PKCS#1 `RSAPublicKey`, read just far enough to
//! build a [`Key`]: the algorithm identifier chooses the key type, the caller names the algorithm.

use crate::alg::{Algorithm, KeyFamily};
use crate::error::{Error, KeyErrorCode};
use crate::key::{label, Key};
use crate::pem;

const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;
const NULL: u8 = 0x05;

/// Reads one DER TLV with the expected tag; returns (contents, rest). Definite, minimal lengths only.
fn tlv(input: &[u8], tag: u8) -> Result<(&[u8], &[u8]), &'static str> {
    let (&t, rest) = input.split_first().ok_or("truncated DER")?;
    if t != tag {
        return Err("unexpected DER tag");
    }
    let (&first, mut rest) = rest.split_first().ok_or("truncated DER")?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 3 {
            return Err("unsupported DER length");
        }
        let (bytes, r) = rest.split_at_checked(n).ok_or("truncated DER")?;
        rest = r;
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        if len < 0x80 || bytes.first() == Some(&0) {
            return Err("non-minimal DER length");
        }
        len
    };
    rest.split_at_checked(len).ok_or("truncated DER")
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }` → (n, e).
fn rsa_public_key(der: &[u8]) -> Result<(&[u8], &[u8]), &'static str> {
    let (seq, rest) = tlv(der, SEQUENCE)?;
    if !rest.is_empty() {
        return Err("trailing data after RSAPublicKey");
    }
    let (n, seq) = tlv(seq, INTEGER)?;
    let (e, seq) = tlv(seq, INTEGER)?;
    if !seq.is_empty() {
        return Err("trailing data in RSAPublicKey");
    }
    Ok((positive_integer(n)?, positive_integer(e)?))
}

/// A DER INTEGER's contents as a positive number: minimal (no leading `00` but the one a high
/// bit needs) and not negative, so one key has one encoding.
fn positive_integer(contents: &[u8]) -> Result<&[u8], &'static str> {
    match contents {
        [] => Err("empty DER INTEGER"),
        [first, ..] if first & 0x80 != 0 => Err("negative DER INTEGER"),
        [0, second, ..] if second & 0x80 == 0 => Err("non-minimal DER INTEGER"),
        _ => Ok(contents),
    }
}

/// Builds a key for `alg` from a DER SubjectPublicKeyInfo.
pub(crate) fn key_from_spki(der: &[u8], alg: Algorithm, kid: Option<&str>) -> Result<Key, Error> {
    let who = label(kid, None);
    let bad = |reason: &str| Error::key(KeyErrorCode::InvalidKey, &who, reason.to_owned());
    let (spki, rest) = tlv(der, SEQUENCE).map_err(bad)?;
    if !rest.is_empty() {
        return Err(bad("trailing data after SubjectPublicKeyInfo"));
    }
    let (alg_id, spki) = tlv(spki, SEQUENCE).map_err(bad)?;
    let (bits, spki) = tlv(spki, BIT_STRING).map_err(bad)?;
    if !spki.is_empty() {
        return Err(bad("trailing data in SubjectPublicKeyInfo"));
    }
    let (oid, params) = tlv(alg_id, OID).map_err(bad)?;
    let key_bytes = match bits.split_first() {
        Some((0, k)) => k,
        _ => return Err(bad("public key BIT STRING has unused bits")),
    };
    let family = alg.key_family();
    let mismatch = || bad(&format!("the SubjectPublicKeyInfo is not a key for {alg}"));
    match family {
        KeyFamily::Rsa => {
            if oid != OID_RSA {
                return Err(mismatch());
            }
            if !(params.is_empty()
                || tlv(params, NULL).is_ok_and(|(c, r)| c.is_empty() && r.is_empty()))
            {
                return Err(bad("RSA algorithm parameters must be NULL"));
            }
            let (n, e) = rsa_public_key(key_bytes).map_err(bad)?;
            Key::rsa(alg, n, e, kid)
        }
        KeyFamily::P256 | KeyFamily::P384 => {
            let curve = if family == KeyFamily::P256 {
                OID_P256
            } else {
                OID_P384
            };
            let (curve_oid, r) = tlv(params, OID).map_err(bad)?;
            if oid != OID_EC || curve_oid != curve || !r.is_empty() {
                return Err(mismatch());
            }
            Key::ec_point(alg, key_bytes, kid)
        }
        KeyFamily::Ed25519 => {
            if oid != OID_ED25519 || !params.is_empty() {
                return Err(mismatch());
            }
            Key::ed25519(key_bytes, kid)
        }
        KeyFamily::Hmac => Err(bad("an HMAC algorithm takes a secret, not a public key")),
    }
}

/// Builds a key for `alg` from PEM (`PUBLIC KEY`, or `RSA PUBLIC KEY` for PKCS#1) or DER SPKI.
pub(crate) fn key_from_public_pem_or_der(
    bytes: &[u8],
    alg: Algorithm,
    kid: Option<&str>,
) -> Result<Key, Error> {
    let who = label(kid, None);
    if !pem::is_pem(bytes) {
        pem::check_der_size(bytes).map_err(|r| Error::key(KeyErrorCode::InvalidKey, &who, r))?;
        return key_from_spki(bytes, alg, kid);
    }
    let block = pem::decode(bytes).map_err(|r| Error::key(KeyErrorCode::InvalidKey, &who, r))?;
    match block.label.as_str() {
        "PUBLIC KEY" => key_from_spki(&block.der, alg, kid),
        "RSA PUBLIC KEY" if alg.key_family() == KeyFamily::Rsa => {
            let (n, e) = rsa_public_key(&block.der)
                .map_err(|r| Error::key(KeyErrorCode::InvalidKey, &who, r))?;
            Key::rsa(alg, n, e, kid)
        }
        other => Err(Error::key(
            KeyErrorCode::InvalidKey,
            &who,
            format!(
                "PEM label {:?} is not a public key (expected PUBLIC KEY)",
                crate::error::truncated(other, 32)
            ),
        )),
    }
}

impl Key {
    /// A public key for `alg` from PEM (`PUBLIC KEY` SPKI, or `RSA PUBLIC KEY` PKCS#1) or DER SPKI.
    pub fn from_public_key(alg: Algorithm, bytes: &[u8], kid: Option<&str>) -> Result<Key, Error> {
        key_from_public_pem_or_der(bytes, alg, kid)
    }
}
