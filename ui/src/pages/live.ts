import { LOG_STREAM_URL, api, type LogEntry, type LogFilter } from "../api";
import { empty, h, notice, replace } from "../dom";
import { fmtCost, fmtInt, fmtMs, fmtTime } from "../format";
import { CACHE_CHOICES, type CacheChoice, cacheBadge, cacheFilter, matchesCache } from "../cache";
import { ATTEMPT_COLUMNS, attemptRows, detailGroups, fellBack } from "../logdetail";

const MAX_ROWS = 500;

export function liveLog(root: HTMLElement): () => void {
  const filter: LogFilter = { limit: 100 };
  let rows: LogEntry[] = [];
  let cursor: number | null = null;
  let source: EventSource | null = null;
  let stopped = false;

  const status = h("p", { class: "muted", role: "status" });
  const field = (id: keyof LogFilter, label: string, placeholder: string) =>
    h("label", null, label, " ", h("input", { id: `f-${id}`, name: id, type: id === "status" ? "number" : "text", size: 14, placeholder, value: String(filter[id] ?? "") }));
  const form = h(
    "form",
    {
      class: "filters",
      onsubmit: (e: Event) => {
        e.preventDefault();
        const data = new FormData(form);
        for (const k of ["client", "model", "provider", "class"] as const) filter[k] = String(data.get(k) ?? "") || undefined;
        const s = Number(data.get("status"));
        filter.status = s ? s : undefined;
        filter.cache = cacheFilter(String(data.get("cache") ?? "all") as CacheChoice);
        void reload();
      },
    },
    field("client", "Tool", "claude-code"),
    // The model as the provider named it (the part after `provider/`).
    field("model", "Model", "gpt-4o"),
    field("provider", "Provider", "openai"),
    field("class", "Class", "coding"),
    field("status", "Status", "429"),
    // Applies at once, as the Overview's selects do (with whatever else the form holds).
    h(
      "label",
      null,
      "Cache ",
      h("select", { id: "f-cache", name: "cache", onchange: () => form.requestSubmit() }, CACHE_CHOICES.map((c) => h("option", { value: c.id }, c.label))),
    ),
    h("button", { type: "submit" }, "Apply"),
  );
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "log" },
    h("thead", null, h("tr", null, ["Time", "Tool", "Class", "Model", "Status", "Latency", "Tokens", "Cost"].map((c) => h("th", { scope: "col" }, c)))),
    tbody,
  );
  const more = h("button", { type: "button", hidden: true, onclick: () => void page() }, "Older…");
  const detail = h("section", { class: "detail", "aria-label": "Request detail", hidden: true });
  const listBox = h("div", { class: "table-wrap" });
  root.append(form, status, listBox, more, detail);

  const matches = (r: LogEntry) =>
    (!filter.client || r.client === filter.client) &&
    (!filter.model || r.model === filter.model) &&
    (!filter.provider || r.provider === filter.provider) &&
    (!filter.class || r.task_class === filter.class) &&
    (!filter.status || r.status === filter.status) &&
    matchesCache(filter.cache, r);

  function row(r: LogEntry): HTMLElement {
    const tokens = (r.input_tokens ?? 0) + (r.output_tokens ?? 0);
    const cached = cacheBadge(r);
    return h(
      "tr",
      { class: r.outcome === "success" ? "" : "err", "data-id": r.id },
      h("td", null, h("button", { type: "button", class: "link", onclick: () => void showDetail(r.id) }, fmtTime(r.ts_ms))),
      h("td", null, r.client ?? "–"),
      h("td", null, r.task_class ?? "–"),
      h(
        "td",
        null,
        r.provider && r.model ? `${r.provider}/${r.model}` : (r.requested_model ?? "–"),
        r.local ? h("span", { class: "tag" }, "local") : null,
        fellBack(r) ? h("span", { class: "tag", title: `fell back from ${r.requested_model}` }, "fallback") : null,
        cached ? h("span", { class: "tag cache", title: r.cache_saved_usd != null ? `served from the cache: saved ${fmtCost(r.cache_saved_usd)}` : "served from the cache" }, cached) : null,
      ),
      h("td", null, String(r.status)),
      h("td", null, fmtMs(r.latency_ms)),
      h("td", null, tokens ? fmtInt(tokens) : "–"),
      h("td", null, fmtCost(r.cost_usd)),
    );
  }

  function render(): void {
    if (!rows.length) replace(listBox, empty("No requests yet. New requests appear here as they happen."));
    else {
      replace(tbody, rows.map(row));
      replace(listBox, table);
    }
    more.hidden = cursor === null;
  }

  async function showDetail(id: number): Promise<void> {
    const answer = await api.log(id);
    detail.hidden = false;
    if (!answer.ok) {
      replace(detail, notice(answer.message, "error"));
      return;
    }
    const trail = answer.data.attempts_trail ?? [];
    const attempts = attemptRows(answer.data);
    replace(
      detail,
      h("h2", null, `Request ${id}`),
      detailGroups(answer.data).map((g) =>
        h("div", { class: "detail-group" }, h("h3", null, g.title), h("dl", null, g.rows.map(([label, value]) => [h("dt", null, label), h("dd", null, value)]))),
      ),
      attempts.length > 0 &&
        h(
          "div",
          { class: "detail-attempts table-wrap" },
          h("h3", null, "Attempts"),
          h(
            "table",
            { class: "attempts" },
            h("thead", null, h("tr", null, ATTEMPT_COLUMNS.map((c) => h("th", { scope: "col" }, c)))),
            h("tbody", null, attempts.map((cells, i) => h("tr", { class: trail[i]?.error_type ? "err" : null }, cells.map((c) => h("td", null, c))))),
          ),
        ),
      h("button", { type: "button", onclick: () => { detail.hidden = true; } }, "Close"),
    );
    detail.querySelector("button")?.focus();
    detail.scrollIntoView({ block: "nearest" });
    // The prompt and the answer, when the gateway kept them (usage.store_bodies).
    if (!answer.data.bodies_stored) return;
    const bodies = await api.logBody(id);
    if (stopped || detail.hidden || !bodies.ok) return;
    const b = bodies.data;
    detail.insertBefore(
      h(
        "div",
        { class: "detail-bodies" },
        h("h3", null, b.truncated ? "Bodies (cut at the stored size)" : "Bodies"),
        h("details", null, h("summary", null, "Request"), h("pre", null, b.request)),
        h("details", null, h("summary", null, "Answer"), h("pre", null, b.response)),
      ),
      detail.querySelector("button"),
    );
  }

  async function reload(): Promise<void> {
    const answer = await api.logs(filter);
    if (stopped) return;
    if (!answer.ok) {
      rows = [];
      cursor = null;
      replace(listBox, empty(answer.missing ? "No request log yet: this gateway has no usage API (/api/logs)." : `The log could not load: ${answer.message}`));
      return;
    }
    rows = answer.data.data ?? [];
    cursor = answer.data.next_cursor ?? null;
    render();
  }

  async function page(): Promise<void> {
    if (cursor === null) return;
    const answer = await api.logs({ ...filter, cursor });
    if (!answer.ok || stopped) return;
    rows = rows.concat(answer.data.data ?? []);
    cursor = answer.data.next_cursor ?? null;
    render();
  }

  function connect(): void {
    if (typeof EventSource === "undefined") return;
    source = new EventSource(LOG_STREAM_URL);
    source.addEventListener("open", () => { status.textContent = "Live: new requests appear as they happen."; });
    source.addEventListener("log", (e) => {
      try {
        const r = JSON.parse((e as MessageEvent).data) as LogEntry;
        if (!matches(r) || rows.some((x) => x.id === r.id)) return;
        rows.unshift(r);
        if (rows.length > MAX_ROWS) rows.length = MAX_ROWS;
        render();
      } catch {
        /* a malformed event is skipped */
      }
    });
    source.addEventListener("lagged", () => void reload());
    source.addEventListener("error", () => {
      // CONNECTING: the browser retries by itself (the gateway restarted); CLOSED: the route
      // answered something other than a stream, so stop and say so.
      status.textContent =
        source?.readyState === EventSource.CONNECTING
          ? "Reconnecting to the request stream…"
          : "Not live: the request stream (/api/logs/stream) is not available.";
    });
  }

  // The stream is opened only when the log route exists, so an older gateway shows a message,
  // not a failing EventSource.
  void reload().then(() => { if (!stopped && listBox.querySelector(".empty")?.textContent?.startsWith("No request log") !== true) connect(); });
  return () => {
    stopped = true;
    source?.close();
  };
}
