//! Two translations in a row through OpenAI Chat, the hub format: Anthropic ⇄ Gemini goes
//! Anthropic ⇄ Chat ⇄ Gemini with the translators that already exist, instead of a third pair.
//! The first translator maps the upstream's events to Chat SSE bytes; those are cut into events
//! again (they are the gateway's own, `data:` lines ending in a blank line) and fed to the second.

use bytes::BytesMut;

use super::{Flow, StreamTranslator};
use crate::observe::Usage;

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
            (Flow::UpstreamError(message), _) | (_, Flow::UpstreamError(message)) => Flow::UpstreamError(message),
            (Flow::Done, _) | (_, Flow::Done) => Flow::Done,
            _ => Flow::Continue,
        }
    }

    fn usage(&self) -> Option<Usage> {
        self.upstream_to_hub.usage()
    }
}
