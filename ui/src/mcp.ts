// The MCP gateway as the dashboard shows it: the add form's body (Bifrost's shape), a server's
// connection line and state badge, the calls-over-time chart's data, and the live call log's
// merging and filtering.
import type { McpCall, McpCallStatus, McpClient, McpClientConfig, McpState, McpStats, McpTransport, NewMcpClient } from "./api";
import type { ChartData } from "./series";

export const MCP_TRANSPORTS: { id: McpTransport; label: string }[] = [
  { id: "http", label: "Streamable HTTP" },
  { id: "sse", label: "HTTP + SSE (older servers)" },
  { id: "stdio", label: "stdio (a local command)" },
];

export const CALL_STATUSES: { id: McpCallStatus; label: string }[] = [
  { id: "ok", label: "ok" },
  { id: "tool_error", label: "tool error" },
  { id: "error", label: "error" },
  { id: "timeout", label: "timeout" },
  { id: "denied", label: "denied" },
  { id: "cancelled", label: "cancelled" },
];

export function statusLabel(status: McpCallStatus): string {
  return CALL_STATUSES.find((s) => s.id === status)?.label ?? status;
}

/** The badge's colour class for a server's state. */
export function stateClass(state: McpState): string {
  return state === "connected" ? "ok" : state === "connecting" ? "warn" : state === "error" ? "err" : "";
}

/** A command line as a shell splits it: spaces separate, quotes ('…', "…") and `\` keep. */
export function splitArgs(line: string): string[] {
  const out: string[] = [];
  let word = "";
  let started = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < line.length && (line[i + 1] === '"' || line[i + 1] === "\\")) word += line[++i];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      started = true;
    } else if (c === "\\" && i + 1 < line.length) {
      word += line[++i];
      started = true;
    } else if (/\s/.test(c)) {
      if (started) out.push(word);
      word = "";
      started = false;
    } else {
      word += c;
      started = true;
    }
  }
  if (started) out.push(word);
  return out;
}

/** `Name: value` lines (blank lines skipped); the first bad line is named. */
export function parseHeaders(text: string): { ok: true; headers: Record<string, string> } | { ok: false; message: string } {
  const headers: Record<string, string> = {};
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (!line) continue;
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon).trim() : "";
    if (!name || /\s/.test(name)) return { ok: false, message: `Headers, line ${i + 1}: write it as Name: value` };
    headers[name] = line.slice(colon + 1).trim();
  }
  return { ok: true, headers };
}

/** "*" (every tool), names separated by commas or spaces, or nothing (no tool served). */
export function parseToolList(text: string): string[] {
  return text.split(/[\s,]+/).map((t) => t.trim()).filter(Boolean);
}

export interface AddForm {
  name: string;
  transport: McpTransport;
  url: string;
  headers: string;
  command: string;
  args: string;
  tools: string;
}

/** The add form's fields as `POST /api/mcp/client` takes them; a missing field is named. */
export function newClientBody(form: AddForm): { ok: true; body: NewMcpClient } | { ok: false; message: string } {
  const name = form.name.trim();
  if (!name) return { ok: false, message: "A name is needed: it prefixes the server's tools (name_tool)." };
  const body: NewMcpClient = { name, connection_type: form.transport, tools_to_execute: parseToolList(form.tools), tools_to_auto_execute: [] };
  if (form.transport === "stdio") {
    const command = form.command.trim();
    if (!command) return { ok: false, message: "A command is needed for a stdio server (npx, uvx, a path)." };
    body.stdio_config = { command, args: splitArgs(form.args) };
    body.env = {};
  } else {
    const url = form.url.trim();
    if (!url) return { ok: false, message: "A URL is needed for an HTTP server (http://host:port/mcp)." };
    const headers = parseHeaders(form.headers);
    if (!headers.ok) return headers;
    body.connection_string = url;
    body.headers = headers.headers;
  }
  return { ok: true, body };
}

/** How the gateway reaches a server: its URL, or its command line. */
export function connectionLine(config: McpClientConfig): string {
  if (config.connection_type === "stdio") {
    const s = config.stdio_config;
    if (!s) return "stdio";
    const quote = (a: string) => (a === "" || /[\s'"\\]/.test(a) ? `'${a.replace(/'/g, `'\\''`)}'` : a);
    return [s.command, ...s.args].map(quote).join(" ");
  }
  return config.connection_string ?? "";
}

/** The names `/mcp` serves a server's tools under, and its tools it leaves out, each sorted. */
export function servedTools(client: McpClient): { served: string[]; hidden: string[] } {
  const served: string[] = [];
  const hidden: string[] = [];
  for (const t of client.tools) {
    if (t.served_as) served.push(t.served_as);
    else hidden.push(t.name);
  }
  return { served: served.sort(), hidden: hidden.sort() };
}

/** `/api/mcp/stats`' sparse series as chart data: every bucket from `since` to now, two lines. */
export function callSeries(stats: McpStats, now: number): ChartData {
  const size = Math.max(1000, stats.bucket_ms);
  const start = Math.floor(stats.since / size) * size;
  const xsMs: number[] = [];
  for (let t = start; t <= now; t += size) xsMs.push(t);
  const index = new Map(xsMs.map((t, i) => [t, i]));
  const calls = new Array<number>(xsMs.length).fill(0);
  const errors = new Array<number>(xsMs.length).fill(0);
  for (const p of stats.series) {
    const i = index.get(Math.floor(p.t / size) * size);
    if (i === undefined) continue;
    calls[i] += p.calls;
    errors[i] += p.errors;
  }
  return { xs: xsMs.map((t) => t / 1000), groups: ["calls", "errors"], values: [calls, errors] };
}

export interface CallFilter {
  server?: string;
  status?: string;
}

/** Whether a call passes the live log's filter, as the gateway filters the list. */
export function matchesCall(filter: CallFilter, call: McpCall): boolean {
  return (!filter.server || call.server === filter.server) && (!filter.status || call.status === filter.status);
}

/** New calls (newest first, as polled) over the shown ones: no id twice, at most `max`. */
export function mergeCalls(shown: McpCall[], fresh: McpCall[], max: number): McpCall[] {
  const seen = new Set(shown.map((c) => c.id));
  const merged = [...fresh.filter((c) => !seen.has(c.id)), ...shown].sort((a, b) => b.id - a.id);
  return merged.slice(0, max);
}

/** The id the next poll asks after: the newest shown, else the one before. */
export function newestId(calls: McpCall[], previous: number | undefined): number | undefined {
  return calls.reduce<number | undefined>((m, c) => (m === undefined || c.id > m ? c.id : m), previous);
}
