//! The response cache: answers stored after they reached the client whole and served again for
//! the same request (exact) or a near-identical one (semantic). Filled in by issue 14.

use std::sync::atomic::{AtomicU64, Ordering};

/// The gateway's response cache.
#[derive(Default)]
pub struct ResponseCache {
    bytes: AtomicU64,
    entries: AtomicU64,
}

impl ResponseCache {
    /// Bytes the stored entries take (bodies, keys and vectors), for `switchyard_cache_bytes`.
    pub fn stored_bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Entries stored.
    pub fn entries(&self) -> u64 {
        self.entries.load(Ordering::Relaxed)
    }
}
