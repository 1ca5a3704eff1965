import { describe, expect, it } from "vitest";
import { gatewayBase, snippets } from "./snippets";

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
