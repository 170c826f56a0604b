//! A reference for the strict JSON reader (`tollgate::json`): serde_json's grammar, with what a
//! strict reader adds (no member name twice in any object, compared after unescaping; a nesting
//! limit; an object at the top). The `json` suite and the `json_strict` fuzz target both judge the
//! reader against it.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;

/// What serde_json makes of a document, with what a strict reader adds: the nesting depth and
/// whether any object repeats a name. Strings are read in full, so serde_json checks their
/// escapes and surrogates as the reader must.
struct Shape {
    depth: usize,
    object: bool,
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Shape, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Shape;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
                Ok(Shape::leaf())
            }
            fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
                Ok(Shape::leaf())
            }
            fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
                Ok(Shape::leaf())
            }
            fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
                Ok(Shape::leaf())
            }
            fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
                Ok(Shape::leaf())
            }
            fn visit_unit<E>(self) -> Result<Shape, E> {
                Ok(Shape::leaf())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
                let mut depth = 0;
                while let Some(item) = seq.next_element::<Shape>()? {
                    depth = depth.max(item.depth);
                }
                Ok(Shape {
                    depth: depth + 1,
                    object: false,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
                let mut names = HashSet::new();
                let mut depth = 0;
                while let Some(name) = map.next_key::<String>()? {
                    if !names.insert(name) {
                        return Err(de::Error::custom("duplicate member name"));
                    }
                    depth = depth.max(map.next_value::<Shape>()?.depth);
                }
                Ok(Shape {
                    depth: depth + 1,
                    object: true,
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl Shape {
    fn leaf() -> Shape {
        Shape {
            depth: 0,
            object: false,
        }
    }
}

/// Whether a strict reader must accept `bytes` at nesting limit `max_depth`; `None` where
/// serde_json refuses a number for its range alone (the reader checks grammar, not range: a
/// documented difference).
pub fn accepts(bytes: &[u8], max_depth: usize) -> Option<bool> {
    match serde_json::from_slice::<Shape>(bytes) {
        Ok(shape) => Some(shape.object && shape.depth <= max_depth),
        Err(e) if e.to_string().contains("number out of range") => None,
        Err(_) => Some(false),
    }
}
