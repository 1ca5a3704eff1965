//! When to ask again for a model list whose fetch failed. A provider's server often starts a
//! moment after the gateway (a local model server launched at login, a laptop waking up); waiting
//! the whole refresh interval (minutes) would leave its models unknown all that time. So a failed
//! fetch is retried on its own after 1 s, then 2 s, 4 s… up to the refresh interval, per provider;
//! a success ends the retries.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::CatalogSnapshot;

/// The first wait after a failure.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// The providers whose last fetch failed, each with its wait and when it is next due.
#[derive(Debug)]
pub struct RetrySchedule {
    /// No wait grows beyond this (the refresh interval: a full refresh asks anyway).
    cap: Duration,
    waiting: HashMap<String, (Duration, Instant)>,
}

impl RetrySchedule {
    pub fn new(cap: Duration) -> RetrySchedule {
        RetrySchedule { cap: cap.max(FIRST_RETRY), waiting: HashMap::new() }
    }

    /// Notes how the fetches of `asked` (every provider when `None`) went, as `snapshot` shows
    /// them: a failure waits twice as long as the one before it, a success is forgotten.
    pub fn record(&mut self, snapshot: &CatalogSnapshot, asked: Option<&[String]>, now: Instant) {
        for (name, list) in &snapshot.providers {
            if asked.is_some_and(|names| !names.contains(name)) {
                continue;
            }
            if list.error.is_none() {
                self.waiting.remove(name);
                continue;
            }
            let wait = match self.waiting.get(name) {
                Some((wait, _)) => wait.saturating_mul(2).min(self.cap),
                None => FIRST_RETRY,
            };
            self.waiting.insert(name.clone(), (wait, now + wait));
        }
        // Providers removed since are not retried.
        self.waiting.retain(|name, _| snapshot.providers.contains_key(name));
    }

    /// The providers due for a retry at `now`.
    pub fn due(&self, now: Instant) -> Vec<String> {
        self.waiting.iter().filter(|(_, (_, at))| *at <= now).map(|(name, _)| name.clone()).collect()
    }

    /// When the next retry is due, if any is waiting.
    pub fn next(&self) -> Option<Instant> {
        self.waiting.values().map(|(_, at)| *at).min()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::catalog::ProviderModels;

    fn snapshot(failing: &[&str], fine: &[&str]) -> CatalogSnapshot {
        let mut lists = BTreeMap::new();
        for name in failing {
            lists.insert(
                (*name).to_owned(),
                ProviderModels { error: Some("connection refused".into()), ..ProviderModels::default() },
            );
        }
        for name in fine {
            lists.insert((*name).to_owned(), ProviderModels { models: vec!["m".into()], ..ProviderModels::default() });
        }
        CatalogSnapshot::from_lists(lists)
    }

    #[test]
    fn failures_back_off_to_the_cap_and_a_success_ends_them() {
        let start = Instant::now();
        let mut schedule = RetrySchedule::new(Duration::from_secs(5));
        schedule.record(&snapshot(&["late"], &["up"]), None, start);
        assert_eq!(schedule.next(), Some(start + Duration::from_secs(1)));
        assert!(schedule.due(start).is_empty());
        assert_eq!(schedule.due(start + Duration::from_secs(1)), vec!["late".to_owned()]);
        let mut now = start;
        let mut waits = Vec::new();
        for _ in 0..5 {
            schedule.record(&snapshot(&["late"], &["up"]), Some(&["late".into()]), now);
            let next = schedule.next().unwrap();
            waits.push((next - now).as_secs());
            now = next;
        }
        assert_eq!(waits, vec![2, 4, 5, 5, 5]);
        // Only the providers asked are noted: `late` is not reset by a retry of another.
        schedule.record(&snapshot(&[], &["late", "up"]), Some(&["up".into()]), now);
        assert!(schedule.next().is_some());
        schedule.record(&snapshot(&[], &["late", "up"]), Some(&["late".into()]), now);
        assert_eq!(schedule.next(), None);
    }
}
