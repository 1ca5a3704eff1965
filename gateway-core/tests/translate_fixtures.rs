//! The translation fixtures: one harness runs every file in `tests/fixtures/translate/`.
//!
//! A fixture is `{"kind", "context"?, "in", "out"}`:
//! - `kind` `request`: `context.endpoint` (`messages` | `chat_completions` | `generate_content` |
//!   `responses`), `context.upstream` (`openai` | `anthropic` | `gemini`; by default the other
//!   of Anthropic and OpenAI, and OpenAI for Gemini and Responses clients) and `in` (the client
//!   body) → `out` (the upstream body, as JSON); or `out_error: true` with `out` the error's
//!   JSON body (in the client's API shape) when the request is refused.
//! - `kind` `whole`: `context.client` (`anthropic` | `openai` | `gemini` | `responses`),
//!   `context.upstream` (as above) and `in` (the upstream's JSON answer) → `out` (the client's
//!   JSON answer).
//! - `kind` `stream`: `context.client` and `in` (the upstream's SSE text) → `out` (the client's
//!   events as `{"event"?, "data"}`), checked for every way of splitting the input into chunks,
//!   through the same relay the gateway serves streams with. `out_error: true` expects the stream
//!   to end with an error event.
//!
//! Volatile fields (`created`, `created_at`) are removed before comparing, and ids the gateway
//! makes up (`resp_…`, `msg_…`, `fc_…`) become `resp_1`, `msg_1`, … in order of appearance. `UPDATE_FIXTURES=1` rewrites `out`
//! from what the code produces (review the diff!).
// A test crate: its helpers, like its tests, fail by panicking (clippy.toml's allow-*-in-tests
// covers `#[test]` functions only).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use gateway_core::observe::{PendingRecord, TracingObserver};
use gateway_core::pipeline::relay::{Relay, Translate};
use gateway_core::translate::{self, Mapper, RequestContext};
use gateway_core::wire::{ApiFamily, Endpoint, WireFormat};
use serde_json::{Value, json};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/translate");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixture dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "fixtures are missing in {}", dir.display());
    files
}

fn mapper(client: &str, upstream: Option<&str>) -> Mapper {
    let model = || "gw/model".to_owned();
    match (client, upstream) {
        ("anthropic", Some("gemini")) => Mapper::Chain(
            Box::new(Mapper::OpenAiClientOfGemini { model: model(), include_usage: true }),
            Box::new(Mapper::AnthropicClient { model: model() }),
        ),
        ("gemini", Some("anthropic")) => Mapper::Chain(
            Box::new(Mapper::OpenAiClient { model: model(), include_usage: true }),
            Box::new(Mapper::GeminiClient { model: model() }),
        ),
        ("responses", Some("anthropic")) => Mapper::Chain(
            Box::new(Mapper::OpenAiClient { model: model(), include_usage: true }),
            Box::new(Mapper::ResponsesClient { model: model() }),
        ),
        ("responses", Some("gemini")) => Mapper::Chain(
            Box::new(Mapper::OpenAiClientOfGemini { model: model(), include_usage: true }),
            Box::new(Mapper::ResponsesClient { model: model() }),
        ),
        ("responses", _) => Mapper::ResponsesClient { model: model() },
        ("anthropic", _) => Mapper::AnthropicClient { model: model() },
        ("gemini", _) => Mapper::GeminiClient { model: model() },
        (_, Some("gemini")) => Mapper::OpenAiClientOfGemini { model: model(), include_usage: true },
        _ => Mapper::OpenAiClient { model: model(), include_usage: true },
    }
}

fn family(client: &str) -> ApiFamily {
    match client {
        "anthropic" => ApiFamily::Anthropic,
        "gemini" => ApiFamily::Gemini,
        "responses" => ApiFamily::Responses,
        _ => ApiFamily::OpenAi,
    }
}

/// Ids the gateway generates: a known prefix and 24 random lowercase letters or digits.
fn generated_id(text: &str) -> Option<&str> {
    let (prefix, rest) = text.split_once('_')?;
    let known = ["resp", "msg", "rs", "fc", "call", "toolu"].contains(&prefix);
    (known && rest.len() == 24 && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())).then_some(prefix)
}

fn scrub(value: &mut Value, ids: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            map.remove("created");
            map.remove("created_at");
            map.values_mut().for_each(|v| scrub(v, ids));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| scrub(v, ids)),
        Value::String(text) => {
            if let Some(prefix) = generated_id(text) {
                let position = ids.iter().position(|id| id == text).unwrap_or_else(|| {
                    ids.push(text.clone());
                    ids.len() - 1
                });
                let same_prefix = ids[..position].iter().filter(|id| id.starts_with(&format!("{prefix}_"))).count();
                *text = format!("{prefix}_{}", same_prefix + 1);
            }
        }
        _ => {}
    }
}

fn parse_events(text: &str) -> (Vec<Value>, bool) {
    let mut events = Vec::new();
    let mut ids = Vec::new();
    let mut error = false;
    for raw in text.split("\n\n").filter(|e| !e.trim().is_empty()) {
        let name = raw.lines().find_map(|l| l.strip_prefix("event: "));
        let data = raw.lines().find_map(|l| l.strip_prefix("data: ")).unwrap_or("");
        let mut data: Value = serde_json::from_str(data).unwrap_or_else(|_| Value::String(data.to_owned()));
        if name == Some("error") || data.get("error").is_some() {
            error = true;
        }
        scrub(&mut data, &mut ids);
        events.push(match name {
            Some(name) => json!({"event": name, "data": data}),
            None => json!({"data": data}),
        });
    }
    (events, error)
}

async fn run_stream(client: &str, upstream_format: Option<&str>, input: &str, split: usize) -> String {
    let chunks: Vec<Result<Bytes, gateway_core::transport::TransportError>> =
        input.as_bytes().chunks(split).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    let mut upstream = futures_util::stream::iter(chunks).boxed();
    let first = upstream.next().await.expect("a first chunk").expect("ok");
    let family = family(client);
    let record = PendingRecord::new(Arc::new(TracingObserver), "fixture".into(), family, "fixture");
    let relay = Relay::new(
        upstream,
        first,
        Translate::new(mapper(client, upstream_format).stream()),
        Duration::from_secs(5),
        family,
        "fixture".into(),
        record,
    );
    let out: Vec<Bytes> = relay.map(|chunk| chunk.expect("infallible")).collect().await;
    String::from_utf8(out.concat()).expect("utf-8")
}

#[tokio::test]
async fn translation_fixtures() {
    let update = std::env::var_os("UPDATE_FIXTURES").is_some();
    for path in fixtures() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut fixture: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let context = fixture.get("context").cloned().unwrap_or(json!({}));
        let (actual, error) = match fixture["kind"].as_str().unwrap() {
            "request" => {
                let endpoint = match context["endpoint"].as_str().unwrap() {
                    "messages" => Endpoint::Messages,
                    "generate_content" => Endpoint::GenerateContent,
                    "responses" => Endpoint::Responses,
                    _ => Endpoint::ChatCompletions,
                };
                let upstream = match (context["upstream"].as_str(), endpoint) {
                    (Some("gemini"), _) => WireFormat::Gemini,
                    (Some("anthropic"), _) | (None, Endpoint::ChatCompletions) => WireFormat::Anthropic,
                    _ => WireFormat::OpenAi,
                };
                let body = serde_json::to_vec(&fixture["in"]).unwrap();
                // Gemini clients say it in the path; fixtures say it in the context.
                let stream = fixture["in"]["stream"].as_bool().or(context["stream"].as_bool()).unwrap_or(false);
                let ctx = RequestContext {
                    requested_model: "gw/model",
                    upstream_model: "model",
                    stream,
                    max_output_tokens: context["max_output_tokens"].as_u64(),
                    upstream,
                };
                let family = match endpoint {
                    Endpoint::Messages => ApiFamily::Anthropic,
                    Endpoint::GenerateContent => ApiFamily::Gemini,
                    Endpoint::Responses => ApiFamily::Responses,
                    _ => ApiFamily::OpenAi,
                };
                match translate::request(endpoint, &body, &ctx) {
                    Ok(plan) => (serde_json::from_slice::<Value>(&plan.body).unwrap(), false),
                    Err(error) => (error.body_for(family), true),
                }
            }
            "whole" => {
                let body = serde_json::to_vec(&fixture["in"]).unwrap();
                let mapper = mapper(context["client"].as_str().unwrap(), context["upstream"].as_str());
                let (out, _usage) = mapper.whole(&body).unwrap();
                let mut out: Value = serde_json::from_slice(&out).unwrap();
                scrub(&mut out, &mut Vec::new());
                (out, false)
            }
            "stream" => {
                let client = context["client"].as_str().unwrap();
                let upstream = context["upstream"].as_str();
                let input = fixture["in"].as_str().unwrap().to_owned();
                let whole = run_stream(client, upstream, &input, input.len()).await;
                let (events, error) = parse_events(&whole);
                for split in [1, 2, 3, 7, 64] {
                    let text = run_stream(client, upstream, &input, split).await;
                    assert_eq!(parse_events(&text).0, events, "{name}: chunks of {split} bytes differ");
                }
                (Value::Array(events), error)
            }
            other => panic!("{name}: unknown kind {other}"),
        };
        if update {
            fixture["out"] = actual;
            if error {
                fixture["out_error"] = json!(true);
            }
            std::fs::write(&path, serde_json::to_string_pretty(&fixture).unwrap() + "\n").unwrap();
            continue;
        }
        assert_eq!(actual, fixture["out"], "{name}: output differs (UPDATE_FIXTURES=1 to regenerate)");
        assert_eq!(error, fixture["out_error"].as_bool().unwrap_or(false), "{name}: error ending");
    }
}

#[test]
fn gemini_count_tokens_estimate_reads_contents_and_wrapped_requests() {
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "a".repeat(40)}]}]});
    assert_eq!(translate::estimate_gemini_tokens(&serde_json::to_vec(&body).unwrap()).unwrap(), 10);
    let wrapped = json!({"generateContentRequest": {"model": "models/x",
        "systemInstruction": {"parts": [{"text": "abcd"}]},
        "contents": [{"role": "user", "parts": [{"text": "a".repeat(36)}]}]}});
    assert_eq!(translate::estimate_gemini_tokens(&serde_json::to_vec(&wrapped).unwrap()).unwrap(), 10);
}

#[test]
fn count_tokens_estimate_is_a_quarter_of_the_text() {
    let body = json!({"model": "m", "system": "abcd", "messages": [{"role": "user", "content": "a".repeat(396)}]});
    assert_eq!(translate::estimate_input_tokens(&serde_json::to_vec(&body).unwrap()).unwrap(), 100);
}
