//! Two stream translators in a row, for client and upstream formats that meet through a hub
//! format (a Responses client in front of Anthropic: Anthropic events → Chat chunks → Responses
//! events). The first writes hub events into a reused buffer; they are cut into events again
//! and fed to the second, which writes the client's bytes. Nothing waits for more than the
//! upstream event at hand.

use bytes::BytesMut;

use super::{Flow, StreamTranslator};
use crate::error::ApiError;
use crate::observe::Usage;

pub struct Chain {
    first: Box<dyn StreamTranslator>,
    second: Box<dyn StreamTranslator>,
    hub: BytesMut,
}

impl Chain {
    pub fn new(first: Box<dyn StreamTranslator>, second: Box<dyn StreamTranslator>) -> Chain {
        Chain { first, second, hub: BytesMut::new() }
    }
}

impl StreamTranslator for Chain {
    fn event(&mut self, name: Option<&str>, data: &[u8], out: &mut BytesMut) -> Flow {
        self.hub.clear();
        let first = self.first.event(name, data, &mut self.hub);
        let hub = self.hub.split().freeze();
        // The hub bytes are whole SSE events written by the first translator (`write_event`):
        // `event:` and `data:` lines, each event ended by a blank line.
        for event in hub.split(|b| *b == b'\n').collect::<Vec<_>>().split(|line| line.is_empty()) {
            let mut event_name = None;
            let mut payload: &[u8] = &[];
            for line in event {
                if let Some(rest) = line.strip_prefix(b"event: ") {
                    event_name = std::str::from_utf8(rest).ok();
                } else if let Some(rest) = line.strip_prefix(b"data: ") {
                    payload = rest;
                }
            }
            if payload.is_empty() {
                continue;
            }
            match self.second.event(event_name, payload, out) {
                Flow::Continue => {}
                other => return other,
            }
        }
        first
    }

    /// The upstream's own usage, as the first translator read it.
    fn usage(&self) -> Option<Usage> {
        self.first.usage().or_else(|| self.second.usage())
    }

    fn error_event(&mut self, error: &ApiError, out: &mut BytesMut) -> bool {
        self.second.error_event(error, out)
    }
}
