//! The strict JSON reader against serde_json, on generated documents and on byte-level mutations
//! of them: the reader accepts exactly what serde_json's grammar accepts, less documents with a
//! duplicate member name at any level (compared after unescaping), deeper than the limit, or not
//! an object; and every member it hands back, by iteration, by name or through a member index,
//! is the value serde_json reads.

use proptest::prelude::*;
use serde_json::{Map, Value};
use tollgate::json::{parse_object, parse_object_with, MemberIndex};
use tollgate_tests::strict_json;

const MAX_DEPTH: usize = 16;

/// Renders `v` as JSON with `style` choosing, per character and per gap, whether to escape and
/// where to put whitespace: the same document in many spellings.
fn render(v: &Value, style: &mut impl Iterator<Item = u8>, out: &mut String) {
    let gap =
        |out: &mut String, style: &mut dyn Iterator<Item = u8>| match style.next().unwrap_or(0) % 8
        {
            0 => out.push(' '),
            1 => out.push_str("\n\t "),
            _ => {}
        };
    match v {
        Value::Object(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                gap(out, style);
                render_string(k, style, out);
                gap(out, style);
                out.push(':');
                gap(out, style);
                render(v, style, out);
                gap(out, style);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                gap(out, style);
                render(v, style, out);
            }
            gap(out, style);
            out.push(']');
        }
        Value::String(s) => render_string(s, style, out),
        other => out.push_str(&other.to_string()),
    }
}

fn render_string(s: &str, style: &mut impl Iterator<Item = u8>, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        let must = c == '"' || c == '\\' || (c as u32) < 0x20;
        match (must, style.next().unwrap_or(0) % 6) {
            (_, 0) => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{:04x}", u));
                }
            }
            (true, _) => match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                _ => out.push_str(&format!("\\u{:04X}", c as u32)),
            },
            (false, 1) if c == '/' => out.push_str("\\/"),
            _ => out.push(c),
        }
    }
    out.push('"');
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e15f64..1e15).prop_map(Value::from),
        "\\PC{0,24}".prop_map(Value::String),
        // Strings of the lengths around the reader's eight-byte steps, with the bytes that stop it.
        "[a-z\"\\\\\u{1}\u{1f}é€😀]{0,20}".prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,10}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map("[a-z_:.]{0,12}|\\PC{0,6}", value(), 0..24)
        .prop_map(|m| m.into_iter().collect())
}

fn style() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..256)
}

fn rendered(m: &Map<String, Value>, style: &[u8]) -> String {
    let mut out = String::new();
    render(
        &Value::Object(m.clone()),
        &mut style.iter().copied().cycle(),
        &mut out,
    );
    out
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(512) })]

    /// Every spelling of a generated object is accepted, and every member reads back as
    /// serde_json reads it: in order, by name, and through a member index.
    #[test]
    fn generated_objects_read_back_exactly(m in object(), style in style(), absent in "\\PC{0,8}") {
        let text = rendered(&m, &style);
        let mut index = MemberIndex::default();
        let mut strings = Vec::new();
        let object = parse_object_with(text.as_bytes(), MAX_DEPTH, |member| {
            index.record(&member);
            strings.push(member.value_is_strings());
        })
        .map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
        // What the reader says of each value's being a non-empty array of strings, told as it
        // read them, is what the value is.
        let want_strings: Vec<bool> = m
            .values()
            .map(|v| matches!(v, Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_string)))
            .collect();
        prop_assert_eq!(strings, want_strings);
        let names: Vec<String> = object.members().map(|(k, _)| k.to_cow().into_owned()).collect();
        prop_assert_eq!(names, m.keys().cloned().collect::<Vec<_>>());
        for (name, want) in &m {
            // Through serde_json's own reading of the same number text: without its
            // float_roundtrip feature it rounds some long decimals differently from Rust's parse.
            let want: Value = serde_json::from_str(&want.to_string()).unwrap();
            let by_name = object.get(name).map(|v| v.to_json());
            let indexed = index.get(&object, name).map(|v| v.to_json());
            prop_assert_eq!(by_name.as_ref(), Some(&want));
            prop_assert_eq!(indexed.as_ref(), Some(&want));
            // An array's strings, in order, the other elements passed over.
            let strings = object.get(name).and_then(|v| v.string_elements()).map(|items| {
                items.map(|s| s.to_cow().into_owned()).collect::<Vec<_>>()
            });
            let want_strings = want.as_array().map(|a| {
                a.iter().filter_map(Value::as_str).map(str::to_owned).collect::<Vec<_>>()
            });
            prop_assert_eq!(strings, want_strings);
        }
        if !m.contains_key(&absent) {
            prop_assert!(object.get(&absent).is_none());
            prop_assert!(index.get(&object, &absent).is_none());
        }
    }

    /// A name given twice, however each is spelled, is refused at the top level and nested.
    #[test]
    fn duplicate_names_are_refused(
        m in object().prop_filter("needs a member", |m| !m.is_empty()),
        pick in any::<prop::sample::Index>(),
        style in style(),
        nested in any::<bool>(),
    ) {
        let name = pick.get(&m.keys().collect::<Vec<_>>()).to_string();
        let mut again = String::new();
        render_string(&name, &mut style.iter().copied().rev().cycle(), &mut again);
        let text = rendered(&m, &style);
        let doubled = format!("{},{again}:null}}", &text[..text.len() - 1]);
        let doc = if nested { format!("{{\"outer\":[{doubled}]}}") } else { doubled };
        prop_assert_eq!(parse_object(doc.as_bytes(), MAX_DEPTH).err(), Some("duplicate member name"));
    }

    /// Objects of up to 90 members whose names often share a fingerprint (the long ones differ
    /// only in their middle bytes), spelled with or without escapes: a name given twice is
    /// refused wherever the two fall, at the top level (which keeps 64 names on the stack) and
    /// nested (16), past those counts (a hash set) and with escapes (full comparisons); distinct
    /// names never are.
    #[test]
    fn wide_objects_refuse_exactly_their_duplicates(
        names in prop::collection::btree_set(
            "[a-z]{1,2}|https://[a-e]{3}.example/claims|[a-z_]{9,14}", 0..90),
        repeat in prop::option::of((any::<prop::sample::Index>(), any::<prop::sample::Index>())),
        style in style(),
        plain in any::<bool>(),
        nested in any::<bool>(),
    ) {
        // Half the documents have no escapes at all: those keep every name in their room.
        let style = if plain { vec![2] } else { style };
        let mut names: Vec<&String> = names.iter().collect();
        let repeated = match repeat {
            Some((which, at)) if !names.is_empty() => {
                let name = *which.get(&names);
                names.insert(at.index(names.len() + 1), name);
                true
            }
            _ => false,
        };
        let mut style = style.iter().copied().cycle();
        let mut doc = String::from("{");
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                doc.push(',');
            }
            render_string(name, &mut style, &mut doc);
            doc.push_str(":null");
        }
        doc.push('}');
        let doc = if nested { format!("{{\"outer\":[{doc}]}}") } else { doc };
        let got = parse_object(doc.as_bytes(), MAX_DEPTH).err();
        prop_assert_eq!(got, repeated.then_some("duplicate member name"), "{}", doc);
    }

    /// Byte-level damage: the reader accepts exactly when a strict reading of the damaged bytes
    /// does (serde_json's grammar, unique names, the depth limit, an object at the top).
    #[test]
    fn damaged_documents_are_judged_as_serde_json_judges_them(
        m in object(),
        style in style(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
    ) {
        let mut bytes = rendered(&m, &style).into_bytes();
        for (at, byte, how) in edits {
            let i = at.index(bytes.len() + 1);
            match how {
                0 if i < bytes.len() => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ if i < bytes.len() => { bytes.remove(i); }
                _ => bytes.push(byte),
            }
        }
        if let Some(expected) = strict_json::accepts(&bytes, MAX_DEPTH) {
            let got = parse_object(&bytes, MAX_DEPTH);
            prop_assert_eq!(got.is_ok(), expected, "{:?} {:?}", String::from_utf8_lossy(&bytes), got);
        }
    }
}
