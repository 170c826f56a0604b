//! API keys and personal access tokens: generate, check the form, hash.

use crate::ffi::{bytes, call, new_string, out_param, text, write_out, Failure};
use crate::status::Status;
use std::ffi::c_char;
use tollgate_core::apikey::{self, Hashing};

/// Shortest pepper accepted, in bytes (as for a snapshot's `peppers`).
const MIN_PEPPER_BYTES: usize = 16;

/// The hashing a pepper asks for: SHA-256 without one, HMAC-SHA256 under it otherwise.
fn hashing(pepper: &[u8]) -> Result<Hashing, Failure> {
    match pepper.len() {
        0 => Ok(Hashing::Sha256),
        n if n < MIN_PEPPER_BYTES => Err(Failure::new(
            Status::InvalidOptions,
            format!("the pepper is {n} bytes; use at least {MIN_PEPPER_BYTES}"),
        )),
        _ => Ok(Hashing::HmacSha256(pepper.to_vec())),
    }
}

/// Generates an API key (or personal access token) `<prefix>_<32 base62><6 base62 checksum>` from
/// the operating system's secure random source, and the record a host stores for it.
///
/// `prefix`: 1–32 ASCII letters, digits or `_`, not ending in `_` (`fln_live`, `pat`). `owner`:
/// the owner recorded. `pepper`: raw bytes of the host's pepper (at least 16) to hash with
/// HMAC-SHA256, or NULL / length 0 for plain SHA-256 — it must match the policy provider's
/// `hashing`. `now`: the creation time recorded (Unix seconds).
///
/// On success writes the key to `*key_out` (show it once; it is stored nowhere) and the record
/// to `*record_out` as JSON (`id`, `hash`, `owner`, `kind` = `service_account`, `created`,
/// `hint`; change `kind` or add `tenant`, `roles`, `scopes`, `expires` as needed, then store it
/// in the snapshot's `api_keys` under the provider's name). Free both with `tg_string_free`. Fails with `TG_STATUS_KEY_GENERATION_FAILED` for
/// a bad prefix, `TG_STATUS_INVALID_OPTIONS` for a short pepper.
#[no_mangle]
pub extern "C" fn tg_apikey_generate(
    prefix: *const u8,
    prefix_len: usize,
    owner: *const u8,
    owner_len: usize,
    pepper: *const u8,
    pepper_len: usize,
    now: u64,
    key_out: *mut *mut c_char,
    record_out: *mut *mut c_char,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        out_param(key_out)?;
        out_param(record_out)?;
        // SAFETY: the caller passes the documented pointer + length inputs.
        let (prefix, owner, pepper) = unsafe {
            (
                text(prefix, prefix_len, "prefix")?,
                text(owner, owner_len, "owner")?,
                bytes(pepper, pepper_len)?,
            )
        };
        let generated = apikey::generate(prefix, owner, &hashing(pepper)?, now)?;
        let record = serde_json::to_string(&generated.record)
            .map_err(|e| Failure::new(Status::InternalError, e.to_string()))?;
        // SAFETY: both were checked non-NULL; the caller provides writable storage.
        unsafe {
            write_out(key_out, new_string(generated.key));
            write_out(record_out, new_string(record));
        }
        Ok(())
    })
}

/// Checks an API key's form and checksum, without any lookup: `TG_STATUS_OK`, or
/// `TG_STATUS_MALFORMED_API_KEY` for a typo, a truncated paste or a prefix not accepted. The
/// checksum catches mistakes, not attackers (anyone can compute it): a key that passes must
/// still be looked up.
///
/// `prefixes`: the accepted prefixes separated by spaces (`"fln_live fln_test"`; the longest match
/// wins), or NULL / length 0 to accept the key's own prefix (everything before its last `_`, if
/// that is a prefix Tollgate could generate: ASCII letters, digits and `_`, at most 32 bytes). A
/// list of nothing but spaces, or one with something that is no such prefix, is
/// `TG_STATUS_INVALID_OPTIONS`.
#[no_mangle]
pub extern "C" fn tg_apikey_check(
    key: *const u8,
    key_len: usize,
    prefixes: *const u8,
    prefixes_len: usize,
) -> Status {
    call(core::ptr::null_mut(), || {
        // SAFETY: the caller passes the documented pointer + length inputs.
        let (key, prefixes) = unsafe {
            (
                text(key, key_len, "key")?,
                text(prefixes, prefixes_len, "prefixes")?,
            )
        };
        let mut accepted: Vec<&str> = prefixes.split(' ').filter(|p| !p.is_empty()).collect();
        if accepted.is_empty() {
            // Only no list at all means "the key's own prefix": a list of nothing but spaces
            // (an empty configuration value, joined) would otherwise accept every prefix.
            if !prefixes.is_empty() {
                return Err(Failure::new(
                    Status::InvalidOptions,
                    "the prefix list holds no prefix, only spaces".to_owned(),
                ));
            }
            accepted.push(key.rsplit_once('_').map_or("", |(p, _)| p));
        } else if let Some(bad) = accepted.iter().find(|p| !apikey::valid_prefix(p)) {
            return Err(Failure::new(
                Status::InvalidOptions,
                format!(
                    "prefix {:?} is not a prefix (1 to {} ASCII letters, digits and `_`, not \
                     ending in `_`)",
                    bad.chars().take(40).collect::<String>(),
                    apikey::MAX_PREFIX_LEN
                ),
            ));
        }
        apikey::parse(key, &accepted)?;
        Ok(())
    })
}

/// The stored form of a key's hash: `sha256:<base64url>`, or `hmac-sha256:<base64url>` under
/// `pepper` (raw bytes, at least 16; NULL / length 0 for none). The key's form is not checked.
/// On success writes the hash to `*hash_out`; free it with `tg_string_free`.
#[no_mangle]
pub extern "C" fn tg_apikey_hash(
    key: *const u8,
    key_len: usize,
    pepper: *const u8,
    pepper_len: usize,
    hash_out: *mut *mut c_char,
) -> Status {
    call(core::ptr::null_mut(), || {
        out_param(hash_out)?;
        // SAFETY: the caller passes the documented pointer + length inputs.
        let (key, pepper) = unsafe { (text(key, key_len, "key")?, bytes(pepper, pepper_len)?) };
        let hash = hashing(pepper)?.hash(key);
        // SAFETY: `hash_out` was checked non-NULL; the caller provides writable storage.
        unsafe { write_out(hash_out, new_string(hash)) };
        Ok(())
    })
}
