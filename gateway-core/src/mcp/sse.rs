//! The older HTTP+SSE transport (MCP 2024-11-05), which the SDK no longer has: a GET opens an
//! event stream whose first event (`endpoint`) names the URL to POST messages to; the server's
//! messages arrive as `message` events on the stream. Events are read with the gateway's own
//! bounded SSE decoder.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use rmcp::service::{RoleClient, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::sync::{mpsc, oneshot};

use crate::pipeline::sse::EventDecoder;

/// The largest event accepted from the server.
const MAX_EVENT: usize = 16 * 1024 * 1024;
/// Messages read ahead of the SDK.
const QUEUE: usize = 64;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SseError(String);

pub struct SseTransport {
    client: reqwest::Client,
    endpoint: reqwest::Url,
    headers: http::HeaderMap,
    messages: mpsc::Receiver<RxJsonRpcMessage<RoleClient>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for SseTransport {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl SseTransport {
    /// Opens the stream and waits for the server to name its message endpoint.
    pub async fn connect(
        client: reqwest::Client,
        url: &str,
        headers: HashMap<http::HeaderName, http::HeaderValue>,
    ) -> Result<SseTransport, String> {
        let base = reqwest::Url::parse(url).map_err(|err| format!("`{url}` is not a URL: {err}"))?;
        let headers: http::HeaderMap = headers.into_iter().collect();
        let response = client
            .get(base.clone())
            .headers(headers.clone())
            .header(http::header::ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(|err| format!("cannot open the event stream: {err}"))?;
        if !response.status().is_success() {
            return Err(format!("the event stream answered {}", response.status()));
        }
        let (endpoint_tx, endpoint_rx) = oneshot::channel::<String>();
        let (messages_tx, messages) = mpsc::channel(QUEUE);
        let reader = tokio::spawn(read_events(response, endpoint_tx, messages_tx));
        let endpoint = tokio::time::timeout(Duration::from_secs(15), endpoint_rx)
            .await
            .map_err(|_| "the server sent no `endpoint` event".to_owned())?
            .map_err(|_| "the event stream ended before the `endpoint` event".to_owned())?;
        let endpoint =
            base.join(endpoint.trim()).map_err(|err| format!("the endpoint `{endpoint}` is not a URL: {err}"))?;
        if endpoint.origin() != base.origin() {
            reader.abort();
            return Err(format!("the server named an endpoint on another origin ({endpoint}); refused"));
        }
        Ok(SseTransport { client, endpoint, headers, messages, reader })
    }
}

async fn read_events(
    response: reqwest::Response,
    endpoint: oneshot::Sender<String>,
    messages: mpsc::Sender<RxJsonRpcMessage<RoleClient>>,
) {
    let mut endpoint = Some(endpoint);
    let mut decoder = EventDecoder::new(MAX_EVENT);
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else { break };
        let mut parsed = Vec::new();
        let decoded = decoder.feed(&chunk, |event| {
            match event.name.unwrap_or("message") {
                "endpoint" => {
                    if let Some(tx) = endpoint.take() {
                        let _ = tx.send(String::from_utf8_lossy(event.data).into_owned());
                    }
                }
                "message" => match serde_json::from_slice::<RxJsonRpcMessage<RoleClient>>(event.data) {
                    Ok(message) => parsed.push(message),
                    Err(err) => tracing::debug!(error = %err, "MCP (sse): a message that is not JSON-RPC; skipped"),
                },
                _ => {}
            }
            true
        });
        for message in parsed {
            if messages.send(message).await.is_err() {
                return;
            }
        }
        if decoded.is_err() {
            tracing::warn!("MCP (sse): an event larger than {MAX_EVENT} bytes; the stream is closed");
            break;
        }
    }
    // The stream ended: the SDK sees the transport close (`receive` answers None).
}

impl Transport<RoleClient> for SseTransport {
    type Error = SseError;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), SseError>> + Send + 'static {
        let request = self.client.post(self.endpoint.clone()).headers(self.headers.clone()).json(&item);
        async move {
            let response = request.send().await.map_err(|err| SseError(format!("cannot send a message: {err}")))?;
            if !response.status().is_success() {
                return Err(SseError(format!("the server refused a message: {}", response.status())));
            }
            Ok(())
        }
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleClient>>> + Send {
        self.messages.recv()
    }

    fn close(&mut self) -> impl Future<Output = Result<(), SseError>> + Send {
        self.reader.abort();
        self.messages.close();
        std::future::ready(Ok(()))
    }
}
