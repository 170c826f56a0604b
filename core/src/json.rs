//! A strict, zero-copy JSON reader for untrusted headers and claims.
//!
//! [`parse_object`] checks a whole document once: valid UTF-8, RFC 8259 grammar (no trailing commas,
//! comments, leading zeros, lone surrogates or control characters in strings, no byte-order mark),
//! a top-level object, a nesting cap, and **no duplicate member names at any level** (compared after
//! unescaping, so `"alg"` and `"\u0061lg"` are duplicates). What it returns borrows from the input:
//! reading a member allocates nothing unless a string holds escapes and the caller asks for it owned.
//!
//! Duplicate names are why this exists: parsers that keep the first or the last of two `alg` members
//! disagree with each other, and a token that means two things to two parsers is an attack.
//!
//! It is on every request's path, so it reads each document once: one UTF-8 pass, then strings
//! passed over eight bytes at a time (`crate::scan`), member names told apart by fingerprint, and
//! [`parse_object_with`] handing each top-level member to its caller during that pass (the claims
//! and the header are read that way). A [`MemberIndex`] recorded in the same pass makes later
//! lookups by name (the engine's claim paths) a search of the index rather than of the text.
//!
//! Checking a document allocates nothing while its top-level object has at most 64 members and
//! each nested object at most 16 (at most 16 in any object once a name has escapes); a wider
//! object's duplicate check moves to a hash set.

use crate::scan::{below_space, word_at, zero_bytes, ONES};
use std::borrow::Cow;
use std::collections::HashSet;

/// How many member names a nested object keeps for its duplicate check before a hash set takes
/// over (the only allocation, and only for objects this wide).
const SMALL_OBJECT: usize = 16;

/// How many member names the document's own (top-level) object keeps. A token's claims are that
/// object, and real tokens often have more than [`SMALL_OBJECT`] (Keycloak's and Azure AD's
/// access tokens carry over 20 by default). Up to this many, they are checked without
/// allocating.
const TOP_LEVEL_NAMES: usize = 64;

// A name's escapes are one bit of a `u64` ([`MemberNames`], [`MemberIndex`]).
const _: () = assert!(SMALL_OBJECT <= 64 && TOP_LEVEL_NAMES <= 64);

/// A JSON object that passed [`parse_object`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Object<'a> {
    text: &'a str,
}

/// One JSON value inside a checked document, as its raw text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Value<'a> {
    text: &'a str,
}

/// A JSON string inside a checked document: its raw text between the quotes.
#[derive(Clone, Copy, Debug)]
pub struct JsonStr<'a> {
    raw: &'a str,
    escaped: bool,
}

/// The type of a [`Value`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `{…}`
    Object,
    /// `[…]`
    Array,
    /// `"…"`
    String,
    /// A number.
    Number,
    /// `true` or `false`.
    Bool,
    /// `null`.
    Null,
}

/// The error [`parse_object`] returns when the nesting exceeds its `max_depth`.
pub const TOO_DEEP: &str = "nesting is too deep";

/// A [`parse_object`] error as text for a message, naming the depth limit when that was the
/// failure.
pub fn describe(reason: &'static str, max_depth: usize) -> String {
    if reason == TOO_DEEP {
        format!("nesting is deeper than the limit of {max_depth} levels")
    } else {
        reason.to_owned()
    }
}

/// Checks `bytes` as one strict JSON object with at most `max_depth` levels of nesting (the object
/// itself is level 1; never more than [`crate::limits::MAX_JSON_DEPTH`], whatever is asked: the
/// reader recurses, and a deeper document could exhaust the stack). Errors say what was wrong,
/// never where in a secret.
pub fn parse_object(bytes: &[u8], max_depth: usize) -> Result<Object<'_>, &'static str> {
    parse_object_with(bytes, max_depth, |_| {})
}

/// [`parse_object`], handing each top-level member to `visit` as it is checked, so that a caller
/// reads the members it wants in the same pass. A member is handed over before the rest of the
/// document is checked: act on what `visit` saw only once this returns `Ok`.
pub fn parse_object_with<'a>(
    bytes: &'a [u8],
    max_depth: usize,
    visit: impl FnMut(Member<'a>),
) -> Result<Object<'a>, &'static str> {
    // Member names are kept as 32-bit offsets; every reader caps its input far below this.
    if u32::try_from(bytes.len()).is_err() {
        return Err("the document is 4 GiB or more");
    }
    // One UTF-8 pass over the whole document (word at a time over ASCII): every span cut at an
    // ASCII byte below is then valid text, and no string needs a check of its own.
    let text = core::str::from_utf8(bytes).map_err(|_| "not valid UTF-8")?;
    let mut p = Parser {
        text,
        s: text.as_bytes(),
        pos: 0,
        depth: 0,
        max_depth: max_depth.min(crate::limits::MAX_JSON_DEPTH),
        escaped: false,
        strings: false,
    };
    p.skip_ws();
    let start = p.pos;
    if p.peek() != Some(b'{') {
        return Err("not a JSON object");
    }
    p.object::<TOP_LEVEL_NAMES>(visit)?;
    let text = p.text(start, p.pos)?;
    p.skip_ws();
    if p.pos != p.s.len() {
        return Err("trailing characters after the object");
    }
    Ok(Object { text })
}

/// One member of an object, as [`parse_object_with`] hands it over.
#[derive(Clone, Copy, Debug)]
pub struct Member<'a> {
    /// The member's name.
    pub name: JsonStr<'a>,
    /// Its value.
    pub value: Value<'a>,
    /// Where the name's text (after the quote) starts, in bytes from the object's `{`.
    name_at: usize,
    /// Where the value starts, in bytes from the object's `{`.
    value_at: usize,
    /// [`fingerprint`] of the name's raw text.
    fingerprint: u64,
    /// Whether the value is a string with escapes.
    value_escaped: bool,
    /// Whether the value is a non-empty array of strings only.
    value_strings: bool,
}

impl<'a> Member<'a> {
    /// The value as a string, if it is one (as [`Value::as_str`], without looking for escapes
    /// again: the reader saw them).
    pub fn value_str(&self) -> Option<JsonStr<'a>> {
        let raw = self.value.text.strip_prefix('"')?.strip_suffix('"')?;
        Some(JsonStr {
            raw,
            escaped: self.value_escaped,
        })
    }

    /// Whether the value is a non-empty array whose elements are all strings (as the reader saw
    /// it, without walking the array again).
    pub fn value_is_strings(&self) -> bool {
        self.value_strings
    }
}

/// How many members a [`MemberIndex`] records: as many as the document's own object keeps for its
/// duplicate check, so a token's claims are looked up without walking them again.
pub const INDEXED_MEMBERS: usize = TOP_LEVEL_NAMES;

/// Where an object's members are, recorded from [`parse_object_with`]'s pass (the first
/// [`INDEXED_MEMBERS`] of them), so that looking a member up by name does not walk the object
/// again. Only valid for the object whose members were recorded.
#[derive(Clone, Copy, Debug)]
pub struct MemberIndex {
    /// [`fingerprint`] of each name's raw text.
    fingerprints: [u64; INDEXED_MEMBERS],
    /// Name start, name length, value start, value length, in bytes from the object's `{`.
    spans: [[u16; 4]; INDEXED_MEMBERS],
    /// Bit `i`: name `i` has escapes (its raw text is not the name).
    escaped: u64,
    len: usize,
    /// Whether every member was recorded (else a name not found is looked for in the object).
    complete: bool,
}

impl Default for MemberIndex {
    fn default() -> Self {
        MemberIndex {
            fingerprints: [0; INDEXED_MEMBERS],
            spans: [[0; 4]; INDEXED_MEMBERS],
            escaped: 0,
            len: 0,
            complete: true,
        }
    }
}

impl MemberIndex {
    /// Records `member` (members come in document order, each once).
    pub fn record(&mut self, member: &Member<'_>) {
        let span = (
            u16::try_from(member.name_at),
            u16::try_from(member.name.raw.len()),
            u16::try_from(member.value_at),
            u16::try_from(member.value.text.len()),
        );
        let slots = (
            self.fingerprints.get_mut(self.len),
            self.spans.get_mut(self.len),
        );
        match (span, slots) {
            ((Ok(a), Ok(b), Ok(c), Ok(d)), (Some(fingerprint), Some(spans))) if self.complete => {
                *fingerprint = member.fingerprint;
                *spans = [a, b, c, d];
                if member.name.escaped {
                    self.escaped |= 1 << self.len;
                }
                self.len += 1;
            }
            _ => self.complete = false,
        }
    }

    /// The value of member `name` of `object`, the object whose members were recorded.
    pub fn get<'a>(&self, object: &Object<'a>, name: &str) -> Option<Value<'a>> {
        let fp = fingerprint(name.as_bytes());
        let span = |i: usize| -> Option<(&'a str, &'a str)> {
            let [a, b, c, d] = self.spans.get(i)?.map(usize::from);
            Some((object.text.get(a..a + b)?, object.text.get(c..c + d)?))
        };
        let recorded = self.fingerprints.get(..self.len).unwrap_or_default();
        for (i, f) in recorded.iter().enumerate() {
            // A name with escapes has the fingerprint of its raw text: compare it in full.
            if *f != fp && (self.escaped == 0 || self.escaped & (1 << i) == 0) {
                continue;
            }
            let escaped = self.escaped & (1 << i) != 0;
            let Some((raw, value)) = span(i) else {
                break;
            };
            if (JsonStr { raw, escaped }).eq_str(name) {
                return Some(Value { text: value });
            }
        }
        if self.complete {
            None
        } else {
            object.get(name)
        }
    }
}

impl<'a> Object<'a> {
    /// The object whose text is `text`, which passed [`parse_object`] before (the same bytes,
    /// remembered): for the crate's memo of repeated token headers.
    pub(crate) fn checked(text: &'a str) -> Object<'a> {
        Object { text }
    }

    /// The raw text of the object, `{` to `}`.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// The members in document order.
    pub fn members(&self) -> Members<'a> {
        Members {
            s: self.text.as_bytes(),
            text: self.text,
            pos: 1,
        }
    }

    /// The value of member `name`, if present (names are unique, so there is at most one).
    pub fn get(&self, name: &str) -> Option<Value<'a>> {
        self.members().find(|(k, _)| k.eq_str(name)).map(|(_, v)| v)
    }

    /// Whether the object has no members.
    pub fn is_empty(&self) -> bool {
        self.members().next().is_none()
    }
}

/// Something whose members can be looked up by name: an [`Object`], or a claims set through its
/// [`MemberIndex`].
pub trait Lookup<'a> {
    /// The value of member `name`, if present.
    fn member(&self, name: &str) -> Option<Value<'a>>;

    /// Follows a path of member names through nested objects (`["realm_access", "roles"]`):
    /// the first looked up here, the rest in the objects below.
    fn path<'p>(&self, path: impl IntoIterator<Item = &'p str>) -> Option<Value<'a>> {
        let mut names = path.into_iter();
        let mut current = self.member(names.next()?)?;
        for name in names {
            current = current.as_object()?.get(name)?;
        }
        Some(current)
    }
}

impl<'a> Lookup<'a> for Object<'a> {
    fn member(&self, name: &str) -> Option<Value<'a>> {
        self.get(name)
    }
}

/// Iterator over an object's members.
#[derive(Clone, Debug)]
pub struct Members<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for Members<'a> {
    type Item = (JsonStr<'a>, Value<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let mut sk = Skipper {
            s: self.s,
            pos: self.pos,
        };
        sk.skip_ws();
        if sk.peek()? == b',' {
            sk.pos += 1;
            sk.skip_ws();
        }
        if sk.peek()? != b'"' {
            self.pos = self.s.len();
            return None;
        }
        let key_start = sk.pos + 1;
        let escaped = sk.skip_string()?;
        let key = JsonStr {
            raw: self.text.get(key_start..sk.pos - 1)?,
            escaped,
        };
        sk.skip_ws();
        if sk.peek()? != b':' {
            return None;
        }
        sk.pos += 1;
        sk.skip_ws();
        let v_start = sk.pos;
        sk.skip_value()?;
        let value = Value {
            text: self.text.get(v_start..sk.pos)?,
        };
        self.pos = sk.pos;
        Some((key, value))
    }
}

/// Iterator over an array's elements.
#[derive(Clone, Debug)]
pub struct Elements<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for Elements<'a> {
    type Item = Value<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut sk = Skipper {
            s: self.s,
            pos: self.pos,
        };
        if sk.next_element().is_none() {
            self.pos = self.s.len();
            return None;
        }
        let start = sk.pos;
        sk.skip_value()?;
        self.pos = sk.pos;
        Some(Value {
            text: self.text.get(start..sk.pos)?,
        })
    }
}

/// Iterator over the strings of an array, passing over any other element: each string is
/// scanned once, its escapes noted as it goes (where [`Elements`] and [`Value::as_str`] would
/// scan it twice).
#[derive(Clone, Debug)]
pub struct StringElements<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for StringElements<'a> {
    type Item = JsonStr<'a>;

    fn next(&mut self) -> Option<JsonStr<'a>> {
        let s = self.text.as_bytes();
        loop {
            let mut sk = Skipper { s, pos: self.pos };
            if sk.next_element().is_none() {
                self.pos = s.len();
                return None;
            }
            let start = sk.pos;
            if sk.peek()? == b'"' {
                let escaped = sk.skip_string()?;
                self.pos = sk.pos;
                let raw = self.text.get(start + 1..sk.pos - 1)?;
                return Some(JsonStr { raw, escaped });
            }
            sk.skip_value()?;
            self.pos = sk.pos;
        }
    }
}

impl<'a> Value<'a> {
    /// The string elements of an array, if this is an array (other elements are passed over).
    pub fn string_elements(&self) -> Option<StringElements<'a>> {
        (self.kind() == Kind::Array).then_some(StringElements {
            text: self.text,
            pos: 1,
        })
    }

    /// An object as a value.
    pub fn of_object(object: Object<'a>) -> Value<'a> {
        Value { text: object.text }
    }

    /// The raw JSON text of the value.
    pub fn as_raw(&self) -> &'a str {
        self.text
    }

    /// Its type.
    pub fn kind(&self) -> Kind {
        match self.text.as_bytes().first() {
            Some(b'{') => Kind::Object,
            Some(b'[') => Kind::Array,
            Some(b'"') => Kind::String,
            Some(b't' | b'f') => Kind::Bool,
            Some(b'n') => Kind::Null,
            _ => Kind::Number,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<JsonStr<'a>> {
        if self.kind() != Kind::String {
            return None;
        }
        let raw = self.text.get(1..self.text.len().checked_sub(1)?)?;
        Some(JsonStr {
            raw,
            escaped: crate::scan::find_byte(raw.as_bytes(), 0, b'\\').is_some(),
        })
    }

    /// The number as `f64`, if this is a number (may be infinite for huge exponents: check).
    pub fn as_f64(&self) -> Option<f64> {
        if self.kind() != Kind::Number {
            return None;
        }
        // Whole numbers of up to 15 digits (every NumericDate in practice) are exact in f64 and
        // read without the general float parser.
        let digits = self.text.strip_prefix('-').unwrap_or(self.text);
        match whole_number(digits.as_bytes()) {
            Some(n) => {
                let n = n as f64;
                Some(if digits.len() < self.text.len() {
                    -n
                } else {
                    n
                })
            }
            None => self.text.parse::<f64>().ok(),
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self.text {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<Object<'a>> {
        (self.kind() == Kind::Object).then_some(Object { text: self.text })
    }

    /// The array's elements, if this is an array.
    pub fn as_array(&self) -> Option<Elements<'a>> {
        (self.kind() == Kind::Array).then_some(Elements {
            s: self.text.as_bytes(),
            text: self.text,
            pos: 1,
        })
    }

    /// Deserializes the value with serde (allocates as `T` requires).
    pub fn deserialize<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.text)
    }

    /// The value as a `serde_json::Value` tree (allocates).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::from_str(self.text).unwrap_or(serde_json::Value::Null)
    }
}

/// Appends `s` to `out` as a JSON string, quoted, escaped as serde_json escapes: `"`, `\\` and
/// the control characters, with the short forms where JSON has them.
pub fn push_string(out: &mut String, s: &str) {
    out.push('"');
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(s.get(plain..i).unwrap_or_default());
        plain = i + 1;
        if short.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let hex = |n: u8| char::from(HEX.get(usize::from(n)).copied().unwrap_or(b'0'));
            out.push_str("\\u00");
            out.push(hex(b >> 4));
            out.push(hex(b & 0xf));
        } else {
            out.push_str(short);
        }
    }
    out.push_str(s.get(plain..).unwrap_or_default());
    out.push('"');
}

/// A bit in each byte of `w` that is not an ASCII digit, exact for the lowest such byte (a
/// carry runs only upward, from a byte already flagged).
const fn not_digits(w: u64) -> u64 {
    // A digit XOR '0' is 0..=9: its high nibble is clear, and adding 6 leaves bit 4 clear.
    let x = w ^ (ONES * b'0' as u64);
    (x & 0xF0F0_F0F0_F0F0_F0F0) | (x.wrapping_add(ONES * 6) & 0x1010_1010_1010_1010)
}

/// The value of 1 to 15 ASCII digits (exact in `f64`), if `digits` is that; eight at a time
/// where there are eight.
fn whole_number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    let (head, tail) = digits.split_at(digits.len() % 8);
    let mut n = 0u64;
    for &b in head {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + u64::from(d);
    }
    for chunk in tail.chunks_exact(8) {
        let w = u64::from_le_bytes(chunk.try_into().ok()?);
        // Every byte '0'..='9': its high nibble is 3, and still 3 after adding 6.
        let all_digits = (w & 0xF0F0_F0F0_F0F0_F0F0)
            | (w.wrapping_add(0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) >> 4;
        if all_digits != 0x3333_3333_3333_3333 {
            return None;
        }
        // Pairs, then quads, then the eight digits (the first digit is the lowest byte).
        let w = (w & 0x0F0F_0F0F_0F0F_0F0F).wrapping_mul(2561) >> 8;
        let w = (w & 0x00FF_00FF_00FF_00FF).wrapping_mul(6_553_601) >> 16;
        let w = (w & 0x0000_FFFF_0000_FFFF).wrapping_mul(42_949_672_960_001) >> 32;
        n = n * 100_000_000 + w;
    }
    Some(n)
}

impl<'a> JsonStr<'a> {
    /// The string whose raw text (between the quotes) is `raw`, which passed [`parse_object`]
    /// before: for the crate's memo of repeated token headers.
    pub(crate) fn checked(raw: &'a str, escaped: bool) -> JsonStr<'a> {
        JsonStr { raw, escaped }
    }

    /// The string without allocating, when it has no escapes.
    pub fn as_borrowed(&self) -> Option<&'a str> {
        (!self.escaped).then_some(self.raw)
    }

    /// The raw text between the quotes, escapes and all.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// The unescaped string (allocates only if it has escapes).
    pub fn to_cow(&self) -> Cow<'a, str> {
        match self.as_borrowed() {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(self.chars().collect()),
        }
    }

    /// Whether the unescaped string equals `other`, without allocating.
    pub fn eq_str(&self, other: &str) -> bool {
        if self.escaped {
            self.chars().eq(other.chars())
        } else {
            self.raw == other
        }
    }

    /// Appends the unescaped string to `out` (one copy when it has no escapes).
    pub fn push_to(&self, out: &mut String) {
        match self.as_borrowed() {
            Some(s) => out.push_str(s),
            None => out.extend(self.chars()),
        }
    }

    /// The unescaped characters.
    pub fn chars(&self) -> impl Iterator<Item = char> + 'a {
        Unescape {
            chars: self.raw.chars(),
        }
    }
}

impl PartialEq for JsonStr<'_> {
    fn eq(&self, other: &Self) -> bool {
        if !self.escaped && !other.escaped {
            self.raw == other.raw
        } else {
            self.chars().eq(other.chars())
        }
    }
}

struct Unescape<'a> {
    chars: core::str::Chars<'a>,
}

impl Unescape<'_> {
    fn hex4(&mut self) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            v = v * 16 + self.chars.next()?.to_digit(16)?;
        }
        Some(v)
    }
}

impl Iterator for Unescape<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c != '\\' {
            return Some(c);
        }
        // The document was checked, so every escape is well formed; the fallbacks never run.
        Some(match self.chars.next()? {
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let hi = self.hex4()?;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    self.chars.next()?;
                    self.chars.next()?;
                    let lo = self.hex4()?;
                    0x10000 + ((hi - 0xD800) << 10) + (lo.checked_sub(0xDC00)?)
                } else {
                    hi
                };
                char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER)
            }
            other => other,
        })
    }
}

/// The high bit of each quote or backslash byte of `w` (exact for the lowest): the bytes that end
/// a run of plain string characters for the [`Skipper`], which moves over checked text.
const fn quotes_or_backslashes(w: u64) -> u64 {
    zero_bytes(w ^ (ONES * b'"' as u64)) | zero_bytes(w ^ (ONES * b'\\' as u64))
}

/// The high bit of each byte of `w` that needs a look while checking a string (exact for the
/// lowest): a quote, a backslash or a control character ([`below_space`]).
const fn needs_look(w: u64) -> u64 {
    quotes_or_backslashes(w) | below_space(w)
}

/// Moves `pos` past plain bytes eight at a time, to the first byte `special` flags in a word (or to
/// the last eight bytes of `s`, where the caller goes on a byte at a time).
fn skip_plain(s: &[u8], mut pos: usize, special: impl Fn(u64) -> u64) -> usize {
    while let Some(w) = word_at(s, pos) {
        let flagged = special(w);
        if flagged != 0 {
            return pos + (flagged.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    pos
}

/// A cheap summary of a member name's raw bytes for the duplicate check: equal names have equal
/// fingerprints, so only names whose fingerprints match are compared in full.
fn fingerprint(raw: &[u8]) -> u64 {
    fingerprint_at(raw, 0, raw.len())
}

/// [`fingerprint`] of `s[at..at + len]`, reading whole words of `s` where it can.
#[inline(always)]
fn fingerprint_at(s: &[u8], at: usize, len: usize) -> u64 {
    let head = match word_at(s, at) {
        Some(w) if len >= 8 => w,
        // The name's bytes, little-endian, as a word of the document with the rest cleared.
        Some(w) => w & ((1u64 << (8 * len)) - 1),
        None => s
            .get(at..at + len)
            .unwrap_or_default()
            .iter()
            .rev()
            .fold(0u64, |acc, &b| acc << 8 | u64::from(b)),
    };
    let tail = match len.checked_sub(8) {
        Some(back) if len > 8 => word_at(s, at + back).unwrap_or(0).rotate_left(29),
        _ => 0,
    };
    head ^ tail ^ (len as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The member names of one object while it is checked, to refuse duplicates. Names are compared
/// by fingerprint first; names with escapes are compared in full with every other name, since
/// equal names may be spelled differently. Past `N` names (or past [`SMALL_OBJECT`] once a name
/// has escapes, which bounds those full comparisons), a hash set takes over.
struct MemberNames<'a, const N: usize> {
    /// The document, which the spans point into.
    text: &'a str,
    /// One bit per fingerprint inserted ([`MemberNames::bit`]): a name whose bit is clear has a
    /// fingerprint no earlier name has, and needs no search.
    seen: u64,
    fingerprints: [u64; N],
    /// Where each name's raw text is in `text`: its start in the high 32 bits, its length in the
    /// low 32 ([`MemberNames::span`]).
    spans: [u64; N],
    /// Bit `i`: name `i` has escapes (never more than 64 names are kept).
    escaped: u64,
    /// Every name from now on goes through [`MemberNames::insert_searching`]: one had escapes, or
    /// the hash set took over.
    searching: bool,
    count: usize,
    large: Option<HashSet<Cow<'a, str>>>,
}

impl<'a, const N: usize> MemberNames<'a, N> {
    fn new(text: &'a str) -> Self {
        MemberNames {
            text,
            seen: 0,
            fingerprints: [0; N],
            spans: [0; N],
            escaped: 0,
            searching: false,
            count: 0,
            large: None,
        }
    }

    /// The bit of `seen` for fingerprint `fp`: six of its bits, mixed (the low bytes of a
    /// fingerprint are a name's first letters, which many names share).
    fn bit(fp: u64) -> u64 {
        1 << (fp.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58)
    }

    /// A name's place as one word (documents are far below 4 GiB: every reader caps its input
    /// long before that, and [`parse_object_with`] refuses more).
    fn span(at: usize, len: usize) -> u64 {
        (at as u64) << 32 | len as u64
    }

    /// Name `i`, from its span.
    fn name(&self, i: usize) -> Option<JsonStr<'a>> {
        let span = *self.spans.get(i)?;
        let at = (span >> 32) as usize;
        let len = (span & 0xFFFF_FFFF) as usize;
        Some(JsonStr {
            raw: self.text.get(at..at + len)?,
            escaped: self.escaped & (1 << i) != 0,
        })
    }

    /// Adds `name`, whose raw text starts at `at` in the document and has fingerprint `fp`;
    /// `false` if the object already has a member of that name.
    #[inline(always)]
    fn insert(&mut self, name: JsonStr<'a>, at: usize, fp: u64) -> bool {
        // The usual case, inline: no escapes anywhere yet, no hash set, no earlier name with this
        // bit (so no earlier name with this fingerprint), and room in the arrays.
        let bit = Self::bit(fp);
        if self.seen & bit == 0 && !self.searching && !name.escaped {
            if let (Some(f), Some(s)) = (
                self.fingerprints.get_mut(self.count),
                self.spans.get_mut(self.count),
            ) {
                *f = fp;
                *s = Self::span(at, name.raw.len());
                self.seen |= bit;
                self.count += 1;
                return true;
            }
        }
        self.insert_searching(name, at, fp)
    }

    /// [`MemberNames::insert`] where the name must be looked for among the others.
    #[inline(never)]
    fn insert_searching(&mut self, name: JsonStr<'a>, at: usize, fp: u64) -> bool {
        if let Some(set) = self.large.as_mut() {
            return set.insert(name.to_cow());
        }
        let count = self.count;
        let Some(fingerprints) = self.fingerprints.get(..count) else {
            return false;
        };
        let duplicate = if self.escaped != 0 || name.escaped {
            (0..count).any(|i| self.name(i).is_some_and(|n| n == name))
        } else {
            // The usual answer, "no name has this fingerprint", from a plain scan of words.
            fingerprints.contains(&fp)
                && (0..count).any(|i| {
                    fingerprints.get(i) == Some(&fp)
                        && self.name(i).is_some_and(|n| n.raw == name.raw)
                })
        };
        if duplicate {
            return false;
        }
        // Names with escapes are compared in full with every other: past `SMALL_OBJECT` of them,
        // the hash set keeps that from growing with the square of the count.
        let escapes = self.escaped != 0 || name.escaped;
        let room = !(escapes && count >= SMALL_OBJECT);
        match (self.fingerprints.get_mut(count), self.spans.get_mut(count)) {
            (Some(f), Some(s)) if room => {
                *f = fp;
                *s = Self::span(at, name.raw.len());
                if name.escaped {
                    self.escaped |= 1 << count;
                    self.searching = true;
                }
                self.seen |= Self::bit(fp);
                self.count += 1;
            }
            _ => {
                // Room for as many again before it grows.
                let mut set = HashSet::with_capacity(2 * (count + 1));
                set.extend((0..count).filter_map(|i| self.name(i)).map(|n| n.to_cow()));
                set.insert(name.to_cow());
                self.large = Some(set);
                self.searching = true;
            }
        }
        true
    }
}

struct Parser<'a> {
    text: &'a str,
    s: &'a [u8],
    pos: usize,
    depth: usize,
    max_depth: usize,
    /// Whether the last string read had escapes.
    escaped: bool,
    /// Whether the last array read was non-empty and held strings only.
    strings: bool,
}

impl<'a> Parser<'a> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    #[inline(always)]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The text of `start..end` (the document is valid UTF-8 and every span starts and ends at
    /// an ASCII byte, so this never fails).
    #[inline(always)]
    fn text(&self, start: usize, end: usize) -> Result<&'a str, &'static str> {
        self.text.get(start..end).ok_or("internal: span")
    }

    /// Checks one value; its text is from where it started to `self.pos`.
    fn value(&mut self) -> Result<(), &'static str> {
        match self.peek() {
            Some(b'"') => self.string().map(|_| ()),
            Some(b'{') => self.nested_object(),
            Some(b'[') => self.array(),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(_) => Err("unexpected character"),
            None => Err("unexpected end of input"),
        }
    }

    /// An object inside the document, out of line: its duplicate-name set then takes room on
    /// the stack only while it is read, not in every call of [`Parser::value`].
    #[inline(never)]
    fn nested_object(&mut self) -> Result<(), &'static str> {
        self.object::<SMALL_OBJECT>(|_| {})
    }

    fn enter(&mut self) -> Result<(), &'static str> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(TOO_DEEP);
        }
        self.pos += 1;
        Ok(())
    }

    /// Checks an object, handing each member to `visit` once its value is checked.
    fn object<const N: usize>(
        &mut self,
        mut visit: impl FnMut(Member<'a>),
    ) -> Result<(), &'static str> {
        let open = self.pos;
        self.enter()?;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        let mut names = MemberNames::<N>::new(self.text);
        loop {
            if self.peek() != Some(b'"') {
                return Err("expected a member name");
            }
            let name_at = self.pos + 1;
            let name_end = self.string()?;
            let name = JsonStr {
                raw: self.text(name_at, name_end)?,
                escaped: self.escaped,
            };
            let fingerprint = fingerprint_at(self.s, name_at, name_end - name_at);
            if !names.insert(name, name_at, fingerprint) {
                return Err("duplicate member name");
            }
            // Whitespace is looked for only where the next byte is not the one expected (a
            // token's JSON usually has none).
            if self.peek() != Some(b':') {
                self.skip_ws();
                if self.peek() != Some(b':') {
                    return Err("expected ':' after a member name");
                }
            }
            self.pos += 1;
            if self.peek().is_some_and(is_ws) {
                self.skip_ws();
            }
            let value_at = self.pos;
            // Most values are strings: checked here, without a call into `value`.
            let string = self.peek() == Some(b'"');
            if string {
                self.string()?;
            } else {
                self.value()?;
            }
            visit(Member {
                name,
                value: Value {
                    text: self.text(value_at, self.pos)?,
                },
                name_at: name_at - open,
                value_at: value_at - open,
                fingerprint,
                value_escaped: string && self.escaped,
                // `array` sets `strings` as it ends, after any array inside it.
                value_strings: !string && self.strings && self.s.get(value_at) == Some(&b'['),
            });
            if self.peek().is_some_and(is_ws) {
                self.skip_ws();
            }
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    if self.peek() != Some(b'"') {
                        self.skip_ws();
                    }
                }
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err("expected ',' or '}' in an object"),
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// Checks an array; [`Parser::strings`] then says whether it held strings only.
    fn array(&mut self) -> Result<(), &'static str> {
        self.enter()?;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            self.strings = false;
            return Ok(());
        }
        let mut strings = true;
        loop {
            // Strings (most array elements in tokens: audiences, roles) without a call.
            if self.peek() == Some(b'"') {
                self.string()?;
            } else {
                strings = false;
                self.value()?;
            }
            if self.peek().is_some_and(is_ws) {
                self.skip_ws();
            }
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    if self.peek() != Some(b'"') {
                        self.skip_ws();
                    }
                }
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err("expected ',' or ']' in an array"),
            }
        }
        self.depth -= 1;
        self.strings = strings;
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, &'static str> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = char::from(self.bump().ok_or("unexpected end in \\u escape")?)
                .to_digit(16)
                .ok_or("invalid \\u escape")?;
            v = v * 16 + d;
        }
        Ok(v)
    }

    /// At an opening quote: checks the string, moves past its closing quote and returns where
    /// its raw text ends; [`Parser::escaped`] says whether it had escapes. Plain characters are
    /// passed over eight at a time; UTF-8 was checked for the whole document already.
    #[inline(always)]
    fn string(&mut self) -> Result<usize, &'static str> {
        let mut pos = self.pos + 1;
        self.escaped = false;
        loop {
            pos = skip_plain(self.s, pos, needs_look);
            match self.s.get(pos) {
                Some(b'"') => {
                    self.pos = pos + 1;
                    return Ok(pos);
                }
                Some(b'\\') => {
                    self.escaped = true;
                    pos = self.escape(pos)?;
                }
                Some(0x00..=0x1f) => return Err("control character in a string"),
                Some(_) => pos += 1,
                None => return Err("unterminated string"),
            }
        }
    }

    /// Checks the escape at `at` (a backslash); returns the position after it.
    #[cold]
    fn escape(&mut self, at: usize) -> Result<usize, &'static str> {
        self.pos = at + 1;
        match self.bump().ok_or("unterminated string")? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
            b'u' => {
                let cp = self.hex4()?;
                if (0xDC00..0xE000).contains(&cp) {
                    return Err("lone low surrogate in a string");
                }
                if (0xD800..0xDC00).contains(&cp) {
                    if self.bump() != Some(b'\\') || self.bump() != Some(b'u') {
                        return Err("lone high surrogate in a string");
                    }
                    let lo = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return Err("lone high surrogate in a string");
                    }
                }
            }
            _ => return Err("invalid escape in a string"),
        }
        Ok(self.pos)
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), &'static str> {
        let end = self
            .pos
            .checked_add(word.len())
            .ok_or("internal: overflow")?;
        if self.s.get(self.pos..end) != Some(word) {
            return Err("invalid literal");
        }
        self.pos = end;
        Ok(())
    }

    /// Moves past a run of ASCII digits, eight a step while there are eight bytes; returns how
    /// many there were.
    fn digits(&mut self) -> usize {
        let start = self.pos;
        let mut pos = self.pos;
        while let Some(w) = word_at(self.s, pos) {
            let others = not_digits(w);
            if others != 0 {
                pos += (others.trailing_zeros() / 8) as usize;
                self.pos = pos;
                return pos - start;
            }
            pos += 8;
        }
        while let Some(b'0'..=b'9') = self.s.get(pos) {
            pos += 1;
        }
        self.pos = pos;
        pos - start
    }

    fn number(&mut self) -> Result<(), &'static str> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let mut int_digits = 1;
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if matches!(self.peek(), Some(b'0'..=b'9')) {
                    return Err("leading zero in a number");
                }
            }
            Some(b'1'..=b'9') => {
                int_digits = self.digits();
            }
            _ => return Err("invalid number"),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err("invalid number");
            }
        }
        let mut exponent = false;
        if matches!(self.peek(), Some(b'e' | b'E')) {
            exponent = true;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err("invalid number");
            }
        }
        // A number of magnitude 1e308 or more (`1e400`, 309 digits) is refused: serde_json refuses
        // what overflows f64, and near f64::MAX (1.8e308) its arithmetic overflows before the
        // value does; every reader of the verified claims must read the same document, so
        // Tollgate is the stricter. Only an exponent or 308 integer digits and more can round to
        // 1e308, so ordinary numbers are not converted.
        if exponent || int_digits >= 308 {
            let text = self.text.get(start..self.pos).unwrap_or_default();
            if !text.parse::<f64>().is_ok_and(|n| n.abs() < 1e308) {
                return Err("number out of range");
            }
        }
        Ok(())
    }
}

/// Whether `b` is JSON whitespace.
#[inline(always)]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Moves over already-checked JSON without checking it again.
struct Skipper<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Skipper<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Between an array's elements: past whitespace and a comma, to the next element's first
    /// byte; `None` at the closing bracket (or the end).
    fn next_element(&mut self) -> Option<()> {
        self.skip_ws();
        match self.peek()? {
            b',' => {
                self.pos += 1;
                self.skip_ws();
            }
            b']' => return None,
            _ => {}
        }
        Some(())
    }

    /// At an opening quote: moves past the closing one; says whether there were escapes.
    fn skip_string(&mut self) -> Option<bool> {
        self.pos += 1;
        let mut escaped = false;
        loop {
            self.pos = skip_plain(self.s, self.pos, quotes_or_backslashes);
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    return Some(escaped);
                }
                b'\\' => {
                    escaped = true;
                    self.pos += 2;
                }
                _ => self.pos += 1,
            }
        }
    }

    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string().map(|_| ()),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.skip_string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.pos += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.pos += 1;
                }
            }
            _ => {
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                ) {
                    self.pos += 1;
                }
                Some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of digits ends at the first byte that is not one, whatever its value and wherever
    /// it falls in a word, as a byte-at-a-time count says.
    #[test]
    fn digits_stop_at_the_first_other_byte() {
        for len in 0..24 {
            for at in 0..=len {
                for byte in 0..=255u8 {
                    let mut s: Vec<u8> = (0..len).map(|i| b'0' + (i % 10) as u8).collect();
                    if at < len {
                        s[at] = byte;
                    }
                    // A byte above the first non-digit: a carry must not hide the first.
                    if at + 1 < len {
                        s[at + 1] = byte.wrapping_add(7);
                    }
                    let want = s.iter().take_while(|b| b.is_ascii_digit()).count();
                    let mut p = Parser {
                        text: "",
                        s: &s,
                        pos: 0,
                        depth: 0,
                        max_depth: 1,
                        escaped: false,
                        strings: false,
                    };
                    assert_eq!(p.digits(), want, "{byte:#04x} at {at} of {len}");
                    assert_eq!(p.pos, want);
                }
            }
        }
    }

    fn ok(s: &str) -> Object<'_> {
        parse_object(s.as_bytes(), 16).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn err(s: &[u8]) -> &'static str {
        match parse_object(s, 16) {
            Ok(_) => panic!("accepted {:?}", String::from_utf8_lossy(s)),
            Err(e) => e,
        }
    }

    #[test]
    fn reads_members_and_nested_paths() {
        let o = ok(r#" {"a":1, "b" : "x\"y", "c":{"d":[true,null,{"e":-1.5e3}]}, "f":[]} "#);
        assert_eq!(o.get("a").unwrap().as_f64(), Some(1.0));
        assert_eq!(o.get("b").unwrap().as_str().unwrap().to_cow(), "x\"y");
        let d: Vec<Kind> = o
            .path(["c", "d"])
            .unwrap()
            .as_array()
            .unwrap()
            .map(|v| v.kind())
            .collect();
        assert_eq!(d, [Kind::Bool, Kind::Null, Kind::Object]);
        assert_eq!(o.get("f").unwrap().as_array().unwrap().count(), 0);
        assert!(o.get("zz").is_none());
        let names: Vec<String> = o.members().map(|(k, _)| k.to_cow().into_owned()).collect();
        assert_eq!(names, ["a", "b", "c", "f"]);
    }

    #[test]
    fn unescapes_including_surrogate_pairs() {
        let o = ok(r#"{"k":"\u0061\n\ud83d\ude00\/"}"#);
        let s = o.get("k").unwrap().as_str().unwrap();
        assert_eq!(s.to_cow(), "a\n\u{1F600}/");
        assert!(s.eq_str("a\n\u{1F600}/"));
        assert!(o.get("\u{6b}").is_some());
    }

    #[test]
    fn rejects_duplicates_even_when_escaped_and_in_wide_objects() {
        assert_eq!(err(br#"{"alg":"a","alg":"b"}"#), "duplicate member name");
        assert_eq!(
            err(br#"{"alg":"a","\u0061lg":"b"}"#),
            "duplicate member name"
        );
        assert_eq!(err(br#"{"x":{"a":1,"a":2}}"#), "duplicate member name");
        let mut wide = String::from("{");
        for i in 0..40 {
            wide.push_str(&format!("\"k{i}\":{i},"));
        }
        ok(&format!("{}\"end\":0}}", wide));
        assert_eq!(
            err(format!("{}\"k3\":0}}", wide).as_bytes()),
            "duplicate member name"
        );
    }

    #[test]
    fn duplicates_are_refused_on_both_sides_of_every_room() {
        // Around 16 (a nested object's room, and the most names kept once one has escapes), 64
        // (the top level's) and past both (the hash set); names alike but for their middle share
        // a fingerprint; `\u006b` is `k`.
        for width in [1, 15, 16, 17, 20, 63, 64, 65, 100] {
            for (nested, escapes) in [(false, false), (false, true), (true, false), (true, true)] {
                let wrap = |members: &[String]| {
                    let object = format!("{{{}}}", members.join(","));
                    if nested {
                        format!("{{\"outer\":{object}}}")
                    } else {
                        object
                    }
                };
                let names: Vec<String> = (0..width)
                    .map(|i| match i % if escapes { 3 } else { 2 } {
                        0 => format!("\"k{i}\":0"),
                        1 => format!("\"https://{i:04}.example/claims\":0"),
                        _ => format!("\"\\u006b{i}\":0"),
                    })
                    .collect();
                ok(&wrap(&names));
                for (first, again) in [
                    (0, "\"k0\":1".to_owned()),
                    (0, "\"\\u006b0\":1".to_owned()),
                    (width - 1, names[width - 1].clone()),
                    (width / 2, names[width / 2].replace(":0", ":1")),
                ] {
                    let mut doubled = names.clone();
                    doubled.push(again.clone());
                    assert_eq!(
                        err(wrap(&doubled).as_bytes()),
                        "duplicate member name",
                        "width {width}, nested {nested}, escapes {escapes}: name {first} again \
                         as {again}"
                    );
                }
            }
        }
    }

    #[test]
    fn rejects_non_rfc8259_input() {
        for bad in [
            &b"[]"[..],
            b"\"s\"",
            b"{",
            b"{}x",
            b"{} {}",
            b"{\"a\":1,}",
            b"{\"a\":01}",
            b"{\"a\":1.}",
            b"{\"a\":.5}",
            b"{\"a\":+1}",
            b"{\"a\":1e}",
            b"{\"a\":tru}",
            b"{\"a\":'x'}",
            b"{a:1}",
            b"{\"a\":\"\x01\"}",
            b"{\"a\":\"\\x\"}",
            b"{\"a\":\"\\ud800\"}",
            b"{\"a\":\"\\udc00\"}",
            b"{\"a\":\"\xff\"}",
            b"\xef\xbb\xbf{}",
            b"{\"a\":NaN}",
            b"{\"a\":[1,]}",
            b"{/*c*/}",
        ] {
            err(bad);
        }
    }

    /// The reader passes over strings eight bytes at a time: a byte that matters is seen at
    /// every offset, in strings of every length around the step.
    #[test]
    fn every_offset_of_a_string_is_checked() {
        for len in 0..40 {
            for at in 0..len {
                let mut s = vec![b'a'; len];
                for (byte, ok) in [
                    (0x01u8, false),
                    (0x1f, false),
                    (b'\\', false),
                    (0x20, true),
                    (0x7f, true),
                ] {
                    s[at] = byte;
                    let doc = [&b"{\"k\":\""[..], &s, b"\"}"].concat();
                    assert_eq!(parse_object(&doc, 4).is_ok(), ok, "{len} {at} {byte:#x}");
                }
                s[at] = b'"';
                let doc = [&b"{\"k\":\""[..], &s, b"\"}"].concat();
                assert!(parse_object(&doc, 4).is_err(), "{len} {at} quote");
                s[at] = b'a';
                let doc = [&b"{\"k\":\""[..], &s, b"\"}"].concat();
                let o = parse_object(&doc, 4).unwrap();
                assert_eq!(o.get("k").unwrap().as_str().unwrap().raw().len(), len);
            }
        }
    }

    #[test]
    fn whole_numbers_read_as_the_float_parser_reads_them() {
        for text in [
            "0",
            "-0",
            "7",
            "1700000000",
            "-1700000000",
            "999999999999999",
            "1000000000000000",
            "9007199254740993",
            "1.5",
            "1e3",
            "-2.5E-3",
        ] {
            let doc = format!("{{\"n\":{text}}}");
            let o = parse_object(doc.as_bytes(), 4).unwrap();
            let got = o.get("n").unwrap().as_f64().unwrap();
            let want: f64 = text.parse().unwrap();
            assert_eq!(got.to_bits(), want.to_bits(), "{text}");
        }
        // Every length from 1 to 16 digits, with every digit in every place.
        let mut n: u64 = 1;
        for len in 1..=16u32 {
            for d in 0..10u64 {
                let text = format!("{}", n * d + (n - 1) / 9 * (9 - d));
                let doc = format!("{{\"n\":{text}}}");
                let o = parse_object(doc.as_bytes(), 4).unwrap();
                let want: f64 = text.parse().unwrap();
                assert_eq!(o.get("n").unwrap().as_f64(), Some(want), "{text} ({len})");
            }
            n *= 10;
        }
        assert_eq!(whole_number(b"12345678"), Some(12_345_678));
        assert_eq!(whole_number(b"1234567:"), None);
        assert_eq!(whole_number(b"12/45678"), None);
        assert_eq!(whole_number(b""), None);
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let every_byte: String = (0u8..0x80).map(char::from).collect();
        for s in ["", "plain", "a\"b\\c/d", "Renée ☃ 𝄞", every_byte.as_str()] {
            let mut out = String::new();
            push_string(&mut out, s);
            assert_eq!(out, serde_json::to_string(s).unwrap());
        }
    }

    #[test]
    fn caps_nesting_depth() {
        let deep = |n: usize| format!("{}{}{}", "{\"a\":".repeat(n), "1", "}".repeat(n));
        assert!(parse_object(deep(4).as_bytes(), 4).is_ok());
        assert_eq!(
            parse_object(deep(5).as_bytes(), 4),
            Err("nesting is too deep")
        );
        let arrays = format!("{{\"a\":{}{}}}", "[".repeat(10), "]".repeat(10));
        assert_eq!(
            parse_object(arrays.as_bytes(), 8),
            Err("nesting is too deep")
        );
    }

    #[test]
    fn no_caller_can_ask_for_deeper_nesting_than_the_limit() {
        let nested =
            |levels: usize| format!("{}1{}", r#"{"a":"#.repeat(levels), "}".repeat(levels));
        let at = nested(crate::limits::MAX_JSON_DEPTH);
        assert!(parse_object(at.as_bytes(), usize::MAX).is_ok());
        let past = nested(crate::limits::MAX_JSON_DEPTH + 1);
        assert_eq!(
            parse_object(past.as_bytes(), usize::MAX).unwrap_err(),
            TOO_DEEP
        );
        // 100,000 levels would overflow the stack of a recursive reader without the cap.
        let deep = format!(r#"{{"a":{}"#, "[".repeat(100_000));
        assert_eq!(
            parse_object(deep.as_bytes(), usize::MAX).unwrap_err(),
            TOO_DEEP
        );
    }

    #[test]
    fn numbers_no_f64_holds_are_refused_as_serde_json_refuses_them() {
        let largest = format!("{}", f64::MAX); // 309 digits: serde_json overflows on it
        for n in [
            "1e400",
            "-1e309",
            "1.5E+999",
            &"9".repeat(400),
            &"9".repeat(309),
            &largest,
        ] {
            let text = format!(r#"{{"n":{n}}}"#);
            assert_eq!(
                parse_object(text.as_bytes(), 8).unwrap_err(),
                "number out of range",
                "{n}"
            );
            assert!(
                serde_json::from_str::<serde_json::Value>(&text).is_err(),
                "{n}"
            );
        }
        // Below 1e308 (308 nines round to it: refused, whatever the sign), and underflow (to
        // zero, as serde_json reads it).
        let nines = "9".repeat(308);
        for n in [nines.clone(), format!("-{nines}")] {
            let text = format!(r#"{{"n":{n}}}"#);
            assert_eq!(
                parse_object(text.as_bytes(), 8).unwrap_err(),
                "number out of range"
            );
        }
        for n in ["9.99e307", "-9.99e307", "1e-400", "-0e5", &"9".repeat(307)] {
            let text = format!(r#"{{"n":{n}}}"#);
            assert!(parse_object(text.as_bytes(), 8).is_ok(), "{n}");
            assert!(
                serde_json::from_str::<serde_json::Value>(&text).is_ok(),
                "{n}"
            );
        }
    }
}
