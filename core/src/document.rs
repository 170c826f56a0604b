//! Typed reading of the JSON documents Tollgate is configured with (the policy first), over the
//! strict reader of [`crate::json`]: members read by name, unknown members refused before any
//! other fault, and every fault naming its place (`providers[0].algorithms[2]`) in the words
//! serde uses for the same fault (`unknown field`, `missing field`, `invalid type`).
//!
//! The core reads its own documents with it (policy, key snapshot, stored records, JWKs), and so
//! may hosts (the WebAssembly package reads its options with it). It replaces serde's derived
//! deserializers: the document is already checked (grammar, unique names, depth) when it gets
//! here, so what is left is small, and in the WebAssembly module it is a fraction of the size of
//! serde's code for the same types (README, "Size").
//!
//! A member that is `null` counts as absent only where the member is optional
//! ([`Fields::optional`]); elsewhere it is a type error, as with serde.

use crate::json::{Kind, Object, Value};
use std::collections::BTreeMap;

/// A fault in a document: where (`routes[3].method`, or `(document)`) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The place: `routes[3].method`, or `(document)` for the document itself.
    pub at: String,
    /// What is wrong, in serde's words where serde has words for it.
    pub reason: String,
}

impl Fault {
    /// `at: reason`, or the reason alone when the fault is in the document itself.
    pub fn describe(&self) -> String {
        if self.at == DOCUMENT {
            self.reason.clone()
        } else {
            format!("{}: {}", self.at, self.reason)
        }
    }
}

/// What a reader gives.
pub type Read<T> = Result<T, Fault>;

/// The place of the document itself.
const DOCUMENT: &str = "(document)";

/// A fault at `at` (the document itself when `at` is empty).
pub fn fault(at: &str, reason: impl Into<String>) -> Fault {
    Fault {
        at: if at.is_empty() { DOCUMENT } else { at }.to_owned(),
        reason: reason.into(),
    }
}

/// The fault of a value of the wrong type.
pub fn invalid_type(v: Value<'_>, at: &str, expected: &str) -> Fault {
    let raw = shown(v);
    let found = match v.kind() {
        Kind::Object => "map".to_owned(),
        Kind::Array => "sequence".to_owned(),
        // A snapshot can hold secrets, and one written in the wrong place must not reach a log:
        // only a string short enough to be none of them (peppers and HMAC keys are 16 and 32
        // bytes and more) is shown.
        Kind::String if v.as_raw().len() <= MAX_SHOWN_STRING + 2 => format!("string {raw}"),
        Kind::String => format!("string of {} bytes", v.as_raw().len() - 2),
        Kind::Number if is_integer(v.as_raw()) => format!("integer `{raw}`"),
        Kind::Number => format!("floating point `{raw}`"),
        Kind::Bool => format!("boolean `{raw}`"),
        Kind::Null => "null".to_owned(),
    };
    fault(at, format!("invalid type: {found}, expected {expected}"))
}

/// The longest string (in bytes, without its quotes) a type error shows.
const MAX_SHOWN_STRING: usize = 12;

/// A value's text as a message shows it: at most 64 bytes of it (documents may come from a
/// store or the network, and a message should not carry a megabyte of their text).
fn shown(v: Value<'_>) -> String {
    crate::error::truncated(v.as_raw(), 64)
}

/// `` `a`, `b` or `c` `` as serde lists what it expected.
fn expected_names(names: &[&str]) -> String {
    match names {
        [] => "nothing".to_owned(),
        [one] => format!("`{one}`"),
        _ => {
            let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            format!("one of {}", list.join(", "))
        }
    }
}

/// Whether a JSON number's text is an integer (no fraction, no exponent).
fn is_integer(raw: &str) -> bool {
    !raw.bytes().any(|b| matches!(b, b'.' | b'e' | b'E'))
}

/// Reads `bytes`, one JSON object of at most `max_depth` levels, with `read`. The error is the
/// first fault's text: the grammar's or the depth's, or `read`'s with its place.
pub fn read_object<T>(
    bytes: &[u8],
    max_depth: usize,
    read: impl FnOnce(Object<'_>) -> Read<T>,
) -> Result<T, String> {
    let object = crate::json::parse_object(bytes, max_depth)
        .map_err(|r| crate::json::describe(r, max_depth))?;
    read(object).map_err(|f| f.describe())
}

/// The members of one object, read by name.
pub struct Fields<'a> {
    object: Object<'a>,
    at: String,
}

impl<'a> Fields<'a> {
    /// The members of `value`, which must be an object whose members are all in `names`.
    pub fn new(value: Value<'a>, at: &str, names: &[&str]) -> Read<Fields<'a>> {
        Fields::open(value, at).and_then(|f| Fields::of(f.object, at, names))
    }

    /// The members of `value`, which must be an object; members not asked for are ignored (for
    /// formats that allow members Tollgate does not read, such as a JWK's `x5c`).
    pub fn open(value: Value<'a>, at: &str) -> Read<Fields<'a>> {
        let object = value
            .as_object()
            .ok_or_else(|| invalid_type(value, at, "an object"))?;
        Ok(Fields {
            object,
            at: at.to_owned(),
        })
    }

    /// The members of `object` (all of them in `names`); `at` is empty for the document itself.
    pub fn of(object: Object<'a>, at: &str, names: &[&str]) -> Read<Fields<'a>> {
        Fields::checked(object, at, &[], names)
    }

    /// The members of a document whose envelope members (read by the caller) sit beside its
    /// own `names`.
    pub fn enveloped(object: Object<'a>, envelope: &[&str], names: &[&str]) -> Read<Fields<'a>> {
        Fields::checked(object, "", envelope, names)
    }

    fn checked(
        object: Object<'a>,
        at: &str,
        envelope: &[&str],
        names: &[&str],
    ) -> Read<Fields<'a>> {
        for (name, _) in object.members() {
            let known = |n: &&str| name.eq_str(n);
            if !names.iter().any(known) && !envelope.iter().any(known) {
                return Err(fault(
                    at,
                    format!(
                        "unknown field `{}`, expected {}",
                        crate::error::truncated(&name.to_cow(), 64),
                        expected_names(names)
                    ),
                ));
            }
        }
        Ok(Fields {
            object,
            at: at.to_owned(),
        })
    }

    /// The place of member `name`.
    fn place(&self, name: &str) -> String {
        if self.at.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.at)
        }
    }

    /// Member `name`, which must be present.
    pub fn required<T>(
        &self,
        name: &str,
        read: impl FnOnce(Value<'a>, &str) -> Read<T>,
    ) -> Read<T> {
        match self.object.get(name) {
            Some(v) => read(v, &self.place(name)),
            None => Err(fault(&self.at, format!("missing field `{name}`"))),
        }
    }

    /// Member `name`, if present and not `null`.
    pub fn optional<T>(
        &self,
        name: &str,
        read: impl FnOnce(Value<'a>, &str) -> Read<T>,
    ) -> Read<Option<T>> {
        match self.object.get(name) {
            Some(v) if v.kind() != Kind::Null => read(v, &self.place(name)).map(Some),
            _ => Ok(None),
        }
    }

    /// Member `name`, or `default` when it is absent.
    pub fn or<T>(
        &self,
        name: &str,
        default: T,
        read: impl FnOnce(Value<'a>, &str) -> Read<T>,
    ) -> Read<T> {
        match self.object.get(name) {
            Some(v) => read(v, &self.place(name)),
            None => Ok(default),
        }
    }

    /// Member `name`, or `T::default()` when it is absent.
    pub fn or_default<T: Default>(
        &self,
        name: &str,
        read: impl FnOnce(Value<'a>, &str) -> Read<T>,
    ) -> Read<T> {
        self.or(name, T::default(), read)
    }
}

/// A string.
pub fn string(v: Value<'_>, at: &str) -> Read<String> {
    v.as_str()
        .map(|s| s.to_cow().into_owned())
        .ok_or_else(|| invalid_type(v, at, "a string"))
}

/// A finite number.
pub fn number(v: Value<'_>, at: &str) -> Read<f64> {
    match v.as_f64() {
        Some(n) if n.is_finite() => Ok(n),
        Some(_) => Err(fault(
            at,
            format!("invalid value: `{}`, expected a finite number", shown(v)),
        )),
        None => Err(invalid_type(v, at, "a number")),
    }
}

/// `true` or `false`.
pub fn boolean(v: Value<'_>, at: &str) -> Read<bool> {
    v.as_bool().ok_or_else(|| invalid_type(v, at, "a boolean"))
}

/// A non-negative integer that fits in 64 bits.
pub fn u64(v: Value<'_>, at: &str) -> Read<u64> {
    let raw = v.as_raw();
    if v.kind() != Kind::Number || !is_integer(raw) {
        return Err(invalid_type(v, at, "u64"));
    }
    raw.parse::<u64>().map_err(|_| {
        fault(
            at,
            format!("invalid value: integer `{}`, expected u64", shown(v)),
        )
    })
}

/// A non-negative integer that fits in 32 bits.
pub fn u32(v: Value<'_>, at: &str) -> Read<u32> {
    let n = u64(v, at)?;
    core::primitive::u32::try_from(n)
        .map_err(|_| fault(at, format!("invalid value: integer `{n}`, expected u32")))
}

/// A non-negative integer that fits in a `usize`.
pub fn usize(v: Value<'_>, at: &str) -> Read<usize> {
    let n = u64(v, at)?;
    core::primitive::usize::try_from(n)
        .map_err(|_| fault(at, format!("invalid value: integer `{n}`, expected usize")))
}

/// An array, each element read by `read` at `at[i]`.
pub fn list<'a, T>(
    v: Value<'a>,
    at: &str,
    mut read: impl FnMut(Value<'a>, &str) -> Read<T>,
) -> Read<Vec<T>> {
    let elements = v
        .as_array()
        .ok_or_else(|| invalid_type(v, at, "a sequence"))?;
    // Loops rather than `collect`: per element type, a fraction of the code.
    let mut out = Vec::new();
    for (i, e) in elements.enumerate() {
        out.push(read(e, &format!("{at}[{i}]"))?);
    }
    Ok(out)
}

/// An array of strings.
pub fn strings(v: Value<'_>, at: &str) -> Read<Vec<String>> {
    list(v, at, string)
}

/// An array of at least one string, for an allow-list whose empty form would read as "no
/// restriction" (`"issuers": []` from a configuration left empty accepts any issuer).
pub fn allow_list(v: Value<'_>, at: &str) -> Read<Vec<String>> {
    let list = strings(v, at)?;
    if list.is_empty() {
        return Err(fault(
            at,
            "an empty list would accept anything: name at least one, or leave the member out",
        ));
    }
    Ok(list)
}

/// A string, as `one` of it, or an array of strings, as `many` of them; `expected` names both
/// for the error (`a method or an array of methods`).
pub fn one_or_many<T>(
    v: Value<'_>,
    at: &str,
    expected: &str,
    one: impl FnOnce(String) -> T,
    many: impl FnOnce(Vec<String>) -> T,
) -> Read<T> {
    match v.kind() {
        Kind::String => string(v, at).map(one),
        Kind::Array => strings(v, at).map(many),
        _ => Err(invalid_type(v, at, expected)),
    }
}

/// An object as a map from member name to its value read by `read` at `at.name`.
pub fn map<'a, T>(
    v: Value<'a>,
    at: &str,
    mut read: impl FnMut(Value<'a>, &str) -> Read<T>,
) -> Read<BTreeMap<String, T>> {
    let object = v.as_object().ok_or_else(|| invalid_type(v, at, "a map"))?;
    // Inserted one by one (names are unique): `collect` would sort, in code of its own per
    // value type.
    let mut out = BTreeMap::new();
    for (name, value) in object.members() {
        let name = name.to_cow().into_owned();
        let value = read(value, &format!("{at}.{name}"))?;
        out.insert(name, value);
    }
    Ok(out)
}

/// One of the names in `variants`, as its value.
pub fn variant<T: Copy>(v: Value<'_>, at: &str, variants: &[(&str, T)]) -> Read<T> {
    let s = v.as_str().ok_or_else(|| invalid_type(v, at, "a string"))?;
    variants
        .iter()
        .find(|(name, _)| s.eq_str(name))
        .map(|(_, value)| *value)
        .ok_or_else(|| {
            let names: Vec<&str> = variants.iter().map(|(n, _)| *n).collect();
            fault(
                at,
                format!(
                    "unknown variant `{}`, expected {}",
                    crate::error::truncated(&s.to_cow(), 64),
                    expected_names(&names)
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse_object;

    fn doc(text: &str) -> Object<'_> {
        parse_object(text.as_bytes(), 8).unwrap()
    }

    fn value(text: &str) -> Value<'_> {
        doc(text).get("v").unwrap()
    }

    #[test]
    fn unknown_members_are_refused_first_with_what_was_expected() {
        let o = doc(r#"{"a": 1, "typo": true}"#);
        let e = Fields::of(o, "", &["a", "b"]).err().unwrap();
        assert_eq!(e.at, "(document)");
        assert_eq!(e.reason, "unknown field `typo`, expected one of `a`, `b`");
        let o = doc(r#"{"x": {"b\u0031": 1}}"#);
        let e = Fields::new(o.get("x").unwrap(), "x", &["b"]).err().unwrap();
        assert_eq!(
            (e.at.as_str(), e.reason.as_str()),
            ("x", "unknown field `b1`, expected `b`")
        );
        // An escaped spelling of a known name is that name.
        let o = doc(r#"{"\u0061": 1}"#);
        let f = Fields::of(o, "", &["a"]).unwrap();
        assert_eq!(f.required("a", u64), Ok(1));
    }

    #[test]
    fn members_are_required_optional_or_defaulted() {
        let o = doc(r#"{"s": "x", "n": null}"#);
        let f = Fields::of(o, "p[0]", &["s", "n", "m"]).unwrap();
        assert_eq!(f.required("s", string), Ok("x".to_owned()));
        let missing = f.required("m", string).unwrap_err();
        assert_eq!(
            (missing.at.as_str(), missing.reason.as_str()),
            ("p[0]", "missing field `m`")
        );
        assert_eq!(f.optional("n", string), Ok(None));
        assert_eq!(f.optional("m", string), Ok(None));
        assert_eq!(f.or("m", 7, u64), Ok(7));
        // null where a value is expected is a type error, named at the member.
        let e = f.or_default("n", strings).unwrap_err();
        assert_eq!(e.at, "p[0].n");
        assert_eq!(e.reason, "invalid type: null, expected a sequence");
    }

    #[test]
    fn integers_are_whole_non_negative_and_in_range() {
        assert_eq!(u64(value(r#"{"v": 0}"#), "v"), Ok(0));
        assert_eq!(
            u64(value(r#"{"v": 18446744073709551615}"#), "v"),
            Ok(u64::MAX)
        );
        for (text, reason) in [
            (r#"{"v": -1}"#, "invalid value: integer `-1`, expected u64"),
            (
                r#"{"v": 18446744073709551616}"#,
                "invalid value: integer `18446744073709551616`, expected u64",
            ),
            (
                r#"{"v": 1.0}"#,
                "invalid type: floating point `1.0`, expected u64",
            ),
            (
                r#"{"v": 1e2}"#,
                "invalid type: floating point `1e2`, expected u64",
            ),
            (r#"{"v": "1"}"#, "invalid type: string \"1\", expected u64"),
            (
                r#"{"v": "twelve bytes"}"#,
                "invalid type: string \"twelve bytes\", expected u64",
            ),
            // Longer strings could be secrets in the wrong place: only their length is shown.
            (
                r#"{"v": "c2VjcmV0LXBlcHBlci0zMi1ieXRlcy4uLi4"}"#,
                "invalid type: string of 35 bytes, expected u64",
            ),
            (
                r#"{"v": true}"#,
                "invalid type: boolean `true`, expected u64",
            ),
        ] {
            assert_eq!(u64(value(text), "v").unwrap_err().reason, reason, "{text}");
        }
        // A long number is shown in part.
        let long = format!(r#"{{"v": {}}}"#, "9".repeat(300));
        let e = u64(value(&long), "v").unwrap_err();
        assert_eq!(
            e.reason,
            format!("invalid value: integer `{}`, expected u64", "9".repeat(64))
        );
        assert_eq!(u32(value(r#"{"v": 4294967295}"#), "v"), Ok(u32::MAX));
        assert_eq!(
            u32(value(r#"{"v": 4294967296}"#), "v").unwrap_err().reason,
            "invalid value: integer `4294967296`, expected u32"
        );
    }

    #[test]
    fn lists_maps_and_variants_name_the_faulty_element() {
        assert_eq!(
            strings(value(r#"{"v": ["a", "b\"c"]}"#), "v"),
            Ok(vec!["a".to_owned(), "b\"c".to_owned()])
        );
        let e = strings(value(r#"{"v": ["a", 2]}"#), "r.v").unwrap_err();
        assert_eq!(
            (e.at.as_str(), e.reason.as_str()),
            ("r.v[1]", "invalid type: integer `2`, expected a string")
        );
        assert_eq!(
            strings(value(r#"{"v": {}}"#), "v").unwrap_err().reason,
            "invalid type: map, expected a sequence"
        );
        let m = map(value(r#"{"v": {"x": 1, "y": 2}}"#), "v", u64).unwrap();
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            [("x".to_owned(), 1), ("y".to_owned(), 2)]
        );
        let e = map(value(r#"{"v": {"x": "no"}}"#), "v", u64).unwrap_err();
        assert_eq!(e.at, "v.x");
        let kinds = [("one", 1), ("two", 2)];
        assert_eq!(variant(value(r#"{"v": "two"}"#), "v", &kinds), Ok(2));
        assert_eq!(
            variant(value(r#"{"v": "three"}"#), "v", &kinds)
                .unwrap_err()
                .reason,
            "unknown variant `three`, expected one of `one`, `two`"
        );
        assert_eq!(
            variant(value(r#"{"v": []}"#), "v", &kinds)
                .unwrap_err()
                .reason,
            "invalid type: sequence, expected a string"
        );
    }
}
