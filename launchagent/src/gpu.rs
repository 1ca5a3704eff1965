//! GPU use, best effort. macOS exposes no per-process GPU figures without private frameworks, so
//! this reports the whole GPU from the accelerator's `PerformanceStatistics` in the I/O Registry
//! (`ioreg`, no C bindings). Elsewhere it says why there is nothing.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::runner::CommandRunner;

const IOREG: &str = "/usr/sbin/ioreg";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuReport {
    /// Busy percentage of the whole GPU (all processes), when known.
    pub device_utilization_percent: Option<u8>,
    /// Memory the GPU driver has in use, when known.
    pub in_use_memory_bytes: Option<u64>,
    /// What the figures cover, or why there are none.
    pub note: String,
}

impl GpuReport {
    pub fn unavailable(reason: impl Into<String>) -> Self {
        Self { device_utilization_percent: None, in_use_memory_bytes: None, note: reason.into() }
    }
}

/// Samples the GPU through `ioreg` on macOS.
pub fn sample(runner: &dyn CommandRunner) -> GpuReport {
    if !cfg!(target_os = "macos") {
        return GpuReport::unavailable("GPU use is only reported on macOS");
    }
    match runner.run(Path::new(IOREG), &["-r", "-d", "1", "-w", "0", "-c", "IOAccelerator"]) {
        Ok(out) if out.success() => parse_ioreg(&out.stdout)
            .unwrap_or_else(|| GpuReport::unavailable("ioreg shows no GPU performance statistics")),
        Ok(out) => GpuReport::unavailable(format!("ioreg failed: {}", out.stderr.trim())),
        Err(e) => GpuReport::unavailable(format!("ioreg could not run: {e}")),
    }
}

/// Reads `"Device Utilization %"=N` and `"In use system memory"=N` from the first
/// `PerformanceStatistics` line.
pub fn parse_ioreg(output: &str) -> Option<GpuReport> {
    let line = output.lines().find(|l| l.contains("\"PerformanceStatistics\""))?;
    let utilization = number_after(line, "\"Device Utilization %\"=").and_then(|n| u8::try_from(n).ok());
    let memory = number_after(line, "\"In use system memory\"=");
    if utilization.is_none() && memory.is_none() {
        return None;
    }
    Some(GpuReport {
        device_utilization_percent: utilization,
        in_use_memory_bytes: memory,
        note: "whole GPU, all processes: macOS does not report GPU use per process".into(),
    })
}

fn number_after(line: &str, key: &str) -> Option<u64> {
    let start = line.find(key)? + key.len();
    let digits: String = line[start..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_apple_silicon_ioreg() {
        let out = include_str!("../tests/fixtures/ioreg_accelerator.txt");
        let report = parse_ioreg(out).expect("stats");
        assert_eq!(report.device_utilization_percent, Some(37));
        // Not the "(driver)" figure that precedes it on the same line.
        assert_eq!(report.in_use_memory_bytes, Some(5_570_916_864));
    }

    #[test]
    fn nothing_to_parse() {
        assert!(parse_ioreg("+-o AppleParavirtGPU  <class AppleParavirtGPU>\n").is_none());
    }

    #[cfg(not(target_os = "macos"))]
    #[test]
    fn other_systems_say_why() {
        let report = sample(&crate::runner::SystemRunner::new());
        assert!(report.device_utilization_percent.is_none());
        assert!(report.note.contains("only reported on macOS"));
    }
}
