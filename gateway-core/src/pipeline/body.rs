//! The fast path's view of a request body: the top-level members as raw JSON slices of the
//! client's own bytes. Nested content is validated once by the parser and never re-parsed or
//! re-serialized; rewriting `model` splices the new value into the original bytes.

use std::borrow::Cow;
use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::ApiError;

/// The top-level members of a JSON object body, in order, borrowing the body.
pub struct TopLevel<'a> {
    body: &'a [u8],
    members: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> TopLevel<'a> {
    pub fn parse(body: &'a [u8]) -> Result<TopLevel<'a>, ApiError> {
        let members = serde_json::from_slice::<Members<'a>>(body).map_err(|err| {
            if err.is_data() {
                ApiError::invalid("request body must be a JSON object")
            } else {
                ApiError::MalformedJson(err.to_string())
            }
        })?;
        // Parsers disagree on a repeated key (serde_json here keeps the first, most upstreams the
        // last), so `{"max_tokens":1,"max_tokens":999999}` would pass the clamp: refused outright.
        if let Some(key) = members.duplicate {
            return Err(ApiError::invalid(format!("duplicate top-level field `{key}` in the request body")));
        }
        Ok(TopLevel { body, members: members.members })
    }

    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// A required string member, with a clear error in the caller's terms.
    pub fn required_str(&self, key: &'static str) -> Result<Cow<'a, str>, ApiError> {
        let raw = self
            .get(key)
            .ok_or(ApiError::InvalidRequest { message: format!("missing required field `{key}`"), param: Some(key) })?;
        let value: Cow<'a, str> = serde_json::from_str(raw.get())
            .map_err(|_| ApiError::InvalidRequest { message: format!("`{key}` must be a string"), param: Some(key) })?;
        if value.is_empty() {
            return Err(ApiError::InvalidRequest { message: format!("`{key}` must not be empty"), param: Some(key) });
        }
        Ok(value)
    }

    /// A boolean member; absent or `null` is `false`.
    pub fn flag(&self, key: &'static str) -> Result<bool, ApiError> {
        match self.get(key).map(RawValue::get) {
            None | Some("null") => Ok(false),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => {
                Err(ApiError::InvalidRequest { message: format!("`{key}` must be a boolean"), param: Some(key) })
            }
        }
    }

    /// Where a member's value sits in the body.
    fn span_of(&self, raw: &RawValue) -> (usize, usize) {
        let start = raw.get().as_ptr() as usize - self.body.as_ptr() as usize;
        (start, start + raw.get().len())
    }

    /// Whether the client asked for a usage chunk on its stream.
    pub fn asks_stream_usage(&self) -> bool {
        #[derive(Deserialize)]
        struct StreamOptions {
            include_usage: Option<bool>,
        }
        self.get("stream_options")
            .and_then(|raw| serde_json::from_str::<StreamOptions>(raw.get()).ok())
            .and_then(|options| options.include_usage)
            .unwrap_or(false)
    }

    /// The body with edits applied. Without edits this is the client's bytes, shared not copied.
    pub fn rewrite(&self, original: &Bytes, edits: &BodyEdits<'_>) -> Bytes {
        let clamps: Vec<(usize, usize, Vec<u8>)> = match edits.max_tokens_cap {
            // `max_output_tokens` is the Responses API's name for it.
            Some(cap) => ["max_tokens", "max_completion_tokens", "max_output_tokens"]
                .into_iter()
                .filter_map(|key| self.get(key))
                .filter(|raw| raw.get().parse::<u64>().is_ok_and(|n| n > cap))
                .map(|raw| {
                    let (start, end) = self.span_of(raw);
                    (start, end, cap.to_string().into_bytes())
                })
                .collect(),
            None => Vec::new(),
        };
        if edits.model.is_none() && !edits.force_stream_usage && clamps.is_empty() && edits.remove.is_empty() {
            return original.clone();
        }
        // Splices, applied in order of position.
        let mut splices: Vec<(usize, usize, Vec<u8>)> = clamps;
        if let Some(model) = edits.model
            && let Some(raw) = self.get("model")
        {
            let (start, end) = self.span_of(raw);
            splices.push((start, end, json_string(model)));
        }
        if edits.force_stream_usage {
            match self.get("stream_options") {
                Some(raw) => {
                    let (start, end) = self.span_of(raw);
                    let mut options: serde_json::Map<String, serde_json::Value> =
                        serde_json::from_str(raw.get()).unwrap_or_default();
                    options.insert("include_usage".into(), serde_json::Value::Bool(true));
                    splices.push((start, end, serde_json::Value::Object(options).to_string().into_bytes()));
                }
                None => {
                    // Insert as the first member, right after the opening brace: no need to find
                    // the end of the object, and the object is known not to be empty.
                    let open = self.body.iter().position(|b| *b == b'{').unwrap_or(0) + 1;
                    splices.push((open, open, br#""stream_options":{"include_usage":true},"#.to_vec()));
                }
            }
        }
        for key in edits.remove {
            if let Some(span) = self.member_span(key) {
                splices.push((span.0, span.1, Vec::new()));
            }
        }
        splices.sort_by_key(|(start, _, _)| *start);
        let extra: usize = splices.iter().map(|(_, _, bytes)| bytes.len()).sum();
        let mut out = BytesMut::with_capacity(self.body.len() + extra);
        let mut cursor = 0;
        for (start, end, replacement) in &splices {
            out.put_slice(&self.body[cursor..*start]);
            out.put_slice(replacement);
            cursor = *end;
        }
        out.put_slice(&self.body[cursor..]);
        out.freeze()
    }
}

impl TopLevel<'_> {
    /// The span of a whole member (`"key": value`) with one adjacent comma, for removal. `None`
    /// when the key is absent or was written with escapes (then it is left in place).
    fn member_span(&self, key: &str) -> Option<(usize, usize)> {
        let (name, raw) = self.members.iter().find(|(k, _)| k == key)?;
        let Cow::Borrowed(name) = name else { return None };
        let key_start = (name.as_ptr() as usize).checked_sub(self.body.as_ptr() as usize)?.checked_sub(1)?;
        let (_, value_end) = self.span_of(raw);
        let after = self.body[value_end..].iter().position(|b| !b.is_ascii_whitespace()).map(|i| value_end + i);
        if let Some(comma) = after.filter(|i| self.body[*i] == b',') {
            return Some((key_start, comma + 1));
        }
        // The last member: take the comma before it.
        let before = self.body[..key_start].iter().rposition(|b| !b.is_ascii_whitespace())?;
        if self.body[before] == b',' { Some((before, value_end)) } else { Some((key_start, value_end)) }
    }

    /// A member that must be an array of strings (`fallbacks`); absent is empty.
    pub fn string_list(&self, key: &'static str) -> Result<Vec<String>, ApiError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(raw) => serde_json::from_str(raw.get()).map_err(|_| ApiError::InvalidRequest {
                message: format!("`{key}` must be an array of model names"),
                param: Some(key),
            }),
        }
    }
}

/// What the gateway changes in a body before forwarding it.
#[derive(Default)]
pub struct BodyEdits<'m> {
    /// Top-level members the gateway consumes and the upstream must not see (`fallbacks`).
    pub remove: &'m [&'m str],
    /// The upstream's own model id, when it differs from what the client sent.
    pub model: Option<&'m str>,
    /// Ask upstream for `stream_options.include_usage`.
    pub force_stream_usage: bool,
    /// Lower `max_tokens` / `max_completion_tokens` / `max_output_tokens` to this (the provider's `max_output_tokens`).
    pub max_tokens_cap: Option<u64>,
}

fn json_string(value: &str) -> Vec<u8> {
    // Serializing a &str cannot fail.
    serde_json::to_vec(value).unwrap_or_else(|_| b"\"\"".to_vec())
}

struct Members<'a> {
    members: Vec<(Cow<'a, str>, &'a RawValue)>,
    /// The first key seen twice.
    duplicate: Option<Cow<'a, str>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for MembersVisitor<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut members: Vec<(Cow<'a, str>, &'a RawValue)> = Vec::with_capacity(map.size_hint().unwrap_or(12));
                let mut duplicate = None;
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    let value: &'de RawValue = map.next_value()?;
                    // A scan of the few keys already seen: cheaper than a map for a dozen members,
                    // and nothing to allocate. The rest is still parsed, so bad JSON stays a 400 of its own.
                    if members.iter().any(|(seen, _)| *seen == key) {
                        duplicate.get_or_insert(key);
                        continue;
                    }
                    members.push((key, value));
                }
                Ok(Members { members, duplicate })
            }
        }
        deserializer.deserialize_map(MembersVisitor(std::marker::PhantomData))
    }
}

/// A member name, borrowed from the body when it has no escapes (serde's own `Cow<str>` always
/// copies); the borrow tells where the member starts.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for KeyVisitor<'a> {
            type Value = Key<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(value)))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(value.to_owned())))
            }
            fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(value)))
            }
        }
        deserializer.deserialize_str(KeyVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_the_top_level() {
        let body = br#"{ "model" : "openai/gpt-4o", "stream": true, "messages": [{"role":"user","content":"hi \"there\""}], "x_unknown": {"deep": [1,2,3]} }"#;
        let top = TopLevel::parse(body).unwrap();
        assert_eq!(top.required_str("model").unwrap(), "openai/gpt-4o");
        assert!(top.flag("stream").unwrap());
        assert!(!top.flag("absent").unwrap());
        assert_eq!(top.get("x_unknown").unwrap().get(), r#"{"deep": [1,2,3]}"#);
    }

    #[test]
    fn model_rewrite_keeps_every_other_byte() {
        let body = Bytes::from_static(br#"{"messages":[],"model" :  "openai/gpt-4o" ,"weird":"\u00e9"}"#);
        let top = TopLevel::parse(&body).unwrap();
        let out = top.rewrite(&body, &BodyEdits { model: Some("gpt-4o"), ..Default::default() });
        assert_eq!(&out[..], br#"{"messages":[],"model" :  "gpt-4o" ,"weird":"\u00e9"}"#);
        let same = top.rewrite(&body, &BodyEdits::default());
        assert_eq!(same.as_ptr(), body.as_ptr(), "no edits must not copy");
    }

    #[test]
    fn stream_usage_is_injected_or_merged() {
        let body = Bytes::from_static(br#" {"model":"m","stream":true}"#);
        let top = TopLevel::parse(&body).unwrap();
        assert!(!top.asks_stream_usage());
        let out = top.rewrite(&body, &BodyEdits { model: Some("x"), force_stream_usage: true, ..Default::default() });
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["stream_options"]["include_usage"], true);
        assert_eq!(value["model"], "x");

        let body = Bytes::from_static(br#"{"model":"m","stream_options":{"include_usage":false,"other":1}}"#);
        let top = TopLevel::parse(&body).unwrap();
        let out = top.rewrite(&body, &BodyEdits { model: None, force_stream_usage: true, ..Default::default() });
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(value["stream_options"]["include_usage"], true);
        assert_eq!(value["stream_options"]["other"], 1);
    }

    #[test]
    fn members_are_removed_with_their_comma() {
        let cases = [
            (r#"{"model":"m","fallbacks":["a","b"],"x":1}"#, r#"{"model":"m","x":1}"#),
            (r#"{"model":"m", "x":1 , "fallbacks" : ["a"] }"#, r#"{"model":"m", "x":1  }"#),
            (r#"{"fallbacks":[],"model":"m"}"#, r#"{"model":"m"}"#),
        ];
        for (input, expected) in cases {
            let body = Bytes::copy_from_slice(input.as_bytes());
            let top = TopLevel::parse(&body).unwrap();
            let out = top.rewrite(&body, &BodyEdits { remove: &["fallbacks"], ..Default::default() });
            assert_eq!(std::str::from_utf8(&out).unwrap(), expected);
            serde_json::from_slice::<serde_json::Value>(&out).unwrap();
        }
        let body = Bytes::from_static(br#"{"model":"m","fallbacks":["a/b","c"]}"#);
        let top = TopLevel::parse(&body).unwrap();
        assert_eq!(top.string_list("fallbacks").unwrap(), vec!["a/b", "c"]);
        let top = TopLevel::parse(br#"{"fallbacks":"a"}"#).unwrap();
        assert!(top.string_list("fallbacks").is_err());
    }

    #[test]
    fn duplicate_top_level_keys_are_refused() {
        let err = TopLevel::parse(br#"{"model":"m","max_tokens":1,"max_tokens":999999}"#).err().unwrap();
        assert!(matches!(err, ApiError::InvalidRequest { .. }));
        assert!(err.to_string().contains("`max_tokens`"), "{err}");
        // An escaped spelling of the same key is the same key.
        assert!(TopLevel::parse(br#"{"model":"m","\u006dodel":"x"}"#).is_err());
        // Nested repeats are the upstream's business; only the top level is read here.
        assert!(TopLevel::parse(br#"{"model":"m","x":{"a":1,"a":2}}"#).is_ok());
    }

    #[test]
    fn bad_bodies() {
        assert!(matches!(TopLevel::parse(b"{nope"), Err(ApiError::MalformedJson(_))));
        assert!(matches!(TopLevel::parse(b"[1,2]"), Err(ApiError::InvalidRequest { .. })));
        let top = TopLevel::parse(br#"{"model": 5, "stream": "yes"}"#).unwrap();
        assert!(top.required_str("model").is_err());
        assert!(top.flag("stream").is_err());
        let top = TopLevel::parse(br#"{"messages": []}"#).unwrap();
        let err = top.required_str("model").unwrap_err();
        assert_eq!(err.to_string(), "missing required field `model`");
    }
}
