//! Two stream translators in a row through OpenAI Chat, the hub format, for client and upstream
//! formats without a translator of their own: Anthropic ⇄ Gemini, and a Responses client in
//! front of Anthropic or Gemini (upstream events → Chat chunks → the client's events), with the
//! translators that already exist instead of a new pair each. The first writes hub events into
//! a reused buffer; they are cut into events again (the gateway's own: `event:` and `data:`
//! lines, each event ended by a blank line) and fed to the second, which writes the client's
//! bytes. Nothing waits for more than the upstream event at hand.

use bytes::BytesMut;

use super::{Flow, StreamTranslator};
use crate::error::ApiError;
use crate::wire::Usage;

pub struct Chained {
    upstream_to_hub: Box<dyn StreamTranslator>,
    hub_to_client: Box<dyn StreamTranslator>,
    hub: BytesMut,
}

impl Chained {
    pub fn new(upstream_to_hub: Box<dyn StreamTranslator>, hub_to_client: Box<dyn StreamTranslator>) -> Chained {
        Chained { upstream_to_hub, hub_to_client, hub: BytesMut::new() }
    }
}

impl StreamTranslator for Chained {
    fn event(&mut self, name: Option<&str>, data: &[u8], out: &mut BytesMut) -> Flow {
        self.hub.clear();
        let first = self.upstream_to_hub.event(name, data, &mut self.hub);
        let mut second = Flow::Continue;
        let hub = std::mem::take(&mut self.hub);
        let lines: Vec<&[u8]> = hub[..].split(|b| *b == b'\n').collect();
        for event in lines.split(|line| line.is_empty()) {
            let mut event_name = None;
            let mut payload: Vec<u8> = Vec::new();
            for line in event {
                if let Some(data) = line.strip_prefix(b"data: ") {
                    if !payload.is_empty() {
                        payload.push(b'\n');
                    }
                    payload.extend_from_slice(data);
                } else if let Some(value) = line.strip_prefix(b"event: ") {
                    event_name = Some(String::from_utf8_lossy(value).into_owned());
                }
            }
            if payload.is_empty() {
                continue;
            }
            match self.hub_to_client.event(event_name.as_deref(), &payload, out) {
                Flow::Continue => {}
                flow => {
                    second = flow;
                    break;
                }
            }
        }
        self.hub = hub;
        match (first, second) {
            (Flow::Failed(message), _) | (_, Flow::Failed(message)) => Flow::Failed(message),
            (Flow::UpstreamError(message), _) | (_, Flow::UpstreamError(message)) => Flow::UpstreamError(message),
            (Flow::Done, _) | (_, Flow::Done) => Flow::Done,
            _ => Flow::Continue,
        }
    }

    /// The upstream's own usage, as the first translator read it.
    fn usage(&self) -> Option<Usage> {
        self.upstream_to_hub.usage().or_else(|| self.hub_to_client.usage())
    }

    /// The client's format decides what a failed stream ends with (Responses: `response.failed`).
    fn error_event(&mut self, error: &ApiError, out: &mut BytesMut) -> bool {
        self.hub_to_client.error_event(error, out)
    }
}
