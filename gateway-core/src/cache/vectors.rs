//! Placeholder brute-force index (replaced by the measured one).

use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct VectorError(String);

#[derive(Default)]
pub struct VectorIndex {
    entries: HashMap<u64, (u64, Vec<f32>)>,
}

impl VectorIndex {
    pub fn new() -> VectorIndex {
        VectorIndex::default()
    }

    pub fn insert(&mut self, id: u64, partition: u64, vector: &[f32]) -> Result<(), VectorError> {
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        if !norm.is_finite() || norm == 0.0 {
            return Err(VectorError("zero or not finite".into()));
        }
        self.entries.insert(id, (partition, vector.iter().map(|x| x / norm).collect()));
        Ok(())
    }

    pub fn remove(&mut self, id: u64) -> bool {
        self.entries.remove(&id).is_some()
    }

    pub fn nearest(&self, partition: u64, query: &[f32], min_similarity: f32) -> Option<(u64, f32)> {
        let norm = query.iter().map(|x| x * x).sum::<f32>().sqrt();
        if !norm.is_finite() || norm == 0.0 {
            return None;
        }
        self.entries
            .iter()
            .filter(|(_, (p, v))| *p == partition && v.len() == query.len())
            .map(|(id, (_, v))| (*id, v.iter().zip(query).map(|(a, b)| a * b).sum::<f32>() / norm))
            .filter(|(_, s)| *s >= min_similarity)
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
