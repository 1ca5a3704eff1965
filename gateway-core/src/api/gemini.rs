//! The Gemini API (generativelanguage v1beta), what Gemini CLI and Google's SDKs speak:
//! `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`,
//! `:countTokens`, and `GET /v1beta/models[/{model}]`, the same under `/genai/v1beta/`. The model
//! is in the path: a task class (`coding`), a `provider/model` id or a bare model id, resolved
//! like any other. The client's key (`x-goog-api-key` or `?key=`) is ignored: the gateway uses
//! its own provider keys. Errors use Google's shape `{"error": {"code", "message", "status"}}`.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::pipeline::{self, FromPath};
use crate::state::AppState;
use crate::wire::{ApiFamily, Endpoint};

/// `POST …/models/{model}:{method}`.
pub async fn call(State(state): State<AppState>, Path(rest): Path<String>, request: Request) -> Response {
    let no_route = || {
        let path = request.uri().path().to_owned();
        ApiError::RouteNotFound { method: "POST".into(), path }.into_response_for(ApiFamily::Gemini)
    };
    let Some((model, method)) = rest.rsplit_once(':') else {
        return no_route();
    };
    let model = crate::providers::gemini::bare_name(model).to_owned();
    let sse = request.uri().query().is_some_and(|q| q.split('&').any(|pair| pair == "alt=sse"));
    let (endpoint, stream) = match method {
        "generateContent" => (Endpoint::GenerateContent, false),
        "streamGenerateContent" if sse => (Endpoint::GenerateContent, true),
        "streamGenerateContent" => {
            return ApiError::invalid(
                "streamGenerateContent is served as server-sent events only: add `?alt=sse` (Google's SDKs and Gemini CLI do)",
            )
            .into_response_for(ApiFamily::Gemini);
        }
        "countTokens" => (Endpoint::GeminiCountTokens, false),
        _ => return no_route(),
    };
    if model.is_empty() {
        return ApiError::invalid("the path names no model").into_response_for(ApiFamily::Gemini);
    }
    let (parts, body) = request.into_parts();
    pipeline::serve(state, ApiFamily::Gemini, endpoint, parts, body, Some(FromPath { model, stream })).await
}

/// `GET …/models`: every provider's models as `models/provider/model`, and the task classes.
pub async fn models(State(state): State<AppState>, headers: http::HeaderMap, uri: http::Uri) -> Json<Value> {
    state.ensure_catalog().await;
    let catalog = state.catalog().snapshot();
    let key = crate::pipeline::policy::listing_key(&state, &headers, uri.query());
    let mut models: Vec<Value> = catalog
        .providers
        .iter()
        .flat_map(|(provider, list)| {
            let key = key.clone();
            list.models.iter().filter(move |model| key.as_ref().is_none_or(|k| k.allows(provider, model))).map(
                move |model| {
                    let details = list.details.get(model);
                    entry(
                        &format!("{provider}/{model}"),
                        details.and_then(|d| d.context_window),
                        details.and_then(|d| d.max_output_tokens),
                    )
                },
            )
        })
        .collect();
    models.extend(state.routing().resolved().classes.keys().map(|class| entry(class, None, None)));
    Json(json!({ "models": models }))
}

/// `GET …/models/{model}`: one model, when the catalog or the task classes know it.
pub async fn model(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: http::HeaderMap,
    uri: http::Uri,
) -> Response {
    let name = crate::providers::gemini::bare_name(&name).to_owned();
    let Json(list) = models(State(state), headers, uri).await;
    let wanted = format!("models/{name}");
    let found = list["models"].as_array().and_then(|all| all.iter().find(|m| m["name"] == wanted.as_str())).cloned();
    match found {
        Some(model) => Json(model).into_response(),
        None => ApiError::ModelNotFound { message: format!("model `{name}` is not served by any provider") }
            .into_response_for(ApiFamily::Gemini),
    }
}

fn entry(id: &str, input_limit: Option<u64>, output_limit: Option<u64>) -> Value {
    let mut model = json!({
        "name": format!("models/{id}"),
        "baseModelId": id,
        "version": "switchyard",
        "displayName": id,
        "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
    });
    if let Some(limit) = input_limit {
        model["inputTokenLimit"] = json!(limit);
    }
    if let Some(limit) = output_limit {
        model["outputTokenLimit"] = json!(limit);
    }
    model
}
