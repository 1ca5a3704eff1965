// Ready-to-copy settings for each tool, with the gateway's real address.

export interface Snippet {
  id: string;
  tool: string;
  where: string;
  text: string;
}

export function gatewayBase(loc: { protocol: string; hostname: string; port: string }): string {
  const port = loc.port || (loc.protocol === "https:" ? "443" : "80");
  const host = loc.hostname === "127.0.0.1" || loc.hostname === "[::1]" ? loc.hostname : "localhost";
  return `${loc.protocol}//${host}:${port}`;
}

export function snippets(base: string, model = "coding"): Snippet[] {
  const v1 = `${base}/v1`;
  return [
    {
      id: "openai-python",
      tool: "OpenAI SDK (Python)",
      where: "your script",
      text: `from openai import OpenAI\nclient = OpenAI(base_url="${v1}", api_key="unused")\nclient.chat.completions.create(model="${model}", messages=[{"role": "user", "content": "hi"}])`,
    },
    {
      id: "openai-js",
      tool: "OpenAI SDK (JavaScript)",
      where: "your script",
      text: `import OpenAI from "openai";\nconst client = new OpenAI({ baseURL: "${v1}", apiKey: "unused" });\nawait client.chat.completions.create({ model: "${model}", messages: [{ role: "user", content: "hi" }] });`,
    },
    { id: "openai-env", tool: "OpenAI SDK (environment)", where: "shell", text: `export OPENAI_BASE_URL=${v1}\nexport OPENAI_API_KEY=unused` },
    {
      id: "curl",
      tool: "curl",
      where: "shell",
      text: `curl ${v1}/chat/completions -H 'content-type: application/json' \\\n  -d '{"model": "${model}", "messages": [{"role": "user", "content": "hi"}]}'`,
    },
    { id: "aider", tool: "aider", where: "shell", text: `OPENAI_API_BASE=${v1} OPENAI_API_KEY=unused aider --model openai/${model}` },
    {
      id: "opencode",
      tool: "OpenCode",
      where: "opencode.json",
      text: JSON.stringify(
        {
          $schema: "https://opencode.ai/config.json",
          provider: {
            switchyard: {
              npm: "@ai-sdk/openai-compatible",
              name: "Switchyard",
              options: { baseURL: v1, apiKey: "unused" },
              models: { [model]: {} },
            },
          },
          model: `switchyard/${model}`,
        },
        null,
        2,
      ),
    },
    {
      id: "continue",
      tool: "Continue",
      where: "~/.continue/config.yaml",
      text: `models:\n  - name: Switchyard ${model}\n    provider: openai\n    model: ${model}\n    apiBase: ${v1}\n    apiKey: unused`,
    },
    {
      id: "cline",
      tool: "Cline / Roo Code",
      where: "settings: API Provider",
      text: `API Provider: OpenAI Compatible\nBase URL: ${v1}\nAPI Key: unused\nModel ID: ${model}`,
    },
    {
      id: "zed",
      tool: "Zed",
      where: "settings.json",
      text: JSON.stringify(
        {
          language_models: {
            openai_compatible: {
              Switchyard: { api_url: v1, available_models: [{ name: model, max_tokens: 128000 }] },
            },
          },
        },
        null,
        2,
      ),
    },
    {
      id: "claude-code",
      tool: "Claude Code",
      where: "shell (Anthropic API, no /v1)",
      text: `export ANTHROPIC_BASE_URL=${base}\nexport ANTHROPIC_AUTH_TOKEN=unused\nexport ANTHROPIC_MODEL=${model}\nclaude`,
    },
    {
      id: "codex",
      tool: "Codex CLI",
      where: "~/.codex/config.toml",
      text: `model = "${model}"\nmodel_provider = "switchyard"\n\n[model_providers.switchyard]\nname = "Switchyard"\nbase_url = "${v1}"\nwire_api = "responses"`,
    },
    {
      id: "gemini",
      tool: "Gemini CLI",
      where: "shell",
      // Without the auth choice in settings.json, Gemini CLI stops at "Invalid auth method selected".
      text: `mkdir -p ~/.gemini && echo '{"security":{"auth":{"selectedType":"gemini-api-key"}}}' > ~/.gemini/settings.json\nexport GOOGLE_GEMINI_BASE_URL=${base}\nexport GEMINI_API_KEY=unused\ngemini -m ${model}`,
    },
  ];
}

/** The MCP endpoint: every MCP server the gateway connects to, served together. */
export function mcpEndpoint(base: string): string {
  return `${base}/mcp`;
}

/** Each tool's one-line setup for the gateway's MCP endpoint (Streamable HTTP). */
export function mcpSnippets(base: string): Snippet[] {
  const url = mcpEndpoint(base);
  const json = (value: unknown) => JSON.stringify(value, null, 2);
  return [
    { id: "mcp-claude-code", tool: "Claude Code", where: "shell", text: `claude mcp add --transport http switchyard ${url}` },
    { id: "mcp-codex", tool: "Codex CLI", where: "~/.codex/config.toml", text: `[mcp_servers.switchyard]\nurl = "${url}"` },
    { id: "mcp-gemini", tool: "Gemini CLI", where: "~/.gemini/settings.json", text: json({ mcpServers: { switchyard: { httpUrl: url } } }) },
    { id: "mcp-cursor", tool: "Cursor", where: "~/.cursor/mcp.json", text: json({ mcpServers: { switchyard: { url } } }) },
    { id: "mcp-zed", tool: "Zed", where: "settings.json", text: json({ context_servers: { switchyard: { url } } }) },
  ];
}
