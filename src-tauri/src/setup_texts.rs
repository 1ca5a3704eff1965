//! "Copy setup for…": what each tool needs to talk to the gateway, with the port the gateway
//! really listens on. One place for these texts, so the menu, the README and the tests agree.
//! The settings are the ones `shared/CLIENTS.md` verified against each client.

use std::fmt;

/// The tools the tray offers setup for, in menu order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SetupTarget {
    ClaudeCode,
    CodexCli,
    GeminiCli,
    Aider,
    OpenAiSdk,
}

impl SetupTarget {
    pub const ALL: [SetupTarget; 5] = [
        SetupTarget::ClaudeCode,
        SetupTarget::CodexCli,
        SetupTarget::GeminiCli,
        SetupTarget::Aider,
        SetupTarget::OpenAiSdk,
    ];

    /// The menu's label.
    pub fn label(self) -> &'static str {
        match self {
            SetupTarget::ClaudeCode => "Claude Code",
            SetupTarget::CodexCli => "Codex CLI",
            SetupTarget::GeminiCli => "Gemini CLI",
            SetupTarget::Aider => "aider",
            SetupTarget::OpenAiSdk => "OpenAI SDK",
        }
    }

    /// A stable key, used in menu ids and command arguments.
    pub fn key(self) -> &'static str {
        match self {
            SetupTarget::ClaudeCode => "claude-code",
            SetupTarget::CodexCli => "codex-cli",
            SetupTarget::GeminiCli => "gemini-cli",
            SetupTarget::Aider => "aider",
            SetupTarget::OpenAiSdk => "openai-sdk",
        }
    }

    pub fn from_key(key: &str) -> Option<SetupTarget> {
        SetupTarget::ALL.into_iter().find(|t| t.key() == key)
    }
}

impl fmt::Display for SetupTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The text copied to the clipboard for `target` when the gateway listens on `port`. `model` is
/// the task class or model the tool should ask for (`coding` by default in the tray); `key` is
/// the tool's own virtual key when virtual keys are in use, else a placeholder the gateway
/// ignores.
pub fn setup_text(target: SetupTarget, port: u16, model: &str, key: Option<&str>) -> String {
    let base = format!("http://localhost:{port}");
    let key = key.unwrap_or("unused");
    match target {
        // Claude Code wants the base without /v1; the token is never forwarded.
        SetupTarget::ClaudeCode => format!(
            "export ANTHROPIC_BASE_URL={base}\n\
             export ANTHROPIC_AUTH_TOKEN={key}\n\
             export ANTHROPIC_MODEL={model}\n\
             export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1\n"
        ),
        // Codex CLI speaks only the Responses API and reads its providers from config.toml.
        SetupTarget::CodexCli => format!(
            "# ~/.codex/config.toml\n\
             model = \"{model}\"\n\
             model_provider = \"switchyard\"\n\
             \n\
             [model_providers.switchyard]\n\
             name = \"Switchyard\"\n\
             base_url = \"{base}/v1\"\n\
             env_key = \"SWITCHYARD_API_KEY\"\n\
             wire_api = \"responses\"\n\
             \n\
             # and in the shell:\n\
             export SWITCHYARD_API_KEY={key}\n"
        ),
        SetupTarget::GeminiCli => format!(
            "export GOOGLE_GEMINI_BASE_URL={base}\n\
             export GEMINI_API_KEY={key}\n\
             export GEMINI_MODEL={model}\n\
             # ~/.gemini/settings.json: {{\"security\": {{\"auth\": {{\"selectedType\": \"gemini-api-key\"}}}}}}\n"
        ),
        // aider goes through LiteLLM, whose `openai/` prefix selects the OpenAI-compatible route.
        SetupTarget::Aider => format!(
            "export OPENAI_API_BASE={base}/v1\n\
             export OPENAI_API_KEY={key}\n\
             aider --model openai/{model}\n"
        ),
        SetupTarget::OpenAiSdk => format!(
            "export OPENAI_BASE_URL={base}/v1\n\
             export OPENAI_API_KEY={key}\n\
             # Python: OpenAI().chat.completions.create(model=\"{model}\", messages=[...])\n"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_code_gets_the_base_without_v1_and_the_real_port() {
        let text = setup_text(SetupTarget::ClaudeCode, 30123, "coding", None);
        assert!(text.contains("export ANTHROPIC_BASE_URL=http://localhost:30123\n"), "{text}");
        assert!(!text.contains("/v1"), "{text}");
        assert!(text.contains("export ANTHROPIC_MODEL=coding\n"));
    }

    #[test]
    fn codex_uses_the_responses_wire_api_with_v1() {
        let text = setup_text(SetupTarget::CodexCli, 30080, "coding", None);
        assert!(text.contains("base_url = \"http://localhost:30080/v1\""), "{text}");
        assert!(text.contains("wire_api = \"responses\""));
        assert!(text.contains("model_provider = \"switchyard\""));
        // The config part must be valid TOML up to the shell comment.
        let toml_part: String = text.lines().take_while(|l| !l.starts_with("# and")).collect::<Vec<_>>().join("\n");
        let parsed: toml::Table = toml::from_str(&toml_part).expect("valid TOML");
        assert_eq!(parsed["model_providers"]["switchyard"]["base_url"].as_str(), Some("http://localhost:30080/v1"));
    }

    #[test]
    fn gemini_aider_and_openai_sdk_name_the_port() {
        for port in [30080, 41000] {
            assert!(
                setup_text(SetupTarget::GeminiCli, port, "review", None)
                    .contains(&format!("GOOGLE_GEMINI_BASE_URL=http://localhost:{port}\n"))
            );
            let aider = setup_text(SetupTarget::Aider, port, "coding", None);
            assert!(aider.contains(&format!("OPENAI_API_BASE=http://localhost:{port}/v1\n")));
            assert!(aider.contains("aider --model openai/coding"));
            assert!(
                setup_text(SetupTarget::OpenAiSdk, port, "coding", None)
                    .contains(&format!("OPENAI_BASE_URL=http://localhost:{port}/v1\n"))
            );
        }
    }

    #[test]
    fn every_target_round_trips_through_its_key() {
        for target in SetupTarget::ALL {
            assert_eq!(SetupTarget::from_key(target.key()), Some(target));
        }
        assert_eq!(SetupTarget::from_key("cursor"), None);
    }

    #[test]
    fn a_tools_own_key_replaces_the_placeholder() {
        for target in SetupTarget::ALL {
            let text = setup_text(target, 30080, "coding", Some("sk-sy-abc123"));
            assert!(text.contains("sk-sy-abc123") && !text.contains("unused"), "{target}: {text}");
        }
    }

    /// Lines are `KEY=value` exports or comments or TOML; no line has trailing spaces (a pasted
    /// `export X=1 ` would carry the space into the value).
    #[test]
    fn no_line_has_trailing_whitespace() {
        for target in SetupTarget::ALL {
            for line in setup_text(target, 30080, "coding", None).lines() {
                assert_eq!(line, line.trim_end(), "{target}: {line:?}");
            }
        }
    }
}
