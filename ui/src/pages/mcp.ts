import { api, type McpCall, type McpClient, type McpStats, type McpTransport } from "../api";
import { drawChart } from "../chart";
import { empty, h, notice, replace, uid } from "../dom";
import { fmtInt, fmtMs, fmtTime, plural } from "../format";
import {
  CALL_STATUSES,
  type CallFilter,
  MCP_TRANSPORTS,
  callSeries,
  connectionLine,
  matchesCall,
  mergeCalls,
  newClientBody,
  newestId,
  parseToolList,
  servedTools,
  stateClass,
  statusLabel,
} from "../mcp";
import { gatewayBase, mcpEndpoint } from "../snippets";

const MAX_CALLS = 500;
/** The live log's poll, and the servers' while one is connecting. */
const POLL_MS = 2000;
const RANGES: { label: string; hours: number }[] = [
  { label: "1h", hours: 1 },
  { label: "24h", hours: 24 },
  { label: "7d", hours: 24 * 7 },
];

/** Tools (MCP): the servers the gateway connects to once and serves to every tool at `/mcp`,
 * their calls over time and per tool, and a live call log. */
export function mcpPage(root: HTMLElement): () => void {
  let stopped = false;
  let hours = 24;
  let disposeChart: (() => void) | null = null;
  let clients: McpClient[] = [];
  let clientsShown = "";
  let statsShown = "";
  /** An edit form holds changes not saved yet: the periodic refresh leaves the cards alone. */
  let editing = false;
  /** After an action (add, save, reconnect) the servers are read on every poll for a while. */
  let fastUntil = 0;

  const endpoint = mcpEndpoint(gatewayBase(location));
  const message = h("div", { "aria-live": "polite" });
  const servers = h("div", { id: "mcp-servers" });
  const serverNames = h("datalist", { id: "mcp-server-names" });
  const rangeBox = h("div", { class: "controls" });
  const chartBox = h("section", { class: "charts", "aria-label": "Tool calls over time" });
  const statsBox = h("div", { class: "table-wrap", id: "mcp-stats" });
  root.append(
    h(
      "p",
      null,
      "Every tool reaches the tools of the servers below at one MCP endpoint, ",
      h("code", { id: "mcp-endpoint" }, endpoint),
      " (Streamable HTTP), named ",
      h("code", null, "server_tool"),
      ". The one-line setup for Claude Code, Codex, Gemini CLI, Cursor and Zed is on ",
      h("a", { href: "#/connect" }, "Connect a tool"),
      ".",
    ),
    h("h2", null, "Servers"),
    message,
    servers,
    serverNames,
    h("h2", null, "Add a server"),
    addForm(),
    h("h2", null, "Calls"),
    rangeBox,
    chartBox,
    statsBox,
    h("h2", null, "Live call log"),
  );

  // ---- servers ----

  async function loadServers(force = false): Promise<void> {
    if (force) fastUntil = Date.now() + 10_000;
    const answer = await api.mcpClients();
    if (stopped) return;
    if (!answer.ok) {
      clientsShown = "";
      replace(servers, empty(answer.missing ? "This gateway has no MCP gateway (/api/mcp/clients)." : `The servers could not load: ${answer.message}`));
      return;
    }
    clients = answer.data.clients ?? [];
    const shown = JSON.stringify(clients);
    if (!force && (shown === clientsShown || editing)) return;
    clientsShown = shown;
    editing = false;
    replace(serverNames, clients.map((c) => h("option", { value: c.config.name })));
    replace(servers, clients.length ? clients.map(card) : empty("No MCP servers yet: add one below, or under [mcp.servers.NAME] in the config file."));
  }

  function say(el: HTMLElement): void {
    replace(message, el);
  }

  function warnings(list: string[] | undefined): HTMLElement[] {
    return (list ?? []).map((w) => notice(`Warning: ${w}`, "info"));
  }

  function card(c: McpClient): HTMLElement {
    const cfg = c.config;
    const name = cfg.name;
    const readOnly = c.source === "config";
    const { served, hidden } = servedTools(c);
    const details = [
      c.server_info ? `${c.server_info.name}${c.server_info.version ? ` ${c.server_info.version}` : ""}` : null,
      c.protocol_version ? `protocol ${c.protocol_version}` : null,
      c.pid ? `pid ${c.pid}` : null,
      c.restarts ? plural(c.restarts, "restart") : null,
    ].filter(Boolean);
    const since = c.since ? h("span", { class: "since", "data-since": c.since }, `${c.state} since ${new Date(c.since).toLocaleString()}`) : null;
    const headers = Object.entries(cfg.headers ?? {});
    const extras = [c.prompts.length ? plural(c.prompts.length, "prompt") : null, c.resources ? plural(c.resources, "resource") : null].filter(Boolean);
    return h(
      "article",
      { class: "server mcp-server", "data-mcp": name },
      h(
        "h2",
        null,
        name,
        " ",
        h("span", { class: `tag state ${stateClass(c.state)}` }, c.state),
        h("span", { class: "tag" }, cfg.connection_type),
        c.local ? h("span", { class: "tag" }, "local") : null,
        readOnly ? h("span", { class: "tag" }, "config file") : null,
      ),
      h("p", null, h("code", { class: "conn" }, connectionLine(cfg))),
      details.length || since ? h("p", { class: "muted" }, details.join(" · "), details.length && since ? " · " : null, since) : null,
      c.reason ? notice(`${c.state === "disabled" ? "Disabled" : c.state === "error" ? "Error" : "Note"}: ${c.reason}`, c.state === "error" ? "error" : "info") : null,
      c.hidden_by_local_only ? notice("Not served while local-only is on: this server is not on this machine.", "info") : null,
      headers.length ? h("p", { class: "muted headers" }, "Headers: ", headers.map(([k, v], i) => [i ? ", " : "", h("code", null, `${k}: ${v}`)])) : null,
      served.length
        ? h("div", null, h("p", null, `Serves ${plural(served.length, "tool")}:`), h("ul", { class: "mcp-tools" }, served.map((t) => h("li", null, h("code", null, t)))))
        : h("p", { class: "muted" }, c.state === "connected" ? "Serves no tools." : "Tools: known once it connects."),
      hidden.length ? h("p", { class: "muted not-served" }, `Not served (left out by tools to execute): ${hidden.join(", ")}`) : null,
      extras.length ? h("p", { class: "muted" }, extras.join(" · ")) : null,
      readOnly
        ? h("p", { class: "muted read-only" }, "From the config file: change or remove it there, under ", h("code", null, `[mcp.servers.${name}]`), ".")
        : editForm(c),
      h(
        "div",
        { class: "row" },
        !cfg.disabled &&
          h(
            "button",
            {
              type: "button",
              onclick: async () => {
                say(notice(`Reconnecting ${name}…`));
                const r = await api.reconnectMcpClient(cfg.client_id);
                say(r.ok ? notice(`Reconnecting ${name}.`, "ok") : notice(`${name}: ${r.message}`, "error"));
                await loadServers(true);
              },
            },
            "Reconnect",
          ),
        !readOnly &&
          h(
            "button",
            {
              type: "button",
              onclick: async () => {
                if (!confirm(`Remove the MCP server ${name}? Its tools stop being served at once.`)) return;
                const r = await api.deleteMcpClient(cfg.client_id);
                say(r.ok ? notice(`Removed ${name}.`, "ok") : notice(`${name}: ${r.message}`, "error"));
                await loadServers(true);
              },
            },
            "Remove",
          ),
      ),
    );
  }

  /** A server added here: which of its tools are served, and whether it is connected at all. */
  function editForm(c: McpClient): HTMLElement {
    const ids = { tools: uid("mtools"), disabled: uid("mdis") };
    const tools = h("input", {
      id: ids.tools,
      name: "tools_to_execute",
      value: c.config.tools_to_execute.join(", "),
      placeholder: "* (every tool), or names",
      title: "The tools served: * for every tool, names separated by commas, or nothing for none",
      oninput: () => { editing = true; },
    });
    const disabled = h("input", { id: ids.disabled, name: "disabled", type: "checkbox", checked: c.config.disabled, onchange: () => { editing = true; } });
    return h(
      "form",
      {
        class: "row mcp-edit",
        onsubmit: async (e: Event) => {
          e.preventDefault();
          const r = await api.updateMcpClient(c.config.client_id, { tools_to_execute: parseToolList(tools.value), disabled: disabled.checked });
          say(r.ok ? notice(`Saved ${c.config.name}.`, "ok") : notice(`${c.config.name}: ${r.message}`, "error"));
          if (r.ok) message.append(...warnings(r.data.warnings));
          await loadServers(true);
        },
      },
      h("label", { htmlFor: ids.tools }, "Tools to execute"),
      tools,
      h("label", { htmlFor: ids.disabled }, disabled, " Disabled"),
      h("button", { type: "submit" }, "Save"),
    );
  }

  function addForm(): HTMLElement {
    const ids = { name: uid("mname"), transport: uid("mtrans"), url: uid("murl"), headers: uid("mhead"), command: uid("mcmd"), args: uid("margs"), tools: uid("mtools") };
    const name = h("input", { id: ids.name, name: "mcp-name", placeholder: "filesystem", autocomplete: "off", title: "Letters, digits and _; it prefixes the server's tools (name_tool)" });
    const transport = h(
      "select",
      { id: ids.transport, name: "mcp-transport", onchange: () => show() },
      MCP_TRANSPORTS.map((t) => h("option", { value: t.id }, t.label)),
    );
    const url = h("input", { id: ids.url, name: "mcp-url", type: "url", placeholder: "http://localhost:8000/mcp" });
    const headers = h("textarea", { id: ids.headers, name: "mcp-headers", rows: 2, placeholder: "Authorization: Bearer …  (one per line)" });
    const command = h("input", { id: ids.command, name: "mcp-command", placeholder: "npx" });
    const args = h("input", { id: ids.args, name: "mcp-args", placeholder: "-y @modelcontextprotocol/server-filesystem /tmp" });
    const tools = h("input", { id: ids.tools, name: "mcp-tools", value: "*", title: "The tools served: * for every tool, names separated by commas, or nothing for none" });
    const out = h("div", { "aria-live": "polite" });
    const pair = (id: string, label: string, control: HTMLElement) => [h("label", { htmlFor: id }, label), control];
    const httpFields = [...pair(ids.url, "URL", url), ...pair(ids.headers, "Headers", headers)];
    const stdioFields = [...pair(ids.command, "Command", command), ...pair(ids.args, "Arguments", args)];
    function show(): void {
      const stdio = transport.value === "stdio";
      for (const el of httpFields) el.hidden = stdio;
      for (const el of stdioFields) el.hidden = !stdio;
    }
    show();
    const form = h(
      "form",
      {
        class: "mcp-form",
        id: "mcp-add",
        onsubmit: async (e: Event) => {
          e.preventDefault();
          const body = newClientBody({
            name: name.value,
            transport: transport.value as McpTransport,
            url: url.value,
            headers: headers.value,
            command: command.value,
            args: args.value,
            tools: tools.value,
          });
          if (!body.ok) {
            replace(out, notice(body.message, "error"));
            return;
          }
          replace(out, notice(`Adding ${body.body.name}…`));
          const r = await api.addMcpClient(body.body);
          if (!r.ok) {
            replace(out, notice(`Refused (${r.status}): ${r.message}`, "error"));
            return;
          }
          // The header values are secrets: not kept in the page once sent.
          headers.value = "";
          name.value = "";
          replace(out, notice(`Added ${body.body.name}: connecting.`, "ok"), ...warnings(r.data.warnings));
          await loadServers(true);
        },
      },
      ...pair(ids.name, "Name", name),
      ...pair(ids.transport, "Transport", transport),
      ...httpFields,
      ...stdioFields,
      ...pair(ids.tools, "Tools to execute", tools),
      h("div", { class: "row" }, h("button", { type: "submit" }, "Add server")),
    );
    return h("div", null, form, out);
  }

  // ---- calls over time and per tool ----

  function renderRange(): void {
    replace(
      rangeBox,
      h(
        "div",
        { role: "group", "aria-label": "Range", class: "seg" },
        RANGES.map((r) =>
          h("button", { type: "button", "aria-pressed": String(r.hours === hours), onclick: () => { hours = r.hours; renderRange(); void loadStats(true); } }, r.label),
        ),
      ),
    );
  }

  async function loadStats(force = false): Promise<void> {
    const answer = await api.mcpStats(hours);
    if (stopped) return;
    if (!answer.ok) {
      statsShown = "";
      disposeChart?.();
      disposeChart = null;
      replace(chartBox, empty(`The call statistics could not load: ${answer.message}`));
      replace(statsBox);
      return;
    }
    const shown = JSON.stringify([hours, answer.data.tools, answer.data.series]);
    if (!force && shown === statsShown) return;
    statsShown = shown;
    renderStats(answer.data);
  }

  function renderStats(stats: McpStats): void {
    disposeChart?.();
    disposeChart = null;
    if (!stats.tools.length) {
      replace(chartBox, empty("No tool calls in this range yet."));
      replace(statsBox);
      return;
    }
    const box = h("div", { class: "chart" });
    replace(chartBox, box);
    disposeChart = drawChart(box, callSeries(stats, Date.now()), { title: "Tool calls", stacked: false, format: fmtInt, integer: true });
    replace(
      statsBox,
      h("h3", null, "Calls per tool"),
      h(
        "table",
        { class: "mcp-stats" },
        h("thead", null, h("tr", null, ["Server", "Tool", "Calls", "Errors", "Average", "Slowest", "Last call"].map((c) => h("th", { scope: "col" }, c)))),
        h(
          "tbody",
          null,
          stats.tools.map((t) =>
            h(
              "tr",
              { "data-tool": `${t.server}/${t.tool}`, class: t.errors ? "err" : null },
              h("td", null, t.server),
              h("td", null, t.tool),
              h("td", null, fmtInt(t.calls)),
              h("td", null, fmtInt(t.errors)),
              h("td", null, fmtMs(t.avg_ms)),
              h("td", null, fmtMs(t.max_ms)),
              h("td", null, fmtWhen(t.last_ms)),
            ),
          ),
        ),
      ),
    );
  }

  // ---- the live call log ----

  const filter: CallFilter = {};
  let calls: McpCall[] = [];
  let after: number | undefined;
  let polling = false;
  const logStatus = h("p", { class: "muted", role: "status" });
  const serverFilter = h("input", { id: "mcp-f-server", name: "server", size: 14, placeholder: "all servers", list: "mcp-server-names" });
  const statusFilter = h(
    "select",
    { id: "mcp-f-status", name: "status", onchange: () => filters.requestSubmit() },
    h("option", { value: "" }, "All"),
    CALL_STATUSES.map((s) => h("option", { value: s.id }, s.label)),
  );
  const filters = h(
    "form",
    {
      class: "filters",
      onsubmit: (e: Event) => {
        e.preventDefault();
        filter.server = serverFilter.value.trim() || undefined;
        filter.status = statusFilter.value || undefined;
        void reloadCalls();
      },
    },
    h("label", { htmlFor: "mcp-f-server" }, "Server"),
    serverFilter,
    h("label", { htmlFor: "mcp-f-status" }, "Call status"),
    statusFilter,
    h("button", { type: "submit" }, "Apply"),
  );
  serverFilter.setAttribute("list", "mcp-server-names");
  const tbody = h("tbody");
  const callTable = h(
    "table",
    { class: "log mcp-calls" },
    h("thead", null, h("tr", null, ["Time", "Server", "Tool", "Caller", "Via", "Status", "Duration", "Error"].map((c) => h("th", { scope: "col" }, c)))),
    tbody,
  );
  const logBox = h("div", { class: "table-wrap" });
  const detail = h("section", { class: "detail", "aria-label": "Tool call detail", hidden: true });
  root.append(filters, logStatus, logBox, detail);

  function callRow(c: McpCall): HTMLElement {
    return h(
      "tr",
      { class: c.status === "ok" ? "" : "err", "data-id": c.id },
      h("td", null, h("button", { type: "button", class: "link", onclick: () => showCall(c) }, fmtTime(c.ts_ms))),
      h("td", null, c.server),
      h("td", null, c.tool),
      h("td", null, c.client ?? "–"),
      h("td", null, c.origin),
      h("td", { class: "status" }, statusLabel(c.status)),
      h("td", null, fmtMs(c.duration_ms)),
      h("td", { class: "error" }, c.error ?? ""),
    );
  }

  function renderCalls(): void {
    if (!calls.length) replace(logBox, empty(filter.server || filter.status ? "No calls match." : "No tool calls yet. New calls appear here as they happen."));
    else {
      replace(tbody, calls.map(callRow));
      replace(logBox, callTable);
    }
  }

  function showCall(c: McpCall): void {
    detail.hidden = false;
    const rows: [string, string][] = [
      ["Call", String(c.id)],
      ["Time", new Date(c.ts_ms).toLocaleString()],
      ["Server", c.server],
      ["Tool", c.tool],
      ["Caller", c.client ?? "–"],
      ["Virtual key", c.virtual_key ?? "–"],
      ["Via", c.origin === "mcp" ? "/mcp" : c.origin === "execute" ? "/v1/mcp/tool/execute" : "agent mode"],
      ["Status", statusLabel(c.status)],
      ["Duration", fmtMs(c.duration_ms)],
    ];
    if (c.error) rows.push(["Error", c.error]);
    replace(
      detail,
      h("h2", null, `Tool call ${c.id}`),
      h("div", { class: "detail-group" }, h("dl", null, rows.map(([k, v]) => [h("dt", null, k), h("dd", null, v)]))),
      c.arguments !== null || c.result !== null
        ? h(
            "div",
            { class: "detail-bodies" },
            c.arguments !== null && h("details", { open: true }, h("summary", null, "Arguments"), h("pre", null, c.arguments)),
            c.result !== null && h("details", { open: true }, h("summary", null, "Result"), h("pre", null, c.result)),
          )
        : h("p", { class: "muted" }, "Arguments and results are kept only with usage.store_bodies."),
      h("button", { type: "button", onclick: () => { detail.hidden = true; } }, "Close"),
    );
    detail.querySelector("button")?.focus();
    detail.scrollIntoView({ block: "nearest" });
  }

  async function reloadCalls(): Promise<void> {
    const answer = await api.mcpCalls({ ...filter, limit: 100 });
    if (stopped) return;
    if (!answer.ok) {
      calls = [];
      after = undefined;
      replace(logBox, empty(`The call log could not load: ${answer.message}`));
      return;
    }
    calls = answer.data.calls ?? [];
    after = newestId(calls, undefined);
    renderCalls();
    logStatus.textContent = `Live: new calls appear within ${POLL_MS / 1000} s.`;
  }

  /** New calls since the newest shown; new ones also refresh the per-tool figures. */
  async function pollCalls(): Promise<void> {
    if (polling) return;
    polling = true;
    try {
      const answer = await api.mcpCalls({ ...filter, after_id: after, limit: 100 });
      if (stopped || !answer.ok) return;
      const fresh = (answer.data.calls ?? []).filter((c) => matchesCall(filter, c));
      if (!fresh.length) return;
      calls = mergeCalls(calls, fresh, MAX_CALLS);
      after = newestId(calls, after);
      renderCalls();
      void loadStats();
    } finally {
      polling = false;
    }
  }

  // ---- timers: poll while the page is visible ----

  let ticks = 0;
  function tick(): void {
    if (stopped || document.visibilityState !== "visible") return;
    ticks++;
    void pollCalls();
    if (ticks % 5 === 0) void loadStats();
    // Faster while a server is on its way to connected, and just after an action.
    if (ticks % 5 === 0 || Date.now() < fastUntil || clients.some((c) => c.state === "connecting")) void loadServers();
  }
  const visible = () => { if (document.visibilityState === "visible") { void loadServers(); void pollCalls(); void loadStats(); } };
  document.addEventListener("visibilitychange", visible);
  // The chart's colours are drawn on canvas: redraw them when the system turns dark or light.
  const scheme = matchMedia("(prefers-color-scheme: dark)");
  const redraw = () => void loadStats(true);
  scheme.addEventListener("change", redraw);

  renderRange();
  void loadServers(true);
  void loadStats(true);
  void reloadCalls();
  const timer = setInterval(tick, POLL_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
    document.removeEventListener("visibilitychange", visible);
    scheme.removeEventListener("change", redraw);
    disposeChart?.();
  };
}

/** A time today as 14:03:07; an older one with its date. */
function fmtWhen(ms: number): string {
  const d = new Date(ms);
  return d.toDateString() === new Date().toDateString() ? fmtTime(ms) : d.toLocaleString();
}
