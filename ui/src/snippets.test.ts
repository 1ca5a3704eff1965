import { describe, expect, it } from "vitest";
import { gatewayBase, mcpEndpoint, mcpSnippets, snippets } from "./snippets";

describe("snippets", () => {
  const base = gatewayBase({ protocol: "http:", hostname: "localhost", port: "31234" });
  const all = Object.fromEntries(snippets(base).map((s) => [s.id, s.text]));

  it("uses the page's real port", () => {
    expect(base).toBe("http://localhost:31234");
    expect(gatewayBase({ protocol: "http:", hostname: "127.0.0.1", port: "30080" })).toBe("http://127.0.0.1:30080");
    for (const text of Object.values(all)) expect(text).toContain(":31234");
  });

  it("gives Claude Code and Gemini CLI the bare base, without /v1", () => {
    expect(all["claude-code"]).toContain("ANTHROPIC_BASE_URL=http://localhost:31234\n");
    expect(all["gemini"]).toContain("GOOGLE_GEMINI_BASE_URL=http://localhost:31234\n");
  });

  it("selects the Gemini API key auth, without which Gemini CLI refuses to start", () => {
    expect(all["gemini"]).toContain('"selectedType":"gemini-api-key"');
  });

  it("gives Codex CLI the Responses wire API under /v1", () => {
    expect(all["codex"]).toContain('wire_api = "responses"');
    expect(all["codex"]).toContain('base_url = "http://localhost:31234/v1"');
  });

  it("covers every tool, OpenAI-style ones on /v1, JSON that parses", () => {
    expect(Object.keys(all)).toEqual(
      expect.arrayContaining(["openai-python", "curl", "aider", "opencode", "continue", "cline", "zed", "claude-code", "codex", "gemini"]),
    );
    for (const id of ["openai-python", "curl", "aider", "opencode", "continue", "cline", "zed"]) expect(all[id]).toContain("http://localhost:31234/v1");
    expect(JSON.parse(all["zed"]).language_models.openai_compatible.Switchyard.api_url).toBe("http://localhost:31234/v1");
    expect(JSON.parse(all["opencode"]).provider.switchyard.options.baseURL).toBe("http://localhost:31234/v1");
  });
});

describe("MCP snippets", () => {
  const base = gatewayBase({ protocol: "http:", hostname: "localhost", port: "31234" });
  const url = "http://localhost:31234/mcp";
  const all = Object.fromEntries(mcpSnippets(base).map((s) => [s.id, s.text]));

  it("the endpoint is /mcp on the page's real port", () => {
    expect(mcpEndpoint(base)).toBe(url);
    for (const text of Object.values(all)) expect(text).toContain(url);
  });

  it("Claude Code: one command over Streamable HTTP", () => {
    expect(all["mcp-claude-code"]).toBe(`claude mcp add --transport http switchyard ${url}`);
  });

  it("Codex CLI: a [mcp_servers] table with the URL", () => {
    expect(all["mcp-codex"]).toBe(`[mcp_servers.switchyard]\nurl = "${url}"`);
  });

  it("Gemini CLI, Cursor and Zed: JSON that parses, each with its own key", () => {
    expect(JSON.parse(all["mcp-gemini"])).toEqual({ mcpServers: { switchyard: { httpUrl: url } } });
    expect(JSON.parse(all["mcp-cursor"])).toEqual({ mcpServers: { switchyard: { url } } });
    expect(JSON.parse(all["mcp-zed"])).toEqual({ context_servers: { switchyard: { url } } });
  });

  it("ids do not clash with the model snippets'", () => {
    const ids = [...snippets(base), ...mcpSnippets(base)].map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
