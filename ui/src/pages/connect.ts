import { api } from "../api";
import { h } from "../dom";
import { type Snippet, gatewayBase, mcpEndpoint, mcpSnippets, snippets } from "../snippets";

/** The tool's own virtual key, named after it: made, or given a new value if it exists (the
 * value is shown only in the answer, so a lost one is replaced). */
async function ownKey(name: string, tool: string): Promise<{ ok: true; value: string } | { ok: false; message: string }> {
  const list = await api.virtualKeys();
  if (!list.ok) return { ok: false, message: list.message };
  const existing = list.data.virtual_keys.find((k) => k.name === name);
  const made = existing
    ? await api.rotateKey(existing.id)
    : await api.createKey({ name, allow_all_providers: true });
  if (!made.ok) return { ok: false, message: made.message };
  const value = made.data.virtual_key.value;
  return value ? { ok: true, value } : { ok: false, message: `no value came back for ${tool}'s key` };
}

export function connectPage(root: HTMLElement): void {
  const base = gatewayBase(location);
  root.append(
    h("p", null, "Every tool talks to ", h("code", null, base), ". Use a task class (", h("code", null, "coding"), ", ", h("code", null, "review"), ", …) as the model: the gateway picks the current model."),
    ...snippets(base).map((s) => snippetSection(s, "h2")),
    h("h2", { id: "connect-mcp" }, "MCP tools"),
    h(
      "p",
      null,
      "Every MCP server on ",
      h("a", { href: "#/mcp" }, "Tools (MCP)"),
      " is served to every tool at one endpoint, ",
      h("code", null, mcpEndpoint(base)),
      ", its tools named ",
      h("code", null, "server_tool"),
      ":",
    ),
    ...mcpSnippets(base).map((s) => snippetSection(s, "h3")),
  );
}

/** One tool's settings with Copy (and, for a setting with a key, a key of its own). */
function snippetSection(s: Snippet, heading: "h2" | "h3"): HTMLElement {
  const pre = h("pre", { id: `snippet-${s.id}`, tabindex: "0" }, s.text);
  const status = h("span", { class: "muted", role: "status" });
  let text = s.text;
  return h(
    "section",
    { class: "snippet" },
    h(heading, null, s.tool, " ", h("span", { class: "muted" }, s.where)),
    pre,
    h(
      "button",
      {
        type: "button",
        "aria-label": `Copy the ${s.tool} ${s.id.startsWith("mcp-") ? "MCP " : ""}settings`,
        onclick: async () => {
          try {
            await navigator.clipboard.writeText(text);
            status.textContent = "Copied.";
          } catch {
            getSelection()?.selectAllChildren(pre);
            status.textContent = "Selected: press ⌘C / Ctrl+C.";
          }
        },
      },
      "Copy",
    ),
    " ",
    s.text.includes("unused") &&
      h(
        "button",
        {
          type: "button",
          title: "A virtual key for this tool alone: its spend shows apart, and it can be limited or revoked on Keys & budgets",
          onclick: async () => {
            const key = await ownKey(s.id, s.tool);
            if (!key.ok) {
              status.textContent = key.message;
              return;
            }
            text = s.text.split("unused").join(key.value);
            pre.textContent = text;
            status.textContent = `Key ${s.id} made: copy the settings now, the key is not shown again.`;
          },
        },
        `Give ${s.tool} its own key`,
      ),
    " ",
    status,
  );
}
