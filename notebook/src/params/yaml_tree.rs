//! The two passes over a YAML document: the first ([`Shape`]) reads its tree
//! with serde_yaml_ng's own scalar types; the second ([`ValueSeed`]) walks the
//! same tree asking for each scalar's source text, so that plain scalars can be
//! resolved by PyYAML's YAML 1.1 rules ([`super::pyyaml`]).

use indexmap::IndexMap;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::pyyaml::{node_error, pyyaml_resolve, Node};
use crate::python::value::int_from_decimal;
use crate::python::ParamValue;

/// What the first pass learns: the tree, and serde_yaml_ng's own reading of
/// each scalar (kept for tagged and quoted scalars).
#[derive(Debug)]
pub(super) enum Shape {
    Scalar(ParamValue),
    Seq(Vec<Shape>),
    Map(Vec<(Shape, Shape)>),
}

impl Shape {
    pub(super) fn deserialize_from(text: &str) -> Result<Shape, serde_yaml_ng::Error> {
        serde_yaml_ng::Deserializer::from_str(text).deserialize_any(ShapeVisitor)
    }
}

impl<'de> de::Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(ShapeVisitor)
    }
}

struct ShapeVisitor;

impl<'de> Visitor<'de> for ShapeVisitor {
    type Value = Shape;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_unit<E>(self) -> std::result::Result<Shape, E> {
        Ok(Shape::Scalar(ParamValue::Null))
    }
    fn visit_none<E>(self) -> std::result::Result<Shape, E> {
        Ok(Shape::Scalar(ParamValue::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Shape, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Shape, E> {
        Ok(Shape::Scalar(ParamValue::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Shape, E> {
        Ok(Shape::Scalar(ParamValue::Int(v)))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Shape, E> {
        Ok(Shape::Scalar(int_from_decimal(false, &v.to_string())))
    }
    fn visit_i128<E>(self, v: i128) -> std::result::Result<Shape, E> {
        Ok(Shape::Scalar(int_from_decimal(
            v < 0,
            &v.unsigned_abs().to_string(),
        )))
    }
    fn visit_u128<E>(self, v: u128) -> std::result::Result<Shape, E> {
        Ok(Shape::Scalar(int_from_decimal(false, &v.to_string())))
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Shape, E> {
        Ok(Shape::Scalar(ParamValue::Float(v)))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Shape, E> {
        Ok(Shape::Scalar(ParamValue::Str(v.to_string())))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Shape, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Shape>()? {
            items.push(item);
        }
        Ok(Shape::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Shape, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<Shape, Shape>()? {
            entries.push(entry);
        }
        Ok(Shape::Map(entries))
    }
}

/// Second pass: walks the same document guided by its [`Shape`], reading
/// each scalar's source text (`deserialize_str` gives it for any scalar) and
/// building the final value.
pub(super) struct ValueSeed<'s, 'de> {
    pub(super) shape: &'s Shape,
    pub(super) input: &'de str,
}

impl<'s, 'de> ValueSeed<'s, 'de> {
    fn node<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Node, D::Error> {
        match self.shape {
            Shape::Scalar(serde_value) => {
                let (text, offset) = d.deserialize_str(TextVisitor { input: self.input })?;
                let plain = offset.is_some_and(|off| is_plain_untagged(self.input, off));
                if plain {
                    pyyaml_resolve(&text).map_err(de::Error::custom)
                } else {
                    Ok(Node::Value(serde_value.clone()))
                }
            }
            Shape::Seq(items) => d
                .deserialize_seq(SeqVisitor {
                    items,
                    input: self.input,
                })
                .map(Node::Value),
            Shape::Map(entries) => d
                .deserialize_map(MapVisitor {
                    entries,
                    input: self.input,
                })
                .map(Node::Value),
        }
    }
}

impl<'s, 'de> DeserializeSeed<'de> for ValueSeed<'s, 'de> {
    type Value = ParamValue;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<ParamValue, D::Error> {
        match self.node(d)? {
            Node::Value(v) => Ok(v),
            other => Err(de::Error::custom(node_error(&other).unwrap_or_default())),
        }
    }
}

struct NodeSeed<'s, 'de>(ValueSeed<'s, 'de>);

impl<'s, 'de> DeserializeSeed<'de> for NodeSeed<'s, 'de> {
    type Value = Node;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Node, D::Error> {
        self.0.node(d)
    }
}

/// A scalar's text, and its byte offset in the input when serde_yaml_ng
/// could lend it straight from the source (single-line plain or quoted
/// scalars without escapes); the offset lets us look at what surrounds it.
struct TextVisitor<'de> {
    input: &'de str,
}

impl<'de> Visitor<'de> for TextVisitor<'de> {
    type Value = (String, Option<usize>);

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a scalar")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Self::Value, E> {
        let start = self.input.as_ptr() as usize;
        let at = v.as_ptr() as usize;
        let offset = (at >= start && at + v.len() <= start + self.input.len()).then(|| at - start);
        Ok((v.to_string(), offset))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Self::Value, E> {
        Ok((v.to_string(), None))
    }
}

/// Whether the scalar found at byte `offset` of `input` is plain (not
/// quoted) and carries no tag, so that YAML 1.1 implicit resolution applies.
fn is_plain_untagged(input: &str, offset: usize) -> bool {
    let before = &input[..offset];
    if before.ends_with(['\'', '"']) {
        return false;
    }
    // Walk back over node properties (`&anchor`, `!tag`) before the scalar.
    let mut rest = before;
    loop {
        rest = rest.trim_end_matches([' ', '\t', '\r', '\n']);
        let token_start = rest
            .rfind([' ', '\t', '\r', '\n', '[', '{', ','])
            .map_or(0, |i| i + 1);
        let token = &rest[token_start..];
        if token.starts_with('!') {
            return false;
        }
        if !token.starts_with('&') || token_start == 0 {
            return true;
        }
        rest = &rest[..token_start];
    }
}

struct SeqVisitor<'s, 'de> {
    items: &'s [Shape],
    input: &'de str,
}

impl<'s, 'de> Visitor<'de> for SeqVisitor<'s, 'de> {
    type Value = ParamValue;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a sequence")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<ParamValue, A::Error> {
        let mut out = Vec::with_capacity(self.items.len());
        for shape in self.items {
            match seq.next_element_seed(ValueSeed {
                shape,
                input: self.input,
            })? {
                Some(v) => out.push(v),
                None => return Err(de::Error::custom("sequence changed between passes")),
            }
        }
        Ok(ParamValue::List(out))
    }
}

struct MapVisitor<'s, 'de> {
    entries: &'s [(Shape, Shape)],
    input: &'de str,
}

impl<'s, 'de> Visitor<'de> for MapVisitor<'s, 'de> {
    type Value = ParamValue;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a mapping")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<ParamValue, A::Error> {
        // PyYAML's flatten_mapping: merged entries come first (from the
        // last merged mapping to the first), then the mapping's own; the
        // dict built from them keeps each key's first position and last
        // value. IndexMap::insert has exactly those semantics.
        let mut merged: Vec<IndexMap<String, ParamValue>> = Vec::new();
        let mut own: Vec<(String, ParamValue)> = Vec::new();
        for (key_shape, value_shape) in self.entries {
            if !matches!(key_shape, Shape::Scalar(_)) {
                return Err(de::Error::custom("found unhashable key"));
            }
            let key = map
                .next_key_seed(NodeSeed(ValueSeed {
                    shape: key_shape,
                    input: self.input,
                }))?
                .ok_or_else(|| de::Error::custom("mapping changed between passes"))?;
            let value: ParamValue = map.next_value_seed(ValueSeed {
                shape: value_shape,
                input: self.input,
            })?;
            match key {
                Node::Merge => match value {
                    ParamValue::Map(m) => merged.push(m),
                    ParamValue::List(list) => {
                        let mut maps = Vec::with_capacity(list.len());
                        for item in list {
                            match item {
                                ParamValue::Map(m) => maps.push(m),
                                _ => {
                                    return Err(de::Error::custom("expected a mapping for merging"))
                                }
                            }
                        }
                        merged.extend(maps.into_iter().rev());
                    }
                    _ => {
                        return Err(de::Error::custom(
                            "expected a mapping or list of mappings for merging",
                        ))
                    }
                },
                Node::ValueKey => own.push(("=".to_string(), value)),
                Node::Value(k) => own.push((k.python_str(), value)),
            }
        }
        let mut out = IndexMap::new();
        for (k, v) in merged.into_iter().flatten().chain(own) {
            out.insert(k, v);
        }
        Ok(ParamValue::Map(out))
    }
}
