//! A latency histogram that merges: log-spaced buckets eight to a doubling (each about 9% wide),
//! so the rollup tables can answer p50 and p95 for any range without keeping every latency. A
//! percentile read from it is the geometric middle of its bucket: within ±4.5% of the exact
//! nearest-rank value.
//!
//! Stored as a BLOB of `(bucket: u16 LE, count: u32 LE)` pairs for the buckets that are not
//! empty, in bucket order; held in memory as dense counts, so merging a stored one is a pass over
//! its bytes with no allocation once the counts have grown.

/// Buckets per doubling of the latency.
const PER_DOUBLING: f64 = 8.0;
/// The lower edge of bucket 0, in milliseconds; smaller latencies land in bucket 0.
const FLOOR_MS: f64 = 0.01;
/// The last bucket (latencies beyond ~2^40 × 0.01 ms land here).
const LAST: u16 = 320;
const PAIR: usize = 6;

#[derive(Clone, Debug, Default)]
pub struct LatencyHistogram {
    /// Counts by bucket, as long as the highest bucket used.
    counts: Vec<u64>,
}

impl PartialEq for LatencyHistogram {
    /// Equal counts; trailing empty buckets do not matter.
    fn eq(&self, other: &Self) -> bool {
        let (short, long) = if self.counts.len() <= other.counts.len() { (self, other) } else { (other, self) };
        long.counts.starts_with(&short.counts) && long.counts[short.counts.len()..].iter().all(|c| *c == 0)
    }
}

impl LatencyHistogram {
    pub fn record(&mut self, latency_ms: f64) {
        self.add(bucket_of(latency_ms), 1);
    }

    fn add(&mut self, bucket: u16, count: u64) {
        let index = usize::from(bucket.min(LAST));
        if index >= self.counts.len() {
            self.counts.resize(index + 1, 0);
        }
        self.counts[index] += count;
    }

    pub fn merge(&mut self, other: &LatencyHistogram) {
        if other.counts.len() > self.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
    }

    /// Adds a stored histogram; bytes that are not whole pairs are ignored.
    pub fn merge_blob(&mut self, blob: &[u8]) {
        for pair in blob.chunks_exact(PAIR) {
            let bucket = u16::from_le_bytes([pair[0], pair[1]]);
            let count = u32::from_le_bytes([pair[2], pair[3], pair[4], pair[5]]);
            self.add(bucket, u64::from(count));
        }
    }

    pub fn to_blob(&self) -> Vec<u8> {
        let used = self.counts.iter().filter(|c| **c > 0).count();
        let mut blob = Vec::with_capacity(used * PAIR);
        for (bucket, count) in self.counts.iter().enumerate().filter(|(_, c)| **c > 0) {
            // Buckets stop at LAST (< u16::MAX). A bucket of one rollup row never holds 4 billion
            // requests; saturate rather than wrap.
            let bucket = u16::try_from(bucket).unwrap_or(LAST);
            let count = u32::try_from(*count).unwrap_or(u32::MAX);
            blob.extend_from_slice(&bucket.to_le_bytes());
            blob.extend_from_slice(&count.to_le_bytes());
        }
        blob
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The nearest-rank percentile (`p` in 0..=1), or 0 when empty.
    pub fn percentile(&self, p: f64) -> f64 {
        let total = self.total();
        if total == 0 {
            return 0.0;
        }
        let rank = ((p * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (bucket, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return middle_of(bucket as f64);
            }
        }
        0.0
    }
}

fn bucket_of(latency_ms: f64) -> u16 {
    if latency_ms.is_nan() || latency_ms <= FLOOR_MS {
        return 0;
    }
    let index = ((latency_ms / FLOOR_MS).log2() * PER_DOUBLING).floor();
    if index >= f64::from(LAST) { LAST } else { index as u16 }
}

/// The geometric middle of a bucket.
fn middle_of(bucket: f64) -> f64 {
    FLOOR_MS * ((bucket + 0.5) / PER_DOUBLING).exp2()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(values: &mut [f64], p: f64) -> f64 {
        values.sort_by(f64::total_cmp);
        let rank = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len());
        values[rank - 1]
    }

    #[test]
    fn percentiles_are_within_five_percent_of_the_exact_ones() {
        let mut values: Vec<f64> = (1..=5000).map(|i| (i as f64 * 7.3) % 2400.0 + 0.2).collect();
        let mut histogram = LatencyHistogram::default();
        for value in &values {
            histogram.record(*value);
        }
        for p in [0.5, 0.95, 0.99] {
            let want = exact(&mut values, p);
            let got = histogram.percentile(p);
            assert!((got / want - 1.0).abs() < 0.05, "p{p}: {got} vs exact {want}");
        }
    }

    #[test]
    fn merging_blobs_equals_recording_everything_in_one() {
        let (mut a, mut b, mut all) =
            (LatencyHistogram::default(), LatencyHistogram::default(), LatencyHistogram::default());
        for i in 0..300 {
            let value = 0.5 + f64::from(i) * 3.1;
            if i % 3 == 0 {
                a.record(value)
            } else {
                b.record(value)
            }
            all.record(value);
        }
        let mut merged = LatencyHistogram::default();
        merged.merge_blob(&a.to_blob());
        merged.merge_blob(&b.to_blob());
        assert_eq!(merged, all);
        assert_eq!(merged.total(), 300);
        assert_eq!(merged.percentile(0.5), all.percentile(0.5));
    }

    #[test]
    fn extremes_and_garbage_do_not_panic() {
        let mut histogram = LatencyHistogram::default();
        for value in [0.0, -3.0, f64::NAN, f64::INFINITY, 1e15] {
            histogram.record(value);
        }
        assert_eq!(histogram.total(), 5);
        assert!(histogram.percentile(1.0).is_finite());
        let mut other = LatencyHistogram::default();
        other.merge_blob(&[1, 2, 3]); // a torn pair is ignored
        assert_eq!(other.total(), 0);
        assert_eq!(other.percentile(0.5), 0.0);
    }
}
