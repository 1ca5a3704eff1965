//! A circuit breaker per provider: after `THRESHOLD` failures in a row the provider is skipped
//! for a cool-down; then one request probes it (half-open) and a success closes the breaker.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const THRESHOLD: u32 = 5;
const COOL_DOWN: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub struct CircuitBreaker {
    failures: AtomicU32,
    /// Milliseconds since `epoch()` until which the breaker is open; 0 when closed.
    open_until_ms: AtomicU64,
    probing: AtomicBool,
}

fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Milliseconds on a clock that starts at 1,000 (so 0 can mean "closed").
fn now_ms() -> u64 {
    u64::try_from(epoch().elapsed().as_millis()).unwrap_or(u64::MAX - 1_000) + 1_000
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitBreaker {
    pub fn state(&self) -> BreakerState {
        let until = self.open_until_ms.load(Ordering::Relaxed);
        if until == 0 {
            BreakerState::Closed
        } else if now_ms() < until {
            BreakerState::Open
        } else {
            BreakerState::HalfOpen
        }
    }

    /// Whether a request may go to the provider now. In half-open state one request at a time
    /// is let through as the probe.
    pub fn allows(&self) -> bool {
        match self.state() {
            BreakerState::Closed => true,
            BreakerState::Open => false,
            BreakerState::HalfOpen => !self.probing.swap(true, Ordering::AcqRel),
        }
    }

    /// [`CircuitBreaker::allows`] for one request's attempts: the answer holds the half-open
    /// probe, if this request got it, until it is dropped. A probe that ends with neither a
    /// success nor a failure recorded (the client went away, the request was refused for its
    /// own sake) is released then, so the provider is not skipped for good.
    pub fn admit(&self) -> Admission<'_> {
        let state = self.state();
        let (allowed, probe) = match state {
            BreakerState::Closed => (true, false),
            BreakerState::Open => (false, false),
            BreakerState::HalfOpen => {
                let took = !self.probing.swap(true, Ordering::AcqRel);
                (took, took)
            }
        };
        Admission { breaker: self, allowed, probe }
    }

    pub fn record_success(&self) {
        self.failures.store(0, Ordering::Relaxed);
        self.open_until_ms.store(0, Ordering::Relaxed);
        self.probing.store(false, Ordering::Release);
    }

    pub fn record_failure(&self) {
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let probing = self.probing.swap(false, Ordering::AcqRel);
        if failures >= THRESHOLD || probing {
            let until = now_ms() + u64::try_from(COOL_DOWN.as_millis()).unwrap_or(30_000);
            self.open_until_ms.store(until, Ordering::Relaxed);
        }
    }

    /// For tests: ends the cool-down now.
    pub fn expire_cool_down(&self) {
        if self.open_until_ms.load(Ordering::Relaxed) != 0 {
            self.open_until_ms.store(now_ms(), Ordering::Relaxed);
        }
    }
}

/// A request's admission by the breaker; releases the probe it holds when dropped.
pub struct Admission<'a> {
    breaker: &'a CircuitBreaker,
    allowed: bool,
    probe: bool,
}

impl Admission<'_> {
    pub fn allowed(&self) -> bool {
        self.allowed
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        if self.probe {
            self.breaker.probing.store(false, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_repeated_failures_and_recovers_through_a_probe() {
        let breaker = CircuitBreaker::default();
        for _ in 0..THRESHOLD - 1 {
            breaker.record_failure();
            assert!(breaker.allows());
        }
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Open);
        assert!(!breaker.allows());
        breaker.expire_cool_down();
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert!(breaker.allows(), "one probe goes through");
        assert!(!breaker.allows(), "only one");
        breaker.record_failure();
        assert_eq!(breaker.state(), BreakerState::Open, "a failed probe opens it again");
        breaker.expire_cool_down();
        assert!(breaker.allows());
        breaker.record_success();
        assert_eq!(breaker.state(), BreakerState::Closed);
        assert!(breaker.allows() && breaker.allows());
    }

    #[test]
    fn a_probe_that_ends_unrecorded_is_released() {
        let breaker = CircuitBreaker::default();
        for _ in 0..THRESHOLD {
            breaker.record_failure();
        }
        breaker.expire_cool_down();
        {
            let probe = breaker.admit();
            assert!(probe.allowed(), "the probe goes through");
            assert!(!breaker.admit().allowed(), "only one at a time");
            // Dropped with no answer recorded: the client went away mid-probe.
        }
        assert!(breaker.admit().allowed(), "the next request may probe");
        let open = breaker.admit();
        breaker.record_failure();
        drop(open);
        assert_eq!(breaker.state(), BreakerState::Open, "a failed probe still opens it");
    }
}
