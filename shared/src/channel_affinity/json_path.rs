//! The gjson paths of new-api's affinity rules (`metadata.user_id`), in the subset its rules
//! use: keys separated by dots (a backslash escapes a dot or a backslash) and array indexes.
//! A value is found by reading the document only up to it: everything before is skipped
//! without being built, everything after is not read at all.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

/// A parsed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    segments: Vec<String>,
}

impl JsonPath {
    /// The path `text` spells, or None when it is empty or has an empty segment.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let mut segments = Vec::new();
        let mut segment = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => segment.push(chars.next()?),
                '.' => segments.push(std::mem::take(&mut segment)),
                c => segment.push(c),
            }
        }
        segments.push(segment);
        if segments.iter().any(String::is_empty) {
            return None;
        }
        Some(Self {
            text: text.to_string(),
            segments,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The key the path starts with.
    pub fn root(&self) -> &str {
        self.segments.first().map_or("", String::as_str)
    }

    /// The value at this path of `json` (see [`value_at`]).
    pub fn find(&self, json: &[u8]) -> Option<String> {
        value_at(json, &self.segments)
    }

    /// The value at this path below its root, in `root_json`, the root key's own JSON.
    pub fn find_below_root(&self, root_json: &[u8]) -> Option<String> {
        value_at(root_json, self.segments.get(1..).unwrap_or_default())
    }
}

/// The value at `path` in `json`, as gjson renders it for new-api: a string's text, a number's
/// or a boolean's literal, an object's or an array's JSON, trimmed. None when the document is
/// not JSON, the path leads nowhere, or the value is null or blank.
pub fn value_at(json: &[u8], path: &[String]) -> Option<String> {
    let mut found = None;
    let mut reader = serde_json::Deserializer::from_slice(json);
    // Finding the value stops the reading with an error (nothing after it is read); any other
    // error means the value is not there.
    let _ = Seek {
        path,
        found: &mut found,
    }
    .deserialize(&mut reader);
    found.and_then(render)
}

/// How gjson shows a value.
fn render(raw: &RawValue) -> Option<String> {
    let text = raw.get().trim();
    let shown = if text.starts_with('"') {
        serde_json::from_str::<String>(text).ok()?
    } else if text == "null" {
        return None;
    } else {
        text.to_string()
    };
    let shown = shown.trim();
    (!shown.is_empty()).then(|| shown.to_string())
}

/// Why the reading stopped once the value was found.
const FOUND: &str = "found";

/// Reads the value at `path` of what it is given into `found`.
struct Seek<'p, 'o, 'de> {
    path: &'p [String],
    found: &'o mut Option<&'de RawValue>,
}

impl<'de> DeserializeSeed<'de> for Seek<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, reader: D) -> Result<(), D::Error> {
        match self.path.split_first() {
            None => {
                let raw: &'de RawValue = serde::Deserialize::deserialize(reader)?;
                *self.found = Some(raw);
                Err(de::Error::custom(FOUND))
            }
            Some((segment, rest)) => reader.deserialize_any(Step {
                segment,
                rest,
                found: self.found,
            }),
        }
    }
}

/// Looks for one segment in an object (a key) or an array (an index).
struct Step<'p, 'o, 'de> {
    segment: &'p str,
    rest: &'p [String],
    found: &'o mut Option<&'de RawValue>,
}

impl<'de> Visitor<'de> for Step<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an object or an array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if key.0 == self.segment {
                return map.next_value_seed(Seek {
                    path: self.rest,
                    found: self.found,
                });
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Ok(index) = self.segment.parse::<usize>() else {
            return Ok(());
        };
        for _ in 0..index {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
        }
        seq.next_element_seed(Seek {
            path: self.rest,
            found: self.found,
        })
        .map(|_| ())
    }
}

/// An object key, borrowed from the document unless it has escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(reader: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a key")
            }

            fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(key.into()))
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(key.to_string().into()))
            }
        }
        reader.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(json: &str, path: &str) -> Option<String> {
        JsonPath::parse(path)?.find(json.as_bytes())
    }

    #[test]
    fn paths_are_parsed_as_gjson_writes_them() {
        let path = JsonPath::parse("metadata.user_id").expect("path");
        assert_eq!(path.root(), "metadata");
        assert_eq!(JsonPath::parse(r"a\.b.c").expect("path").root(), "a.b");
        assert!(JsonPath::parse("").is_none());
        assert!(JsonPath::parse("a..b").is_none());
        assert!(JsonPath::parse(r"a\").is_none());
    }

    #[test]
    fn values_are_rendered_as_gjson_renders_them() {
        let json = r#"{"input": [{"x": 1}], "prompt_cache_key": " sess-1 ",
            "metadata": {"user_id": "{\"session_id\": \"abc\"}", "n": 1.50, "ok": true,
            "nothing": null, "obj": {"a": [1, 2]}}}"#;
        assert_eq!(at(json, "prompt_cache_key").as_deref(), Some("sess-1"));
        assert_eq!(
            at(json, "metadata.user_id").as_deref(),
            Some(r#"{"session_id": "abc"}"#)
        );
        assert_eq!(at(json, "metadata.n").as_deref(), Some("1.50"));
        assert_eq!(at(json, "metadata.ok").as_deref(), Some("true"));
        assert_eq!(
            at(json, "metadata.obj").as_deref(),
            Some(r#"{"a": [1, 2]}"#)
        );
        assert_eq!(at(json, "metadata.obj.a.1").as_deref(), Some("2"));
        assert_eq!(at(json, "input.0.x").as_deref(), Some("1"));
        assert_eq!(at(json, "metadata.nothing"), None);
        assert_eq!(at(json, "metadata.missing"), None);
        assert_eq!(at(json, "input.5.x"), None);
        assert_eq!(at(json, "input.x"), None);
        assert_eq!(at(json, "prompt_cache_key.deeper"), None);
        assert_eq!(at("not json", "a"), None);
        assert_eq!(
            at(r#"{"k\u0065y": "escaped"}"#, "key").as_deref(),
            Some("escaped")
        );
    }

    #[test]
    fn the_document_is_read_only_up_to_the_value() {
        // Everything after the value is malformed: it is never read.
        assert_eq!(
            at(r#"{"a": {"b": "found"}, "rest": ]]]"#, "a.b").as_deref(),
            Some("found")
        );
        let below = JsonPath::parse("metadata.user_id").expect("path");
        assert_eq!(
            below.find_below_root(br#"{"user_id": "u-1"}"#).as_deref(),
            Some("u-1")
        );
    }
}
