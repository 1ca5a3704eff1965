//! One limit over one window: requests, tokens or dollars (in micro-dollars, so sums are exact).
//!
//! Admission and charging are separate because a request's tokens and cost are known only when
//! it ends. A request is admitted while `used + reserved` is under the limit and reserves its
//! estimate (1 for a request count, so request limits are exact: of 500 requests at once against
//! 100 a minute, 100 pass); at the end it settles, giving the reservation back and charging what
//! it really used. So a token or dollar limit is overrun at most by what the requests already in
//! flight when it was reached spend beyond their estimates. The lock is a plain mutex held for a
//! few arithmetic steps, never across an await.

use std::sync::Mutex;

use super::reset::ResetDuration;

pub struct Meter {
    pub limit: u64,
    pub duration: ResetDuration,
    pub calendar: bool,
    state: Mutex<MeterState>,
}

/// What is persisted of a meter, and shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MeterState {
    /// The current window, Unix milliseconds.
    pub window_start: i64,
    pub window_end: i64,
    /// Charged in this window.
    pub used: u64,
    /// Held by requests in flight.
    #[serde(skip)]
    pub reserved: u64,
}

/// The limit is reached until `resets_at` (Unix ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exhausted {
    pub resets_at: i64,
}

impl Meter {
    /// A meter whose window starts now, or continues a persisted one.
    pub fn new(limit: u64, duration: ResetDuration, calendar: bool, now: i64, saved: Option<MeterState>) -> Meter {
        let (window_start, window_end) = duration.window(now, now, calendar);
        let mut state = MeterState { window_start, window_end, used: 0, reserved: 0 };
        if let Some(saved) = saved {
            state.window_start = saved.window_start;
            state.window_end = saved.window_end;
            state.used = saved.used;
        }
        let meter = Meter { limit, duration, calendar, state: Mutex::new(state) };
        meter.with(now, |_| ());
        meter
    }

    fn with<T>(&self, now: i64, f: impl FnOnce(&mut MeterState) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if now >= state.window_end || now < state.window_start {
            let (start, end) = self.duration.window(state.window_start, now, self.calendar);
            state.window_start = start;
            state.window_end = end;
            state.used = 0;
        }
        f(&mut state)
    }

    /// Admits a request that reserves `estimate`, or says when the limit resets.
    pub fn try_reserve(&self, now: i64, estimate: u64) -> Result<(), Exhausted> {
        let limit = self.limit;
        self.with(now, |state| {
            let held = state.used.saturating_add(state.reserved);
            if held >= limit || held.saturating_add(estimate) > limit.max(estimate) {
                return Err(Exhausted { resets_at: state.window_end });
            }
            state.reserved = state.reserved.saturating_add(estimate);
            Ok(())
        })
    }

    /// Admits a request while what is spent and held by requests in flight is under the limit,
    /// and holds `estimate` for it (tokens and dollars: the last request admitted may take the
    /// spend past the limit by what it costs, no more).
    pub fn hold(&self, now: i64, estimate: u64) -> Result<(), Exhausted> {
        let limit = self.limit;
        self.with(now, |state| {
            if state.used.saturating_add(state.reserved) >= limit {
                return Err(Exhausted { resets_at: state.window_end });
            }
            state.reserved = state.reserved.saturating_add(estimate);
            Ok(())
        })
    }

    /// Whether a new request would be admitted now (no reservation taken).
    pub fn has_room(&self, now: i64) -> Result<(), Exhausted> {
        let limit = self.limit;
        self.with(now, |state| {
            if state.used.saturating_add(state.reserved) >= limit {
                Err(Exhausted { resets_at: state.window_end })
            } else {
                Ok(())
            }
        })
    }

    /// Gives back a reservation and charges what was really used.
    pub fn settle(&self, now: i64, reserved: u64, used: u64) {
        self.with(now, |state| {
            state.reserved = state.reserved.saturating_sub(reserved);
            state.used = state.used.saturating_add(used);
        });
    }

    /// Starts the window over with nothing used (`reset_budget_usage`).
    pub fn reset(&self, now: i64) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (start, end) = self.duration.window(now, now, self.calendar);
        state.window_start = start;
        state.window_end = end;
        state.used = 0;
    }

    pub fn snapshot(&self, now: i64) -> MeterState {
        self.with(now, |state| *state)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn minute() -> ResetDuration {
        ResetDuration::parse("1m").unwrap()
    }

    #[test]
    fn of_500_requests_at_once_exactly_the_limit_pass() {
        let meter = Arc::new(Meter::new(100, minute(), false, 0, None));
        let admitted = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..63 {
                        if meter.try_reserve(1_000, 1).is_ok() {
                            admitted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(admitted.into_inner(), 100);
        assert_eq!(meter.try_reserve(59_999, 1), Err(Exhausted { resets_at: 60_000 }));
        // The next window admits again.
        for _ in 0..100 {
            meter.settle(1_000, 1, 1);
        }
        assert!(meter.try_reserve(60_000, 1).is_ok());
        assert_eq!(meter.snapshot(60_000).used, 0);
    }

    #[test]
    fn a_spend_limit_is_overrun_only_by_what_was_in_flight() {
        let meter = Meter::new(1_000, minute(), false, 0, None);
        // Three requests admitted with no estimate, each spending 600: the first two overrun
        // only because both were in flight; the third comes after and is refused.
        assert!(meter.try_reserve(1, 0).is_ok());
        assert!(meter.try_reserve(2, 0).is_ok());
        meter.settle(3, 0, 600);
        meter.settle(4, 0, 600);
        assert_eq!(meter.snapshot(5).used, 1_200);
        assert!(meter.has_room(5).is_err());
        assert!(meter.try_reserve(5, 0).is_err());
        // An estimate is held while in flight.
        let meter = Meter::new(1_000, minute(), false, 0, None);
        assert!(meter.try_reserve(1, 700).is_ok());
        assert!(meter.try_reserve(1, 400).is_err(), "700 held + 400 > 1000");
        assert!(meter.try_reserve(1, 300).is_ok());
        meter.settle(2, 700, 100);
        assert_eq!(meter.snapshot(2), MeterState { window_start: 0, window_end: 60_000, used: 100, reserved: 300 });
    }

    #[test]
    fn a_hold_admits_while_spend_and_holds_are_under_the_limit() {
        let meter = Meter::new(1_000, minute(), false, 0, None);
        assert!(meter.hold(1, 600).is_ok());
        assert!(meter.hold(1, 600).is_ok(), "600 held: under the limit");
        assert!(meter.hold(1, 600).is_err(), "1,200 held: the next waits for those in flight");
        meter.settle(2, 600, 300);
        meter.settle(2, 600, 300);
        assert!(meter.hold(2, 600).is_ok(), "600 spent: room, and the request may take it past");
        assert!(meter.hold(2, 600).is_err());
    }

    #[test]
    fn a_persisted_window_continues_and_an_old_one_resets() {
        let saved = MeterState { window_start: 0, window_end: 60_000, used: 40, reserved: 0 };
        let meter = Meter::new(100, minute(), false, 30_000, Some(saved));
        assert_eq!(meter.snapshot(30_000).used, 40);
        let meter = Meter::new(100, minute(), false, 130_000, Some(saved));
        assert_eq!(
            meter.snapshot(130_000),
            MeterState { window_start: 120_000, window_end: 180_000, used: 0, reserved: 0 }
        );
        meter.settle(130_000, 0, 5);
        meter.reset(131_000);
        assert_eq!(meter.snapshot(131_000).used, 0);
    }
}
