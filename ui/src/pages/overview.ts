import { api, type GroupBy, type UsageAnswer } from "../api";
import { cacheCard } from "../cache";
import { drawChart } from "../chart";
import { empty, h, replace } from "../dom";
import { fmtCost, fmtCostTicks, fmtInt, fmtMs, fmtPercent, plural } from "../format";
import { METRICS, RANGES, type Range, buildSeries, localSavings, localShare, rangeWindow, stackable } from "../series";

const GROUPS: { id: GroupBy; label: string }[] = [
  { id: "client", label: "Tool" },
  { id: "model", label: "Model" },
  { id: "provider", label: "Provider" },
  { id: "class", label: "Class" },
  { id: "locality", label: "Local / cloud" },
  { id: "virtual_key", label: "Virtual key" },
];

export function overview(root: HTMLElement): () => void {
  let range: Range = "24h";
  let groupBy: GroupBy = "client";
  let disposers: (() => void)[] = [];
  let stopped = false;

  const cards = h("section", { class: "cards", "aria-label": "Today" });
  const controls = h("div", { class: "controls" });
  const charts = h("section", { class: "charts", "aria-label": "Usage over time" });
  root.append(cards, controls, charts);

  const renderControls = () => {
    const select = h(
      "select",
      { id: "group-by", onchange: (e: Event) => { groupBy = (e.target as HTMLSelectElement).value as GroupBy; load(); } },
      GROUPS.map((g) => h("option", { value: g.id, selected: g.id === groupBy }, g.label)),
    );
    replace(
      controls,
      h(
        "div",
        { role: "group", "aria-label": "Range", class: "seg" },
        RANGES.map((r) => h("button", { type: "button", "aria-pressed": String(r === range), onclick: () => { range = r; load(); } }, r)),
      ),
      h("label", { htmlFor: "group-by" }, "Stack by "),
      select,
    );
  };

  async function loadCards(): Promise<void> {
    const [summary, localOnly, locality] = await Promise.all([
      api.summary(),
      api.localOnly(),
      api.usage({ ...rangeWindow("24h", Date.now()), group_by: "locality" }),
    ]);
    if (stopped) return;
    const card = (label: string, value: string, extra?: string, id?: string, alarm = false) =>
      h("div", { class: alarm ? "card alarm" : "card", id }, h("div", { class: "label" }, label), h("div", { class: "value" }, value), extra ? h("div", { class: "extra" }, extra) : null);
    const items: HTMLElement[] = [];
    if (summary.ok) {
      const s = summary.data;
      items.push(
        card("Requests today", fmtInt(s.requests), s.errors ? plural(s.errors, "error") : "no errors", "requests-today"),
        card("Tokens today", fmtInt(s.input_tokens + s.output_tokens), `${fmtInt(s.input_tokens)} in · ${fmtInt(s.output_tokens)} out`, "tokens-today"),
        card("Cost today", fmtCost(s.cost_usd), undefined, "cost-today"),
        card("Top tool", s.top_client ?? "–", s.top_model ? `top model ${s.top_model}` : undefined, "top-tool"),
      );
    } else {
      items.push(card("Today", "–", summary.missing ? "usage API not available in this build" : summary.message));
    }
    if (locality.ok) {
      const { local, cloud } = localShare(locality.data.data);
      items.push(card("Local share (24h)", fmtPercent(local, local + cloud), `${fmtInt(local)} local · ${fmtInt(cloud)} cloud`, "local-share"));
      const { saved, localRequests } = localSavings(locality.data.data);
      items.push(
        card(
          "Saved by running locally (24h)",
          saved === null ? "–" : fmtCost(saved),
          saved === null ? "nothing served locally" : `${plural(localRequests, "local request")} at their class's cloud price`,
          "local-savings",
        ),
      );
    }
    // Beside the local savings: what the response cache answered today and what that saved.
    const cached = summary.ok ? cacheCard(summary.data) : null;
    if (cached) items.push(card("Cache hit rate today", cached.value, cached.extra, "cache"));
    if (localOnly.ok) {
      const lo = localOnly.data;
      items.push(
        card(
          "Cloud attempts while local-only",
          String(lo.cloud_attempts_while_local),
          lo.enabled ? "local-only is ON" : "local-only is off",
          "cloud-attempts",
          lo.cloud_attempts_while_local > 0,
        ),
      );
    }
    replace(cards, items);
  }

  async function loadCharts(): Promise<void> {
    const window = rangeWindow(range, Date.now());
    const answer = await api.usage({ ...window, group_by: groupBy });
    if (stopped) return;
    disposers.forEach((d) => d());
    disposers = [];
    if (!answer.ok) {
      replace(charts, empty(answer.missing ? "No usage data yet: this gateway has no usage API (/api/usage)." : `Usage could not load: ${answer.message}`));
      return;
    }
    renderCharts(answer.data, window);
  }

  function renderCharts(answer: UsageAnswer, window: ReturnType<typeof rangeWindow>): void {
    if (!answer.data?.length) {
      replace(charts, empty("No requests in this range yet."));
      return;
    }
    replace(charts);
    // Requests without a key are the tools that presented none.
    const unnamed = answer.group_by === "virtual_key" ? "no key" : "unknown";
    const order = buildSeries(answer.data, "requests", window, undefined, unnamed).groups;
    for (const m of METRICS) {
      const data = buildSeries(answer.data, m.id, window, order, unnamed);
      const box = h("div", { class: "chart" });
      charts.appendChild(box);
      const format = m.id === "cost" ? fmtCost : m.id === "p50" || m.id === "p95" ? fmtMs : fmtInt;
      const integer = m.id === "requests" || m.id === "tokens" || m.id === "errors";
      const ticks = m.id === "cost" ? fmtCostTicks : undefined;
      disposers.push(drawChart(box, data, { title: m.label, stacked: stackable(m.id), format, integer, ticks }));
    }
  }

  function load(): void {
    renderControls();
    void loadCharts();
  }

  load();
  void loadCards();
  const timer = setInterval(() => { void loadCards(); void loadCharts(); }, 30_000);
  // The charts' colours are drawn on canvas: redraw them when the system turns dark or light.
  const scheme = matchMedia("(prefers-color-scheme: dark)");
  const redraw = () => void loadCharts();
  scheme.addEventListener("change", redraw);
  return () => {
    stopped = true;
    clearInterval(timer);
    scheme.removeEventListener("change", redraw);
    disposers.forEach((d) => d());
  };
}
