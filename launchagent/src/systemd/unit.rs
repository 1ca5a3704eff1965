//! Renders a [`ServiceSpec`] as a systemd user unit. systemd.unit(5) and systemd.service(5)
//! define the escaping: `%` starts a specifier everywhere, `$` expands variables in `ExecStart=`,
//! and words with spaces or quotes need C-style double quotes.

use std::fmt::Write as _;

use crate::spec::{KeepAlive, ServiceSpec};

pub fn render_unit(spec: &ServiceSpec) -> String {
    let mut u = String::new();
    let _ = writeln!(u, "# Written by Switchyard; `switchyard-local install` overwrites it.");
    let _ = writeln!(u, "[Unit]");
    let _ = writeln!(u, "Description={}", escape_specifiers(&spec.description));
    let _ = writeln!(u);
    let _ = writeln!(u, "[Service]");
    // `exec` (not `simple`) makes `start` fail when the binary cannot be executed.
    let _ = writeln!(u, "Type=exec");
    let exec: Vec<String> = spec.program_arguments().iter().map(|w| quote_exec_word(w)).collect();
    let _ = writeln!(u, "ExecStart={}", exec.join(" "));
    for (key, value) in &spec.environment {
        let _ = writeln!(u, "Environment={}", quote_env(&format!("{key}={value}")));
    }
    if let Some(dir) = &spec.working_directory {
        let _ = writeln!(u, "WorkingDirectory={}", escape_specifiers(&dir.to_string_lossy()));
    }
    // `append:` keeps earlier runs' output, like launchd's StandardOutPath.
    let _ = writeln!(u, "StandardOutput=append:{}", escape_specifiers(&spec.stdout_log.to_string_lossy()));
    let _ = writeln!(u, "StandardError=append:{}", escape_specifiers(&spec.stderr_log.to_string_lossy()));
    let restart = match spec.keep_alive {
        KeepAlive::Always => "always",
        KeepAlive::OnFailure => "on-failure",
        KeepAlive::Never => "no",
    };
    let _ = writeln!(u, "Restart={restart}");
    // Same pause as the launchd plist's ThrottleInterval.
    let _ = writeln!(u, "RestartSec=10");
    // Model servers unload gigabytes on shutdown; give them time before SIGKILL.
    let _ = writeln!(u, "TimeoutStopSec=30");
    // Always present, so `start` (`enable --now`) works; whether install enables it at once is
    // the spec's `run_at_load`.
    let _ = writeln!(u);
    let _ = writeln!(u, "[Install]");
    let _ = writeln!(u, "WantedBy=default.target");
    u
}

/// `%` → `%%`, so a literal percent is not read as a specifier.
fn escape_specifiers(s: &str) -> String {
    s.replace('%', "%%")
}

/// One word of `ExecStart=`: quoted only when it needs to be, `%` and `$` always escaped.
pub fn quote_exec_word(word: &str) -> String {
    let needs_quotes =
        word.is_empty() || word == ";" || word.chars().any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\'));
    let mut out = String::with_capacity(word.len() + 2);
    if needs_quotes {
        out.push('"');
    }
    for c in word.chars() {
        match c {
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    if needs_quotes {
        out.push('"');
    }
    out
}

/// `Environment="KEY=value"`: always quoted; no `$` escaping (`Environment=` does not expand).
fn quote_env(assignment: &str) -> String {
    let mut out = String::from("\"");
    for c in assignment.chars() {
        match c {
            '%' => out.push_str("%%"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::sample_spec;

    #[test]
    fn quoting() {
        assert_eq!(quote_exec_word("serve"), "serve");
        assert_eq!(quote_exec_word("/Users/A B/bin/x"), "\"/Users/A B/bin/x\"");
        assert_eq!(quote_exec_word("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(quote_exec_word("50%"), "50%%");
        assert_eq!(quote_exec_word("$HOME"), "$$HOME");
        assert_eq!(quote_exec_word(""), "\"\"");
        assert_eq!(quote_exec_word("a\\b"), "\"a\\\\b\"");
        assert_eq!(quote_env("OLLAMA_HOST=127.0.0.1:11435"), "\"OLLAMA_HOST=127.0.0.1:11435\"");
        assert_eq!(quote_env("X=$5 100%"), "\"X=$5 100%%\"");
    }

    #[test]
    fn unit_content() {
        let unit = render_unit(&sample_spec());
        let expected = "\
# Written by Switchyard; `switchyard-local install` overwrites it.
[Unit]
Description=Test server

[Service]
Type=exec
ExecStart=/opt/bin/server serve --port 8000
Environment=\"A=1\"
WorkingDirectory=/tmp
StandardOutput=append:/tmp/server.log
StandardError=append:/tmp/server.log
Restart=on-failure
RestartSec=10
TimeoutStopSec=30

[Install]
WantedBy=default.target
";
        assert_eq!(unit, expected);
    }

    #[test]
    fn keep_alive_maps_to_restart() {
        let mut spec = sample_spec();
        spec.keep_alive = KeepAlive::Always;
        assert!(render_unit(&spec).contains("\nRestart=always\n"));
        spec.keep_alive = KeepAlive::Never;
        assert!(render_unit(&spec).contains("\nRestart=no\n"));
    }
}
