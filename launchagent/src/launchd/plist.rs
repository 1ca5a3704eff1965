//! The launchd job definition as a typed struct; the serde renames are launchd.plist(5)'s keys.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::spec::{KeepAlive, ServiceSpec};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchdPlist {
    #[serde(rename = "Label")]
    pub label: String,
    #[serde(rename = "ProgramArguments")]
    pub program_arguments: Vec<String>,
    #[serde(rename = "EnvironmentVariables", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment_variables: BTreeMap<String, String>,
    #[serde(rename = "WorkingDirectory", default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    #[serde(rename = "StandardOutPath")]
    pub standard_out_path: String,
    #[serde(rename = "StandardErrorPath")]
    pub standard_error_path: String,
    #[serde(rename = "KeepAlive")]
    pub keep_alive: LaunchdKeepAlive,
    #[serde(rename = "RunAtLoad")]
    pub run_at_load: bool,
    #[serde(rename = "ProcessType")]
    pub process_type: String,
    #[serde(rename = "ThrottleInterval", default, skip_serializing_if = "Option::is_none")]
    pub throttle_interval: Option<u32>,
}

/// `KeepAlive` is either a boolean or a dictionary of conditions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LaunchdKeepAlive {
    Bool(bool),
    Conditions {
        #[serde(rename = "SuccessfulExit")]
        successful_exit: bool,
    },
}

impl From<KeepAlive> for LaunchdKeepAlive {
    fn from(k: KeepAlive) -> Self {
        match k {
            KeepAlive::Always => Self::Bool(true),
            // "Restart unless it exited 0": SuccessfulExit = false restarts on a non-zero exit.
            KeepAlive::OnFailure => Self::Conditions { successful_exit: false },
            KeepAlive::Never => Self::Bool(false),
        }
    }
}

impl LaunchdPlist {
    pub fn from_spec(spec: &ServiceSpec) -> Self {
        Self {
            label: spec.label.clone(),
            program_arguments: spec.program_arguments(),
            environment_variables: spec.environment.clone(),
            working_directory: spec.working_directory.as_ref().map(|d| d.to_string_lossy().into_owned()),
            standard_out_path: spec.stdout_log.to_string_lossy().into_owned(),
            standard_error_path: spec.stderr_log.to_string_lossy().into_owned(),
            keep_alive: spec.keep_alive.into(),
            run_at_load: spec.run_at_load,
            // `Background` would let macOS throttle CPU and I/O, which makes inference crawl;
            // `Interactive` gets the limits of a foreground app.
            process_type: "Interactive".into(),
            // launchd's default is 10 s; a model server that fails fast (bad model name) should
            // not spin faster than that, and slower restarts leave the log readable.
            throttle_interval: Some(10),
        }
    }

    pub fn to_xml(&self) -> Result<Vec<u8>, plist::Error> {
        let mut out = Vec::new();
        plist::to_writer_xml(&mut out, self)?;
        Ok(out)
    }

    pub fn from_xml(bytes: &[u8]) -> Result<Self, plist::Error> {
        plist::from_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::sample_spec;

    #[test]
    fn round_trip_field_by_field() {
        let mut spec = sample_spec();
        spec.environment.insert("OLLAMA_HOST".into(), "127.0.0.1:11435".into());
        spec.stderr_log = "/tmp/server.err.log".into();
        let xml = LaunchdPlist::from_spec(&spec).to_xml().expect("serialize");
        let back = LaunchdPlist::from_xml(&xml).expect("parse");

        assert_eq!(back.label, "dev.switchyard.test");
        assert_eq!(back.program_arguments, ["/opt/bin/server", "serve", "--port", "8000"]);
        assert_eq!(back.environment_variables.get("OLLAMA_HOST").map(String::as_str), Some("127.0.0.1:11435"));
        assert_eq!(back.environment_variables.get("A").map(String::as_str), Some("1"));
        assert_eq!(back.working_directory.as_deref(), Some("/tmp"));
        assert_eq!(back.standard_out_path, "/tmp/server.log");
        assert_eq!(back.standard_error_path, "/tmp/server.err.log");
        assert_eq!(back.keep_alive, LaunchdKeepAlive::Conditions { successful_exit: false });
        assert!(back.run_at_load);
        assert_eq!(back.process_type, "Interactive");
        assert_eq!(back.throttle_interval, Some(10));
    }

    #[test]
    fn keys_are_launchds_and_keep_alive_has_both_shapes() {
        let mut spec = sample_spec();
        spec.keep_alive = KeepAlive::Always;
        let xml = String::from_utf8(LaunchdPlist::from_spec(&spec).to_xml().expect("xml")).expect("utf8");
        for key in [
            "Label",
            "ProgramArguments",
            "EnvironmentVariables",
            "WorkingDirectory",
            "StandardOutPath",
            "StandardErrorPath",
            "KeepAlive",
            "RunAtLoad",
            "ProcessType",
        ] {
            assert!(xml.contains(&format!("<key>{key}</key>")), "missing {key} in {xml}");
        }
        assert_eq!(LaunchdPlist::from_xml(xml.as_bytes()).expect("parse").keep_alive, LaunchdKeepAlive::Bool(true));

        // A generic plist value sees the dictionary form launchd expects.
        spec.keep_alive = KeepAlive::OnFailure;
        let xml = LaunchdPlist::from_spec(&spec).to_xml().expect("xml");
        let value: plist::Value = plist::from_bytes(&xml).expect("value");
        let keep_alive = value.as_dictionary().and_then(|d| d.get("KeepAlive")).and_then(|v| v.as_dictionary());
        assert_eq!(keep_alive.and_then(|d| d.get("SuccessfulExit")).and_then(|v| v.as_boolean()), Some(false));
    }

    #[test]
    fn empty_environment_is_omitted() {
        let mut spec = sample_spec();
        spec.environment.clear();
        spec.working_directory = None;
        let xml = String::from_utf8(LaunchdPlist::from_spec(&spec).to_xml().expect("xml")).expect("utf8");
        assert!(!xml.contains("EnvironmentVariables"));
        assert!(!xml.contains("WorkingDirectory"));
        let back = LaunchdPlist::from_xml(xml.as_bytes()).expect("parse");
        assert!(back.environment_variables.is_empty());
    }
}
