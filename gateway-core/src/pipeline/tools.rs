//! The tools stage: MCP tools added to a model request, and agent mode.
//!
//! A request asks for tools with `x-switchyard-mcp: server,server/tool` (or Bifrost's
//! `x-bf-mcp-include-clients: server,…` / `x-bf-mcp-include-tools: server-tool,server-*`), or
//! its task class does (`[task_classes.coding] mcp = ["filesystem"]`), or its virtual key has
//! `mcp_configs` (Bifrost's automatic tool injection). The chosen tools (those the key may use) are added to the request's `tools` in the client's own
//! API: Chat, Messages, Responses or Gemini. Nothing is read when nothing asks for tools.
//!
//! Agent mode, for whole (non-streamed) answers: when every tool call of an answer is to a tool
//! in its server's `tools_to_auto_execute`, the gateway runs them, adds the calls and their
//! results to the conversation and asks the model again, up to `[mcp] max_agent_depth` rounds.
//! An answer with a call the gateway may not run goes back to the client as it is.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, StatusCode};
use serde_json::{Map, Value, json};

use super::ingress::InferenceRequest;
use super::{Answer, attempts, plan};
use crate::error::ApiError;
use crate::governance::KeyEntry;
use crate::mcp::{CallOrigin, Caller, ToolAccess};
use crate::observe::PendingRecord;
use crate::state::AppState;
use crate::wire::{ApiFamily, Endpoint, Usage};

static SWITCHYARD_HEADER: HeaderName = HeaderName::from_static("x-switchyard-mcp");
static BF_CLIENTS_HEADER: HeaderName = HeaderName::from_static("x-bf-mcp-include-clients");
static BF_TOOLS_HEADER: HeaderName = HeaderName::from_static("x-bf-mcp-include-tools");

/// One thing asked for: a server's tools, or one tool.
#[derive(Debug, PartialEq)]
enum Selector {
    All,
    Server(String),
    Tool(String, String),
}

impl Selector {
    fn matches(&self, server: &str, tool: &str) -> bool {
        match self {
            Selector::All => true,
            Selector::Server(name) => name == server,
            Selector::Tool(name, wanted) => name == server && wanted.eq_ignore_ascii_case(tool),
        }
    }
}

fn header_list<'a>(headers: &'a HeaderMap, name: &HeaderName) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// What the request's headers and its class ask for; empty when nothing.
fn selectors(headers: &HeaderMap, class_tools: &[String], servers: &[String]) -> Vec<Selector> {
    let mut out = Vec::new();
    for entry in header_list(headers, &SWITCHYARD_HEADER).chain(class_tools.iter().map(String::as_str)) {
        out.push(match entry.split_once('/') {
            _ if entry == "*" => Selector::All,
            Some((server, "*")) => Selector::Server(server.to_owned()),
            Some((server, tool)) => Selector::Tool(server.to_owned(), tool.to_owned()),
            None => Selector::Server(entry.to_owned()),
        });
    }
    for entry in header_list(headers, &BF_CLIENTS_HEADER) {
        out.push(if entry == "*" { Selector::All } else { Selector::Server(entry.to_owned()) });
    }
    for entry in header_list(headers, &BF_TOOLS_HEADER) {
        // `server-tool` (`server-*`): the server is the longest configured name that prefixes it
        // (server names have no `-`; tool names may).
        let found = servers
            .iter()
            .filter(|server| {
                entry.len() > server.len()
                    && entry.starts_with(server.as_str())
                    && entry.as_bytes()[server.len()] == b'-'
            })
            .max_by_key(|server| server.len());
        if let Some(server) = found {
            let tool = &entry[server.len() + 1..];
            out.push(if tool == "*" {
                Selector::Server(server.clone())
            } else {
                Selector::Tool(server.clone(), tool.to_owned())
            });
        }
    }
    out
}

/// The tools stage's outcome: the body with the tools added, and agent mode's settings.
pub struct Injected {
    pub body: Bytes,
    pub agent: Option<Agent>,
}

pub struct Agent {
    caller: Caller,
    /// Served names the gateway may run itself.
    auto: HashSet<String>,
    max_depth: u32,
}

/// Adds the asked-for tools to the body (`None`: nothing asked, or nothing to add).
pub fn inject(
    state: &AppState,
    request: &InferenceRequest<'_>,
    class: Option<&str>,
    key: Option<&Arc<KeyEntry>>,
) -> Result<Option<Injected>, ApiError> {
    let hub = state.mcp();
    if hub.is_empty()
        || !matches!(
            request.endpoint,
            Endpoint::ChatCompletions | Endpoint::Messages | Endpoint::Responses | Endpoint::GenerateContent
        )
    {
        return Ok(None);
    }
    let headers = request.headers;
    let classes = state.routing().classes();
    let class_tools = class.and_then(|c| classes.get(c)).map(|c| c.mcp.as_slice()).unwrap_or_default();
    // A key with MCP tools has them added to its requests, as Bifrost's keys do.
    let key_tools = key.is_some_and(|k| !k.spec.mcp_configs.is_empty());
    let asked = !class_tools.is_empty()
        || key_tools
        || headers.contains_key(&SWITCHYARD_HEADER)
        || headers.contains_key(&BF_CLIENTS_HEADER)
        || headers.contains_key(&BF_TOOLS_HEADER);
    if !asked {
        return Ok(None);
    }
    let index = hub.index();
    let servers: Vec<String> = hub.slots().iter().map(|slot| slot.name.clone()).collect();
    let mut selectors = selectors(headers, class_tools, &servers);
    if key_tools {
        // What the key may use; `access` below narrows it to that.
        selectors.push(Selector::All);
    }
    let access = access_of(state, key);
    let chosen: Vec<&crate::mcp::ServedTool> = index
        .tools
        .iter()
        .filter(|served| {
            let (server, tool) = (served.server.name.as_str(), served.tool.name.as_ref());
            selectors.iter().any(|s| s.matches(server, tool)) && access.allows(server, tool)
        })
        .collect();
    if chosen.is_empty() {
        return Ok(None);
    }
    let mut body: Value =
        serde_json::from_slice(request.body).map_err(|err| ApiError::MalformedJson(err.to_string()))?;
    let Some(object) = body.as_object_mut() else {
        return Err(ApiError::invalid("request body must be a JSON object"));
    };
    add_tools(object, request.family, request.endpoint, &chosen);
    let body = Bytes::from(serde_json::to_vec(&body).map_err(|err| ApiError::Internal(err.to_string()))?);
    let auto: HashSet<String> = chosen
        .iter()
        .filter(|served| served.server.auto_executes(&served.tool.name))
        .map(|served| served.name.clone())
        .collect();
    let agent = (!request.stream && !auto.is_empty()).then(|| Agent {
        caller: Caller {
            client: request.caller.client.clone(),
            virtual_key: key.map(|k| k.spec.id.clone()),
            access,
            origin: CallOrigin::Agent,
        },
        auto,
        max_depth: hub.settings().max_agent_depth,
    });
    Ok(Some(Injected { body, agent }))
}

fn access_of(state: &AppState, key: Option<&Arc<KeyEntry>>) -> ToolAccess {
    match key {
        None => ToolAccess::All,
        Some(entry) => ToolAccess::Only(
            entry
                .spec
                .mcp_configs
                .iter()
                .map(|c| {
                    let name =
                        state.mcp().slot(&c.mcp_client_name).map_or(c.mcp_client_name.clone(), |s| s.name.clone());
                    (name, c.tools_to_execute.clone())
                })
                .collect(),
        ),
    }
}

/// A tool's input schema as Gemini takes it (no `$schema`).
fn gemini_schema(schema: &Map<String, Value>) -> Value {
    let mut schema = schema.clone();
    schema.remove("$schema");
    Value::Object(schema)
}

fn add_tools(body: &mut Map<String, Value>, family: ApiFamily, endpoint: Endpoint, chosen: &[&crate::mcp::ServedTool]) {
    let tools = body.entry("tools").or_insert_with(|| Value::Array(Vec::new()));
    if !tools.is_array() {
        *tools = Value::Array(Vec::new());
    }
    let Some(list) = tools.as_array_mut() else { return };
    let existing: HashSet<String> = list
        .iter()
        .flat_map(|t| {
            [t.pointer("/function/name"), t.get("name")]
                .into_iter()
                .flatten()
                .chain(
                    t.get("functionDeclarations")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|d| d.get("name")),
                )
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let fresh = chosen.iter().filter(|served| !existing.contains(&served.name));
    let describe = |served: &crate::mcp::ServedTool| served.tool.description.as_deref().unwrap_or_default().to_owned();
    match (family, endpoint) {
        (ApiFamily::Anthropic, _) => list.extend(fresh.map(|served| {
            json!({ "name": served.name, "description": describe(served), "input_schema": served.tool.input_schema })
        })),
        (ApiFamily::Gemini, _) => {
            let declarations: Vec<Value> = fresh
                .map(|served| {
                    json!({ "name": served.name, "description": describe(served), "parameters": gemini_schema(&served.tool.input_schema) })
                })
                .collect();
            if !declarations.is_empty() {
                list.push(json!({ "functionDeclarations": declarations }));
            }
        }
        (_, Endpoint::Responses) => list.extend(fresh.map(|served| {
            json!({ "type": "function", "name": served.name, "description": describe(served), "parameters": served.tool.input_schema })
        })),
        _ => list.extend(fresh.map(|served| {
            json!({ "type": "function", "function": { "name": served.name, "description": describe(served), "parameters": served.tool.input_schema } })
        })),
    }
}

/// A tool call found in an answer: its id, served name and arguments.
struct ToolCall {
    id: String,
    name: String,
    arguments: Option<Map<String, Value>>,
}

/// Runs agent rounds while every tool call of the answer may be run here.
pub async fn agent_loop(
    state: &AppState,
    request: &InferenceRequest<'_>,
    key: Option<&Arc<KeyEntry>>,
    agent: &Agent,
    mut answer: Answer,
    record: &mut PendingRecord,
) -> Result<Answer, ApiError> {
    let mut body: Value =
        serde_json::from_slice(request.body).map_err(|err| ApiError::MalformedJson(err.to_string()))?;
    let mut spent = Usage::default();
    for _ in 0..agent.max_depth {
        let Answer::Whole { status: StatusCode::OK, body: answer_body, usage, .. } = &answer else { break };
        let Ok(reply) = serde_json::from_slice::<Value>(answer_body) else { break };
        let calls = tool_calls(request.family, request.endpoint, &reply);
        if calls.is_empty() || !calls.iter().all(|call| agent.auto.contains(&call.name)) {
            break;
        }
        let runs = calls.iter().map(|call| {
            let hub = state.mcp().clone();
            async move {
                match hub.call_tool(&agent.caller, &call.name, call.arguments.clone(), None, None).await {
                    Ok(rmcp::model::CallToolResponse::Complete(result)) => {
                        (crate::mcp::result_content(&result), result.is_error == Some(true))
                    }
                    Ok(_) => ("the tool asked for input, which agent mode cannot give".to_owned(), true),
                    Err(err) => (err.to_string(), true),
                }
            }
        });
        let results = futures_util::future::join_all(runs).await;
        if let Some(usage) = usage {
            add_usage(&mut spent, usage);
        }
        continue_conversation(&mut body, request.family, request.endpoint, &reply, &calls, &results);
        let next = Bytes::from(serde_json::to_vec(&body).map_err(|err| ApiError::Internal(err.to_string()))?);
        let next_request = request.with_body(&next)?;
        let next_plan = plan::plan(state, &next_request, key, record).await?;
        answer = attempts::run(state, &next_request, next_plan, record).await?;
    }
    if let Answer::Whole { usage: Some(usage), .. } = &mut answer {
        add_usage(usage, &spent);
    }
    Ok(answer)
}

fn add_usage(total: &mut Usage, more: &Usage) {
    total.input_tokens += more.input_tokens;
    total.output_tokens += more.output_tokens;
    total.cached_input_tokens += more.cached_input_tokens;
    total.cache_write_tokens += more.cache_write_tokens;
    total.reasoning_tokens += more.reasoning_tokens;
}

fn arguments(value: Option<&Value>) -> Option<Map<String, Value>> {
    match value {
        Some(Value::Object(map)) => Some(map.clone()),
        Some(Value::String(text)) => serde_json::from_str(text).ok(),
        _ => None,
    }
}

fn text(value: Option<&Value>) -> String {
    value.and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn tool_calls(family: ApiFamily, endpoint: Endpoint, reply: &Value) -> Vec<ToolCall> {
    let none = Vec::new();
    match (family, endpoint) {
        (ApiFamily::Anthropic, _) => reply["content"]
            .as_array()
            .unwrap_or(&none)
            .iter()
            .filter(|block| block["type"] == "tool_use")
            .map(|block| ToolCall {
                id: text(block.get("id")),
                name: text(block.get("name")),
                arguments: arguments(block.get("input")),
            })
            .collect(),
        (ApiFamily::Gemini, _) => reply
            .pointer("/candidates/0/content/parts")
            .and_then(Value::as_array)
            .unwrap_or(&none)
            .iter()
            .filter_map(|part| part.get("functionCall"))
            .map(|call| ToolCall {
                id: String::new(),
                name: text(call.get("name")),
                arguments: arguments(call.get("args")),
            })
            .collect(),
        (_, Endpoint::Responses) => reply["output"]
            .as_array()
            .unwrap_or(&none)
            .iter()
            .filter(|item| item["type"] == "function_call")
            .map(|item| ToolCall {
                id: text(item.get("call_id")),
                name: text(item.get("name")),
                arguments: arguments(item.get("arguments")),
            })
            .collect(),
        _ => reply
            .pointer("/choices/0/message/tool_calls")
            .and_then(Value::as_array)
            .unwrap_or(&none)
            .iter()
            .map(|call| ToolCall {
                id: text(call.get("id")),
                name: text(call.pointer("/function/name")),
                arguments: arguments(call.pointer("/function/arguments")),
            })
            .collect(),
    }
}

/// Adds the model's calls and the tools' results to the conversation, in the client's API.
fn continue_conversation(
    body: &mut Value,
    family: ApiFamily,
    endpoint: Endpoint,
    reply: &Value,
    calls: &[ToolCall],
    results: &[(String, bool)],
) {
    let push = |body: &mut Value, field: &str, items: Vec<Value>| {
        if !body[field].is_array() {
            // Responses' `input` may be a plain string: the user's turn.
            let first = body.get(field).filter(|v| v.is_string()).map(|v| json!({"role": "user", "content": v}));
            body[field] = Value::Array(first.into_iter().collect());
        }
        if let Some(list) = body[field].as_array_mut() {
            list.extend(items);
        }
    };
    match (family, endpoint) {
        (ApiFamily::Anthropic, _) => {
            let results: Vec<Value> = calls
                .iter()
                .zip(results)
                .map(|(call, (content, is_error))| {
                    json!({ "type": "tool_result", "tool_use_id": call.id, "content": content, "is_error": is_error })
                })
                .collect();
            push(
                body,
                "messages",
                vec![
                    json!({"role": "assistant", "content": reply["content"]}),
                    json!({"role": "user", "content": results}),
                ],
            );
        }
        (ApiFamily::Gemini, _) => {
            let parts: Vec<Value> = calls
                .iter()
                .zip(results)
                .map(|(call, (content, _))| json!({ "functionResponse": { "name": call.name, "response": { "result": content } } }))
                .collect();
            let model_turn =
                reply.pointer("/candidates/0/content").cloned().unwrap_or(json!({"role": "model", "parts": []}));
            push(body, "contents", vec![model_turn, json!({"role": "user", "parts": parts})]);
        }
        (_, Endpoint::Responses) => {
            let mut items: Vec<Value> = reply["output"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|i| i["type"] == "function_call")
                .cloned()
                .collect();
            items.extend(calls.iter().zip(results).map(
                |(call, (content, _))| json!({ "type": "function_call_output", "call_id": call.id, "output": content }),
            ));
            push(body, "input", items);
        }
        _ => {
            let mut items = vec![reply.pointer("/choices/0/message").cloned().unwrap_or(Value::Null)];
            items.extend(
                calls
                    .iter()
                    .zip(results)
                    .map(|(call, (content, _))| json!({ "role": "tool", "tool_call_id": call.id, "content": content })),
            );
            push(body, "messages", items);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap())).collect()
    }

    #[test]
    fn selectors_read_switchyards_and_bifrosts_headers() {
        let servers = vec!["fs".to_owned(), "web_tools".to_owned()];
        let got = selectors(
            &headers(&[
                ("x-switchyard-mcp", "fs, web_tools/fetch"),
                ("x-bf-mcp-include-tools", "web_tools-get-page,fs-*,unknown-x"),
            ]),
            &[],
            &servers,
        );
        assert_eq!(
            got,
            vec![
                Selector::Server("fs".into()),
                Selector::Tool("web_tools".into(), "fetch".into()),
                Selector::Tool("web_tools".into(), "get-page".into()),
                Selector::Server("fs".into()),
            ]
        );
        assert_eq!(selectors(&headers(&[("x-bf-mcp-include-clients", "*")]), &[], &servers), vec![Selector::All]);
        assert_eq!(
            selectors(&headers(&[]), &["fs/read".into()], &servers),
            vec![Selector::Tool("fs".into(), "read".into())]
        );
        assert!(selectors(&headers(&[]), &[], &servers).is_empty());
    }

    #[test]
    fn a_chat_answers_calls_become_the_next_turn() {
        let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "add"}]});
        let reply = json!({"choices": [{"message": {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "web_add", "arguments": "{\"a\":1,\"b\":2}"}}
        ]}}]});
        let calls = tool_calls(ApiFamily::OpenAi, Endpoint::ChatCompletions, &reply);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].arguments.as_ref().unwrap()["b"], 2);
        continue_conversation(
            &mut body,
            ApiFamily::OpenAi,
            Endpoint::ChatCompletions,
            &reply,
            &calls,
            &[("3".into(), false)],
        );
        assert_eq!(body["messages"][2], json!({"role": "tool", "tool_call_id": "call_1", "content": "3"}));
        assert_eq!(body["messages"][1]["tool_calls"][0]["id"], "call_1");
    }

    #[test]
    fn a_messages_answers_tool_uses_become_tool_results() {
        let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "add"}]});
        let reply = json!({"content": [{"type": "text", "text": "sure"}, {"type": "tool_use", "id": "tu_1", "name": "web_add", "input": {"a": 1}}]});
        let calls = tool_calls(ApiFamily::Anthropic, Endpoint::Messages, &reply);
        continue_conversation(
            &mut body,
            ApiFamily::Anthropic,
            Endpoint::Messages,
            &reply,
            &calls,
            &[("boom".into(), true)],
        );
        assert_eq!(body["messages"][1]["role"], "assistant");
        assert_eq!(
            body["messages"][2]["content"][0],
            json!({"type": "tool_result", "tool_use_id": "tu_1", "content": "boom", "is_error": true})
        );
    }

    #[test]
    fn responses_string_input_becomes_a_list() {
        let mut body = json!({"model": "m", "input": "add"});
        let reply =
            json!({"output": [{"type": "function_call", "call_id": "fc_1", "name": "web_add", "arguments": "{}"}]});
        let calls = tool_calls(ApiFamily::Responses, Endpoint::Responses, &reply);
        continue_conversation(
            &mut body,
            ApiFamily::Responses,
            Endpoint::Responses,
            &reply,
            &calls,
            &[("3".into(), false)],
        );
        assert_eq!(body["input"][0], json!({"role": "user", "content": "add"}));
        assert_eq!(body["input"][2], json!({"type": "function_call_output", "call_id": "fc_1", "output": "3"}));
    }
}
