//! The older HTTP+SSE transport (MCP 2024-11-05), which the SDK no longer has: a GET opens an
//! event stream whose first event (`endpoint`) names the URL to POST messages to; the server's
//! messages arrive as `message` events on the stream. Events are cut from the stream here (a
//! bounded buffer; the pipeline's decoder sits a layer above).

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use rmcp::service::{RoleClient, RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::sync::{mpsc, oneshot};

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
    let mut events = Events::default();
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else { break };
        events.buffer.extend_from_slice(&chunk);
        while let Some((name, data)) = events.next() {
            match name.as_deref().unwrap_or("message") {
                "endpoint" => {
                    if let Some(tx) = endpoint.take() {
                        let _ = tx.send(data);
                    }
                }
                "message" => match serde_json::from_str::<RxJsonRpcMessage<RoleClient>>(&data) {
                    Ok(message) => {
                        if messages.send(message).await.is_err() {
                            return;
                        }
                    }
                    Err(err) => tracing::debug!(error = %err, "MCP (sse): a message that is not JSON-RPC; skipped"),
                },
                _ => {}
            }
        }
        if events.buffer.len() > MAX_EVENT {
            tracing::warn!("MCP (sse): an event larger than {MAX_EVENT} bytes; the stream is closed");
            break;
        }
    }
    // The stream ended: the SDK sees the transport close (`receive` answers None).
}

/// Cuts events (`event:` and `data:` lines up to a blank line) from the bytes received.
#[derive(Default)]
struct Events {
    buffer: Vec<u8>,
}

impl Events {
    /// The next complete event's name and data, if one has arrived.
    fn next(&mut self) -> Option<(Option<String>, String)> {
        loop {
            let text = std::str::from_utf8(&self.buffer).ok().or_else(|| {
                // A multi-byte character cut at the chunk's end: read up to it.
                let valid = std::str::from_utf8(&self.buffer).err()?.valid_up_to();
                std::str::from_utf8(&self.buffer[..valid]).ok()
            })?;
            let (end, gap) = [("\r\n\r\n", 4), ("\n\n", 2)]
                .iter()
                .filter_map(|(sep, len)| text.find(sep).map(|at| (at, *len)))
                .min_by_key(|(at, _)| *at)?;
            let block = text[..end].to_owned();
            self.buffer.drain(..end + gap);
            let mut name = None;
            let mut data: Vec<&str> = Vec::new();
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("data:") {
                    data.push(value.strip_prefix(' ').unwrap_or(value));
                } else if let Some(value) = line.strip_prefix("event:") {
                    name = Some(value.trim().to_owned());
                }
            }
            if !data.is_empty() {
                return Some((name, data.join("\n")));
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_cut_at_blank_lines_whatever_the_chunks() {
        let mut events = Events::default();
        events
            .buffer
            .extend_from_slice(b"event: endpoint\r\ndata: /messages/?session_id=1\r\n\r\n: ping\n\nevent: mes");
        assert_eq!(events.next(), Some((Some("endpoint".into()), "/messages/?session_id=1".into())));
        assert_eq!(events.next(), None, "a comment is no event; the rest waits");
        events.buffer.extend_from_slice(b"sage\ndata: {\"a\":\ndata: 1}\n\n");
        assert_eq!(events.next(), Some((Some("message".into()), "{\"a\":\n1}".into())));
        assert!(events.buffer.is_empty());
    }
}
