//! Reset durations (`"1m"`, `"5m"`, `"1h"`, `"1d"`, `"1w"`, `"1M"`, `"1Y"`) and the windows they
//! make: rolling from the counter's last reset, or aligned to the calendar (UTC) when asked, so
//! a monthly budget starts on the 1st.

use std::fmt;

/// A duration as Bifrost writes it: a positive count and a unit. Minutes are `m`, months `M`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ResetDuration {
    count: u32,
    unit: Unit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Unit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

impl ResetDuration {
    /// Parses `<count><unit>`; the error says what is accepted.
    pub fn parse(text: &str) -> Result<ResetDuration, String> {
        let bad = || {
            format!(
                "`{text}` is not a reset duration: use a count and a unit, s (seconds), m (minutes), h, d, w, M (months) or Y, e.g. \"1m\", \"5m\", \"1h\", \"1d\", \"1w\", \"1M\", \"1Y\""
            )
        };
        let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (digits, unit) = text.split_at(split);
        let count: u32 = digits.parse().map_err(|_| bad())?;
        let unit = match unit {
            "s" => Unit::Second,
            "m" => Unit::Minute,
            "h" => Unit::Hour,
            "d" => Unit::Day,
            "w" => Unit::Week,
            "M" => Unit::Month,
            "Y" | "y" => Unit::Year,
            _ => return Err(bad()),
        };
        // Bounded so window arithmetic cannot overflow: ten years at most.
        let too_long = match unit {
            Unit::Second => count > 10 * 366 * 86_400,
            Unit::Minute => count > 10 * 366 * 1440,
            Unit::Hour => count > 10 * 366 * 24,
            Unit::Day => count > 10 * 366,
            Unit::Week => count > 10 * 53,
            Unit::Month => count > 120,
            Unit::Year => count > 10,
        };
        if count == 0 || too_long {
            return Err(format!("`{text}`: the count must be between 1 and ten years' worth"));
        }
        Ok(ResetDuration { count, unit })
    }

    /// The fixed length in milliseconds, for units that have one (months and years do not).
    fn fixed_ms(self) -> Option<i64> {
        let unit = match self.unit {
            Unit::Second => 1000,
            Unit::Minute => MINUTE_MS,
            Unit::Hour => HOUR_MS,
            Unit::Day => DAY_MS,
            Unit::Week => 7 * DAY_MS,
            Unit::Month | Unit::Year => return None,
        };
        Some(unit * i64::from(self.count))
    }

    fn months(self) -> i64 {
        match self.unit {
            Unit::Month => i64::from(self.count),
            Unit::Year => 12 * i64::from(self.count),
            _ => 0,
        }
    }

    /// The window holding `now`: `[start, end)` in Unix milliseconds. Rolling windows follow on
    /// from `anchor` (the counter's last reset) in steps of this duration; calendar-aligned ones
    /// start at the unit's boundary in UTC (the minute, hour, day, Monday, the 1st, January 1st).
    pub fn window(self, anchor: i64, now: i64, calendar: bool) -> (i64, i64) {
        let anchor = if calendar { self.calendar_start(now) } else { anchor.min(now) };
        match self.fixed_ms() {
            Some(len) => {
                let steps = (now - anchor) / len;
                let start = anchor + steps * len;
                (start, start.saturating_add(len))
            }
            None => {
                let step = self.months();
                let (ay, am, rest) = split_month(anchor);
                let (ny, nm, _) = split_month(now);
                let elapsed = (ny * 12 + nm) - (ay * 12 + am);
                let mut k = elapsed.div_euclid(step) * step;
                let mut start = add_months(ay, am, k) + rest;
                if start > now {
                    k -= step;
                    start = add_months(ay, am, k) + rest;
                }
                (start, add_months(ay, am, k + step) + rest)
            }
        }
    }

    fn calendar_start(self, now: i64) -> i64 {
        match self.unit {
            Unit::Second => now - now.rem_euclid(1000),
            Unit::Minute => now - now.rem_euclid(MINUTE_MS),
            Unit::Hour => now - now.rem_euclid(HOUR_MS),
            Unit::Day => now - now.rem_euclid(DAY_MS),
            // 1970-01-01 was a Thursday; Mondays are 4 days later modulo 7.
            Unit::Week => now - (now - 4 * DAY_MS).rem_euclid(7 * DAY_MS),
            Unit::Month => {
                let (y, m, _) = split_month(now);
                add_months(y, m, 0)
            }
            Unit::Year => {
                let (y, _, _) = split_month(now);
                add_months(y, 0, 0)
            }
        }
    }
}

impl fmt::Display for ResetDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            Unit::Second => "s",
            Unit::Minute => "m",
            Unit::Hour => "h",
            Unit::Day => "d",
            Unit::Week => "w",
            Unit::Month => "M",
            Unit::Year => "Y",
        };
        write!(f, "{}{unit}", self.count)
    }
}

impl serde::Serialize for ResetDuration {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ResetDuration {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ResetDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Unix milliseconds as RFC 3339 in UTC (`2026-12-03T10:17:00Z`), as Bifrost's API writes times.
pub fn rfc3339(ms: i64) -> String {
    let days = ms.div_euclid(DAY_MS);
    let in_day = ms.rem_euclid(DAY_MS) / 1000;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", in_day / 3600, in_day / 60 % 60, in_day % 60)
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm), and back.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A time as (year, month 0-based, milliseconds since that month began).
fn split_month(ms: i64) -> (i64, i64, i64) {
    let (y, m, _) = civil_from_days(ms.div_euclid(DAY_MS));
    let start = days_from_civil(y, m, 1) * DAY_MS;
    (y, m - 1, ms - start)
}

/// The first instant of month `m0 + k` (0-based) of year `y`.
fn add_months(y: i64, m0: i64, k: i64) -> i64 {
    let total = y * 12 + m0 + k;
    days_from_civil(total.div_euclid(12), total.rem_euclid(12) + 1, 1) * DAY_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i64, m: i64, d: i64, h: i64) -> i64 {
        days_from_civil(y, m, d) * DAY_MS + h * HOUR_MS
    }

    #[test]
    fn the_seeds_durations_parse_and_nonsense_is_named() {
        for text in ["1m", "5m", "1h", "1d", "1w", "1M", "1Y", "30s"] {
            assert_eq!(ResetDuration::parse(text).unwrap().to_string(), text);
        }
        for bad in ["", "m", "1", "1x", "-1m", "0h", "1.5h", "99999999999d", "1 h", "11Y"] {
            let err = ResetDuration::parse(bad).unwrap_err();
            assert!(err.contains(bad) || err.contains("between"), "{bad}: {err}");
        }
    }

    #[test]
    fn times_are_written_as_rfc3339() {
        assert_eq!(rfc3339(at(2026, 12, 3, 10) + 17 * MINUTE_MS + 5_000), "2026-12-03T10:17:05Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn rolling_windows_follow_on_from_the_last_reset() {
        let hour = ResetDuration::parse("1h").unwrap();
        let anchor = at(2026, 12, 3, 10) + 17 * MINUTE_MS;
        assert_eq!(hour.window(anchor, anchor + 5 * MINUTE_MS, false), (anchor, anchor + HOUR_MS));
        let later = anchor + 3 * HOUR_MS + MINUTE_MS;
        assert_eq!(hour.window(anchor, later, false), (anchor + 3 * HOUR_MS, anchor + 4 * HOUR_MS));
    }

    #[test]
    fn calendar_windows_start_at_the_units_boundary() {
        let now = at(2026, 12, 3, 10) + 17 * MINUTE_MS; // a Thursday
        let day = ResetDuration::parse("1d").unwrap();
        assert_eq!(day.window(0, now, true), (at(2026, 12, 3, 0), at(2026, 12, 4, 0)));
        let week = ResetDuration::parse("1w").unwrap();
        assert_eq!(week.window(0, now, true), (at(2026, 11, 30, 0), at(2026, 12, 7, 0)));
        let month = ResetDuration::parse("1M").unwrap();
        assert_eq!(month.window(0, now, true), (at(2026, 12, 1, 0), at(2027, 1, 1, 0)));
        let year = ResetDuration::parse("1Y").unwrap();
        assert_eq!(year.window(0, now, true), (at(2026, 1, 1, 0), at(2027, 1, 1, 0)));
    }

    #[test]
    fn rolling_months_keep_the_day_of_the_anchor() {
        let month = ResetDuration::parse("1M").unwrap();
        let anchor = at(2026, 1, 15, 9);
        let now = at(2026, 3, 20, 0);
        assert_eq!(month.window(anchor, now, false), (at(2026, 3, 15, 9), at(2026, 4, 15, 9)));
        let early = at(2026, 3, 10, 0);
        assert_eq!(month.window(anchor, early, false), (at(2026, 2, 15, 9), at(2026, 3, 15, 9)));
    }
}
