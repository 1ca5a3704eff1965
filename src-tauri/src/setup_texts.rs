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
///
/// After the model setup comes the MCP setup, for the tools that take MCP servers: the gateway's
/// `/mcp` (Streamable HTTP) as one server, `switchyard`, serving the tools of every MCP server
/// the gateway connects to. With a key, the key goes in `x-bf-vk` (a tool sends its MCP servers
/// only the headers configured for them, never its model credential).
pub fn setup_text(target: SetupTarget, port: u16, model: &str, key: Option<&str>) -> String {
    let base = format!("http://localhost:{port}");
    let mcp = format!("{base}/mcp");
    let vk = key;
    let key = key.unwrap_or("unused");
    match target {
        // Claude Code wants the base without /v1; the token is never forwarded.
        SetupTarget::ClaudeCode => {
            let header = vk.map(|vk| format!(" --header \"{VK_HEADER}: {vk}\"")).unwrap_or_default();
            format!(
                "export ANTHROPIC_BASE_URL={base}\n\
                 export ANTHROPIC_AUTH_TOKEN={key}\n\
                 export ANTHROPIC_MODEL={model}\n\
                 export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1\n\
                 # MCP tools, once:\n\
                 claude mcp add --transport http switchyard {mcp}{header}\n"
            )
        }
        // Codex CLI speaks only the Responses API and reads its providers and MCP servers from
        // config.toml.
        SetupTarget::CodexCli => {
            let header = vk.map(|vk| format!("http_headers = {{ \"{VK_HEADER}\" = \"{vk}\" }}\n")).unwrap_or_default();
            format!(
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
                 [mcp_servers.switchyard]\n\
                 url = \"{mcp}\"\n\
                 {header}\
                 \n\
                 # and in the shell:\n\
                 export SWITCHYARD_API_KEY={key}\n"
            )
        }
        // `httpUrl` is Streamable HTTP (`url` would be the older SSE transport).
        SetupTarget::GeminiCli => {
            let header = vk.map(|vk| format!(", \"headers\": {{\"{VK_HEADER}\": \"{vk}\"}}")).unwrap_or_default();
            format!(
                "export GOOGLE_GEMINI_BASE_URL={base}\n\
                 export GEMINI_API_KEY={key}\n\
                 export GEMINI_MODEL={model}\n\
                 # ~/.gemini/settings.json:\n\
                 # {{\n\
                 #   \"security\": {{\"auth\": {{\"selectedType\": \"gemini-api-key\"}}}},\n\
                 #   \"mcpServers\": {{\"switchyard\": {{\"httpUrl\": \"{mcp}\"{header}}}}}\n\
                 # }}\n"
            )
        }
        // aider goes through LiteLLM, whose `openai/` prefix selects the OpenAI-compatible route.
        // aider takes no MCP servers.
        SetupTarget::Aider => format!(
            "export OPENAI_API_BASE={base}/v1\n\
             export OPENAI_API_KEY={key}\n\
             aider --model openai/{model}\n"
        ),
        // The SDK itself does not connect to MCP servers; the Agents SDK, built on it, does.
        SetupTarget::OpenAiSdk => {
            let header = vk.map(|vk| format!(", \"headers\": {{\"{VK_HEADER}\": \"{vk}\"}}")).unwrap_or_default();
            format!(
                "export OPENAI_BASE_URL={base}/v1\n\
                 export OPENAI_API_KEY={key}\n\
                 # Python: OpenAI().chat.completions.create(model=\"{model}\", messages=[...])\n\
                 # MCP tools (Agents SDK): MCPServerStreamableHttp(params={{\"url\": \"{mcp}\"{header}}})\n"
            )
        }
    }
}

/// The header an MCP client presents its virtual key in (Bifrost's).
const VK_HEADER: &str = "x-bf-vk";

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
        let parsed = codex_toml(&text);
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

    /// The TOML part of Codex's text (up to the shell comment), parsed.
    fn codex_toml(text: &str) -> toml::Table {
        let part: String = text.lines().take_while(|l| !l.starts_with("# and")).collect::<Vec<_>>().join("\n");
        toml::from_str(&part).expect("valid TOML")
    }

    /// Gemini's settings.json, from the comment lines after its name.
    fn gemini_settings(text: &str) -> serde_json::Value {
        let json: String = text
            .lines()
            .skip_while(|l| !l.starts_with("# ~/.gemini/settings.json:"))
            .skip(1)
            .map(|l| l.strip_prefix('#').unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        serde_json::from_str(&json).expect("valid JSON")
    }

    #[test]
    fn claude_code_adds_the_gateways_mcp_endpoint_after_the_model_setup() {
        let text = setup_text(SetupTarget::ClaudeCode, 30123, "coding", None);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.last(),
            Some(&"claude mcp add --transport http switchyard http://localhost:30123/mcp"),
            "{text}"
        );
        let model = lines.iter().position(|l| l.starts_with("export ANTHROPIC_MODEL=")).expect("model line");
        assert!(model < lines.len() - 1);
        assert!(!text.contains("x-bf-vk"), "no key, no header: {text}");

        let text = setup_text(SetupTarget::ClaudeCode, 30123, "coding", Some("sk-sy-abc123"));
        assert!(
            text.ends_with(
                "claude mcp add --transport http switchyard http://localhost:30123/mcp --header \"x-bf-vk: sk-sy-abc123\"\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn codex_gets_an_mcp_server_table_with_the_key_in_http_headers() {
        let text = setup_text(SetupTarget::CodexCli, 30080, "coding", None);
        let parsed = codex_toml(&text);
        let server = parsed["mcp_servers"]["switchyard"].as_table().expect("[mcp_servers.switchyard]");
        assert_eq!(server["url"].as_str(), Some("http://localhost:30080/mcp"));
        assert!(!server.contains_key("http_headers"), "{text}");
        // The model provider is still the one used.
        assert_eq!(parsed["model_provider"].as_str(), Some("switchyard"));

        let text = setup_text(SetupTarget::CodexCli, 30080, "coding", Some("sk-sy-abc123"));
        let parsed = codex_toml(&text);
        assert_eq!(parsed["mcp_servers"]["switchyard"]["http_headers"]["x-bf-vk"].as_str(), Some("sk-sy-abc123"));
        assert!(text.contains("http_headers = { \"x-bf-vk\" = \"sk-sy-abc123\" }\n"), "{text}");
        assert!(text.ends_with("export SWITCHYARD_API_KEY=sk-sy-abc123\n"), "{text}");
    }

    #[test]
    fn gemini_settings_take_the_mcp_server_as_http_url_beside_the_auth_type() {
        let text = setup_text(SetupTarget::GeminiCli, 30080, "review", None);
        let settings = gemini_settings(&text);
        assert_eq!(settings["security"]["auth"]["selectedType"], "gemini-api-key");
        assert_eq!(
            settings["mcpServers"],
            serde_json::json!({"switchyard": {"httpUrl": "http://localhost:30080/mcp"}}),
            "{text}"
        );

        let text = setup_text(SetupTarget::GeminiCli, 30080, "review", Some("sk-sy-abc123"));
        assert_eq!(
            gemini_settings(&text)["mcpServers"]["switchyard"],
            serde_json::json!({"httpUrl": "http://localhost:30080/mcp", "headers": {"x-bf-vk": "sk-sy-abc123"}}),
            "{text}"
        );
    }

    #[test]
    fn the_openai_sdk_names_the_agents_sdks_form_and_aider_has_no_mcp() {
        let text = setup_text(SetupTarget::OpenAiSdk, 41000, "coding", None);
        assert!(
            text.ends_with(
                "# MCP tools (Agents SDK): MCPServerStreamableHttp(params={\"url\": \"http://localhost:41000/mcp\"})\n"
            ),
            "{text}"
        );
        let text = setup_text(SetupTarget::OpenAiSdk, 41000, "coding", Some("sk-sy-abc123"));
        assert!(text.contains("\"headers\": {\"x-bf-vk\": \"sk-sy-abc123\"}"), "{text}");
        let aider = setup_text(SetupTarget::Aider, 41000, "coding", Some("sk-sy-abc123"));
        assert!(!aider.contains("/mcp") && !aider.contains("x-bf-vk"), "{aider}");
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
