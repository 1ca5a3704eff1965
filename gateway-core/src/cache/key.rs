//! What a cached answer is stored under.
//!
//! **Exact**: a 128-bit hash of the canonical request. The body is hashed as JSON values, not as
//! bytes: an object's members are combined order-independently (each member hashed with its
//! key, the member hashes added), so key order and whitespace never matter, and escaped and
//! plain spellings of a string are the same string. Every top-level member is part of the key
//! except the few that cannot change the answer ([`IGNORED`]) and the two the gateway decides:
//! `model` (replaced by the model the plan chose, so a task class moved to another model never
//! serves the old model's answers) and `stream` (the request's stream flag, whatever spelled
//! it). A member a new API version adds is therefore in the key until someone decides it does
//! not belong there: a miss too many, never a wrong answer. The body is read once, without
//! building a tree (a visitor hashes as serde_json parses).
//!
//! Around the body's hash: the API family and endpoint (a Messages answer never serves a Chat
//! request), the stream flag, the model, and the scope: the request's cache key (Bifrost's
//! `x-bf-cache-key`) and its virtual key, so keys never see each other's entries.
//!
//! **Semantic**: the last user turn's text, and a partition hash that is the exact key's with
//! the conversation replaced by a hash of the turns before the last one: a paraphrase matches
//! only within the same scope, model, parameters and earlier conversation.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use xxhash_rust::xxh3::{Xxh3, xxh3_128};

use crate::wire::{ApiFamily, Endpoint};

/// Top-level members that never change the answer: who asked (`user`, `metadata`,
/// `safety_identifier`), whether the provider keeps it (`store`), the provider's own prompt
/// cache (`prompt_cache_key`, `prompt_cache_retention`) and the gateway's `fallbacks` (the
/// plan's first model is in the key already).
pub const IGNORED: [&str; 7] =
    ["user", "metadata", "safety_identifier", "store", "prompt_cache_key", "prompt_cache_retention", "fallbacks"];

/// Members the gateway puts into the key itself.
const DECIDED: [&str; 2] = ["model", "stream"];

/// Where an entry belongs: who may see it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The request's cache key (`x-bf-cache-key`), if any.
    pub cache_key: Option<String>,
    /// The virtual key's id, if the request came with one.
    pub virtual_key: Option<String>,
}

/// What the request is, apart from its body.
pub struct RequestShape<'a> {
    pub family: ApiFamily,
    pub endpoint: Endpoint,
    pub stream: bool,
    /// `provider/model` of the plan's first target.
    pub model: &'a str,
    pub scope: &'a Scope,
}

/// The request's exact key, or `None` when the body is not JSON (such a request fails later
/// anyway and is never stored).
pub fn exact(shape: &RequestShape<'_>, body: &[u8]) -> Option<u128> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let body_hash = TopLevel.deserialize(&mut deserializer).ok()?;
    deserializer.end().ok()?;
    Some(frame(shape, b"exact", body_hash))
}

/// The request as the semantic layer sees it.
#[derive(Debug, PartialEq)]
pub struct SemanticQuery {
    /// The last user turn's text: what is embedded.
    pub text: String,
    /// Scope, model, parameters and earlier turns: only entries with the same partition match.
    pub partition: u64,
}

/// Why a request is not looked up semantically.
#[derive(Debug, PartialEq, Eq)]
pub enum NotSemantic {
    /// The endpoint has no conversation (embeddings, token counts).
    Endpoint,
    /// The conversation is longer than the configured limit.
    TooLong,
    /// The last turn is not a user's text (a tool result, an image, an assistant prefill).
    NoUserText,
    Unreadable,
}

/// The semantic query of a request, for conversations of at most `max_messages` messages.
pub fn semantic(shape: &RequestShape<'_>, body: &[u8], max_messages: usize) -> Result<SemanticQuery, NotSemantic> {
    let conversation_member = match shape.endpoint {
        Endpoint::ChatCompletions | Endpoint::Messages => "messages",
        Endpoint::GenerateContent => "contents",
        Endpoint::Responses => "input",
        _ => return Err(NotSemantic::Endpoint),
    };
    let Ok(Value::Object(mut top)) = serde_json::from_slice::<Value>(body) else {
        return Err(NotSemantic::Unreadable);
    };
    let conversation = top.remove(conversation_member).unwrap_or(Value::Null);
    let (text, earlier) = match conversation {
        // Responses' `input` may be a plain string: a one-turn conversation.
        Value::String(text) if shape.endpoint == Endpoint::Responses => (text, Vec::new()),
        Value::Array(mut turns) => {
            if turns.len() > max_messages {
                return Err(NotSemantic::TooLong);
            }
            let last = turns.pop().ok_or(NotSemantic::NoUserText)?;
            (user_text(&last).ok_or(NotSemantic::NoUserText)?, turns)
        }
        _ => return Err(NotSemantic::NoUserText),
    };
    if text.trim().is_empty() {
        return Err(NotSemantic::NoUserText);
    }
    for name in IGNORED.iter().chain(DECIDED.iter()) {
        top.remove(*name);
    }
    let mut hasher = Xxh3::new();
    hasher.update(&value_hash(&Value::Object(top)).to_le_bytes());
    hasher.update(&value_hash(&Value::Array(earlier)).to_le_bytes());
    let partition = frame(shape, b"semantic", hasher.digest128());
    Ok(SemanticQuery { text, partition: partition as u64 })
}

/// The partition within one embedding model's vectors: a model switched in the settings never
/// compares its vectors with the old model's, even when both have the same length.
pub fn for_embedding_model(partition: u64, model: &str) -> u64 {
    let mut hasher = Xxh3::new();
    hasher.update(&partition.to_le_bytes());
    hasher.update(model.as_bytes());
    hasher.digest()
}

/// A turn's text when it is a user's and only text: `"content": "…"`, or parts/blocks that
/// are all text (OpenAI `{"type":"text","text"}`, Anthropic the same, Responses
/// `{"type":"input_text","text"}`, Gemini `{"text"}` under `parts`).
fn user_text(turn: &Value) -> Option<String> {
    if turn.get("role").and_then(Value::as_str) != Some("user") {
        return None;
    }
    let content = turn.get("content").or_else(|| turn.get("parts"))?;
    match content {
        Value::String(text) => Some(text.clone()),
        Value::Array(parts) => {
            let mut text = String::new();
            for part in parts {
                let kind = part.get("type").and_then(Value::as_str);
                if !matches!(kind, None | Some("text") | Some("input_text")) {
                    return None;
                }
                let piece = part.get("text").and_then(Value::as_str)?;
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(piece);
            }
            Some(text)
        }
        _ => None,
    }
}

/// The shape and the scope around a body's hash.
fn frame(shape: &RequestShape<'_>, kind: &[u8], body_hash: u128) -> u128 {
    let mut hasher = Xxh3::new();
    hasher.update(b"switchyard-cache-v1\0");
    hasher.update(kind);
    for part in [shape.family.as_str(), shape.endpoint.as_str(), shape.model] {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.update(&[u8::from(shape.stream)]);
    for part in [&shape.scope.cache_key, &shape.scope.virtual_key] {
        match part {
            // The length prefix keeps ("ab", "c") and ("a", "bc") apart; absence is its own mark.
            Some(text) => {
                hasher.update(&[1]);
                hasher.update(&(text.len() as u64).to_le_bytes());
                hasher.update(text.as_bytes());
            }
            None => hasher.update(&[0]),
        }
    }
    hasher.update(&body_hash.to_le_bytes());
    hasher.digest128()
}

fn tagged(tag: u8, bytes: &[u8]) -> u128 {
    let mut hasher = Xxh3::new();
    hasher.update(&[tag]);
    hasher.update(bytes);
    hasher.digest128()
}

/// One object member: its key's and its value's hash together.
fn member(key: u128, value: u128) -> u128 {
    let mut both = [0u8; 32];
    both[..16].copy_from_slice(&key.to_le_bytes());
    both[16..].copy_from_slice(&value.to_le_bytes());
    xxh3_128(&both)
}

/// An object from its members' hashes, in any order: their sum, and their count.
fn object(sum: u128, count: u64) -> u128 {
    let mut bytes = [0u8; 25];
    bytes[0] = b'{';
    bytes[1..17].copy_from_slice(&sum.to_le_bytes());
    bytes[17..].copy_from_slice(&count.to_le_bytes());
    xxh3_128(&bytes)
}

/// The hash of a parsed value; equal to what [`NodeHash`] computes while parsing.
fn value_hash(value: &Value) -> u128 {
    match value {
        Value::Null => tagged(b'n', &[]),
        Value::Bool(b) => tagged(b'b', &[u8::from(*b)]),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                tagged(b'u', &u.to_le_bytes())
            } else if let Some(i) = n.as_i64() {
                tagged(b'i', &i.to_le_bytes())
            } else {
                tagged(b'f', &n.as_f64().unwrap_or(0.0).to_bits().to_le_bytes())
            }
        }
        Value::String(s) => tagged(b's', s.as_bytes()),
        Value::Array(items) => {
            let mut hasher = Xxh3::new();
            hasher.update(b"[");
            for item in items {
                hasher.update(&value_hash(item).to_le_bytes());
            }
            hasher.digest128()
        }
        Value::Object(members) => {
            let mut sum = 0u128;
            for (key, value) in members {
                sum = sum.wrapping_add(member(tagged(b's', key.as_bytes()), value_hash(value)));
            }
            object(sum, members.len() as u64)
        }
    }
}

/// Hashes a value as it is parsed.
struct NodeHash;

impl<'de> DeserializeSeed<'de> for NodeHash {
    type Value = u128;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<u128, D::Error> {
        deserializer.deserialize_any(NodeVisitor { top_level: false })
    }
}

/// The body's top level: an object whose ignored and decided members are skipped.
struct TopLevel;

impl<'de> DeserializeSeed<'de> for TopLevel {
    type Value = u128;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<u128, D::Error> {
        deserializer.deserialize_map(NodeVisitor { top_level: true })
    }
}

/// One value's hash; at the top level, members left out of the key are skipped.
struct NodeVisitor {
    top_level: bool,
}

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = u128;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(if self.top_level { "a JSON object" } else { "a JSON value" })
    }

    fn visit_unit<E>(self) -> Result<u128, E> {
        Ok(tagged(b'n', &[]))
    }

    fn visit_none<E>(self) -> Result<u128, E> {
        Ok(tagged(b'n', &[]))
    }

    fn visit_bool<E>(self, v: bool) -> Result<u128, E> {
        Ok(tagged(b'b', &[u8::from(v)]))
    }

    fn visit_u64<E>(self, v: u64) -> Result<u128, E> {
        Ok(tagged(b'u', &v.to_le_bytes()))
    }

    fn visit_i64<E>(self, v: i64) -> Result<u128, E> {
        // serde_json hands non-negative integers to `visit_u64`; only negatives come here.
        Ok(tagged(b'i', &v.to_le_bytes()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<u128, E> {
        Ok(tagged(b'f', &v.to_bits().to_le_bytes()))
    }

    fn visit_str<E>(self, v: &str) -> Result<u128, E> {
        Ok(tagged(b's', v.as_bytes()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u128, A::Error> {
        let mut hasher = Xxh3::new();
        hasher.update(b"[");
        while let Some(item) = seq.next_element_seed(NodeHash)? {
            hasher.update(&item.to_le_bytes());
        }
        Ok(hasher.digest128())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u128, A::Error> {
        let (mut sum, mut count) = (0u128, 0u64);
        while let Some(key) = map.next_key_seed(MemberKey { top_level: self.top_level })? {
            let Some(key) = key else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let value = map.next_value_seed(NodeHash)?;
            sum = sum.wrapping_add(member(key, value));
            count += 1;
        }
        Ok(object(sum, count))
    }
}

/// A member's name: its hash, or `None` for a top-level member left out of the key.
struct MemberKey {
    top_level: bool,
}

impl<'de> DeserializeSeed<'de> for MemberKey {
    type Value = Option<u128>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<u128>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for MemberKey {
    type Value = Option<u128>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E>(self, v: &str) -> Result<Option<u128>, E> {
        if self.top_level && (IGNORED.contains(&v) || DECIDED.contains(&v)) {
            return Ok(None);
        }
        Ok(Some(tagged(b's', v.as_bytes())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape<'a>(scope: &'a Scope, model: &'a str) -> RequestShape<'a> {
        RequestShape { family: ApiFamily::OpenAi, endpoint: Endpoint::ChatCompletions, stream: false, model, scope }
    }

    fn key(body: &str) -> u128 {
        exact(&shape(&Scope::default(), "openai/gpt-4o"), body.as_bytes()).unwrap()
    }

    #[test]
    fn key_order_whitespace_and_escapes_do_not_matter() {
        let a = key(r#"{"model":"coding","messages":[{"role":"user","content":"hi"}],"temperature":0.2}"#);
        let b = key(
            "{ \"temperature\" : 0.2,\n \"messages\": [ {\"content\":\"h\\u0069\", \"role\":\"user\"} ],\"model\":\"x\"}",
        );
        assert_eq!(a, b);
        // Ignored members and the decided ones change nothing.
        let c = key(
            r#"{"messages":[{"role":"user","content":"hi"}],"temperature":0.2,"user":"u1","metadata":{"a":1},"stream":false,"fallbacks":["x/y"]}"#,
        );
        assert_eq!(a, c);
    }

    #[test]
    fn answer_changing_parameters_change_the_key() {
        let base = key(r#"{"messages":[{"role":"user","content":"hi"}],"temperature":0.2}"#);
        for other in [
            r#"{"messages":[{"role":"user","content":"hi"}],"temperature":0.3}"#,
            r#"{"messages":[{"role":"user","content":"hi!"}],"temperature":0.2}"#,
            r#"{"messages":[{"role":"system","content":"hi"}],"temperature":0.2}"#,
            r#"{"messages":[{"role":"user","content":"hi"}],"temperature":0.2,"max_tokens":5}"#,
            r#"{"messages":[{"role":"user","content":"hi"}],"temperature":0.2,"tools":[]}"#,
            r#"{"messages":[{"role":"user","content":"hi"}],"temperature":0.2,"response_format":{"type":"json_object"}}"#,
            r#"{"messages":[{"role":"user","content":"hi"}],"temperature":0.2,"seed":1}"#,
            r#"{"messages":[{"role":"user","content":"hi"},{"role":"user","content":"hi"}],"temperature":0.2}"#,
        ] {
            assert_ne!(base, key(other), "{other}");
        }
        // Arrays keep their order; numbers keep their type.
        assert_ne!(key(r#"{"stop":["a","b"]}"#), key(r#"{"stop":["b","a"]}"#));
        assert_ne!(key(r#"{"n":1}"#), key(r#"{"n":1.0}"#));
        assert_ne!(key(r#"{"a":{"b":1,"c":2}}"#), key(r#"{"a":{"b":2,"c":1}}"#));
        assert_ne!(key(r#"{"a":[]}"#), key(r#"{"a":{}}"#));
    }

    #[test]
    fn shape_and_scope_change_the_key() {
        let body = br#"{"messages":[{"role":"user","content":"hi"}]}"#;
        let none = Scope::default();
        let base = exact(&shape(&none, "openai/gpt-4o"), body).unwrap();
        assert_ne!(base, exact(&shape(&none, "openai/gpt-4o-mini"), body).unwrap());
        let mut streamed = shape(&none, "openai/gpt-4o");
        streamed.stream = true;
        assert_ne!(base, exact(&streamed, body).unwrap());
        let mut messages = shape(&none, "openai/gpt-4o");
        messages.family = ApiFamily::Anthropic;
        messages.endpoint = Endpoint::Messages;
        assert_ne!(base, exact(&messages, body).unwrap());
        let keyed = Scope { cache_key: Some("session-1".into()), virtual_key: None };
        let vk = Scope { cache_key: None, virtual_key: Some("session-1".into()) };
        let k1 = exact(&shape(&keyed, "openai/gpt-4o"), body).unwrap();
        let k2 = exact(&shape(&vk, "openai/gpt-4o"), body).unwrap();
        assert!(base != k1 && base != k2 && k1 != k2);
    }

    #[test]
    fn not_json_has_no_key() {
        let none = Scope::default();
        for body in [&b"not json"[..], b"[1,2]", b"{\"a\":1} trailing", b""] {
            assert_eq!(exact(&shape(&none, "m"), body), None);
        }
    }

    #[test]
    fn streaming_hash_equals_the_tree_hash() {
        let text = r#"{"a":[1,-2,3.5,"x\n",null,true,{"k":"v"}],"b":{"c":{"d":[]}}}"#;
        let value: Value = serde_json::from_str(text).unwrap();
        let mut deserializer = serde_json::Deserializer::from_str(text);
        assert_eq!(NodeHash.deserialize(&mut deserializer).unwrap(), value_hash(&value));
    }

    #[test]
    fn semantic_query_is_the_last_user_turn() {
        let none = Scope::default();
        let s = shape(&none, "openai/gpt-4o");
        let q = semantic(&s, br#"{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"How do I reverse a list?"}]}"#, 3).unwrap();
        assert_eq!(q.text, "How do I reverse a list?");
        // Same earlier turns and parameters, another question: same partition.
        let other = semantic(
            &s,
            br#"{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"What is Rust?"}]}"#,
            3,
        )
        .unwrap();
        assert_eq!(q.partition, other.partition);
        // Another system prompt, another temperature, another earlier turn: another partition.
        for body in [
            &br#"{"messages":[{"role":"system","content":"be long"},{"role":"user","content":"What is Rust?"}]}"#[..],
            br#"{"temperature":1,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"What is Rust?"}]}"#,
        ] {
            assert_ne!(semantic(&s, body, 3).unwrap().partition, q.partition);
        }
        // Text parts are joined; an image part or an assistant's last turn is no user text.
        let parts = semantic(
            &s,
            br#"{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}"#,
            3,
        )
        .unwrap();
        assert_eq!(parts.text, "a\nb");
        assert_eq!(
            semantic(
                &s,
                br#"{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}"#,
                3
            ),
            Err(NotSemantic::NoUserText)
        );
        assert_eq!(
            semantic(&s, br#"{"messages":[{"role":"assistant","content":"x"}]}"#, 3),
            Err(NotSemantic::NoUserText)
        );
        let long = br#"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"},{"role":"assistant","content":"d"},{"role":"user","content":"e"}]}"#;
        assert_eq!(semantic(&s, long, 3), Err(NotSemantic::TooLong));
        assert_eq!(semantic(&s, long, 5).unwrap().text, "e");
    }

    #[test]
    fn semantic_reads_each_api() {
        let none = Scope::default();
        let mut s = shape(&none, "m");
        s.endpoint = Endpoint::Responses;
        assert_eq!(semantic(&s, br#"{"input":"hello there"}"#, 3).unwrap().text, "hello there");
        assert_eq!(
            semantic(&s, br#"{"input":[{"role":"user","content":[{"type":"input_text","text":"hi"}]}]}"#, 3)
                .unwrap()
                .text,
            "hi"
        );
        s.endpoint = Endpoint::GenerateContent;
        assert_eq!(semantic(&s, br#"{"contents":[{"role":"user","parts":[{"text":"yo"}]}]}"#, 3).unwrap().text, "yo");
        s.endpoint = Endpoint::Embeddings;
        assert_eq!(semantic(&s, br#"{"input":"x"}"#, 3), Err(NotSemantic::Endpoint));
    }
}
