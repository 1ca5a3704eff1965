import { api, type CacheStats, type ChainEntry, type ModelRecord, type TaskClass } from "../api";
import { CACHE_MODES, cacheChanges, fmtDuration, fmtHitRate, fmtMiB, fmtThreshold, looksLikeEmbedding } from "../cache";
import { empty, h, notice, replace, uid } from "../dom";
import { fmtBytes, fmtInt, fmtTime } from "../format";

const entry = (e: ChainEntry) => (typeof e === "string" ? e : `${e.model}${e.weight ? ` ×${e.weight}` : ""}`);

export function modelsPage(root: HTMLElement): void {
  const localBox = h("section", { "aria-labelledby": "lo-h" }, h("h2", { id: "lo-h" }, "Local-only mode"));
  const classBox = h("section", { "aria-labelledby": "cl-h" }, h("h2", { id: "cl-h" }, "Task classes"));
  const cacheBox = h("section", { "aria-labelledby": "rc-h", id: "cache-settings" }, h("h2", { id: "rc-h" }, "Response cache"));
  const catalogBox = h("section", { "aria-labelledby": "ca-h" }, h("h2", { id: "ca-h" }, "Catalog"));
  root.append(localBox, classBox, cacheBox, catalogBox);
  const localBody = h("div");
  const classBody = h("div");
  const cacheBody = h("div");
  const catalogBody = h("div");
  localBox.append(localBody);
  classBox.append(classBody);
  cacheBox.append(cacheBody);
  catalogBox.append(catalogBody);

  async function loadLocalOnly(message?: HTMLElement): Promise<void> {
    const answer = await api.localOnly();
    if (!answer.ok) {
      replace(localBody, empty(answer.message));
      return;
    }
    const lo = answer.data;
    const force = h("input", { type: "checkbox", id: "lo-force" });
    const toggle = h("input", {
      type: "checkbox",
      role: "switch",
      id: "lo-switch",
      checked: lo.enabled,
      onchange: async () => {
        toggle.disabled = true;
        const result = await api.setLocalOnly(toggle.checked, force.checked);
        await loadLocalOnly(
          result.ok
            ? notice(`Local-only is ${result.data.enabled ? "on" : "off"}.`, "ok")
            : notice(`Refused (${result.status}${result.code ? ` ${result.code}` : ""}): ${result.message}`, "error"),
        );
        void loadClasses();
      },
    });
    replace(
      localBody,
      h("p", null, h("label", { class: "switch" }, toggle, " Serve every request from local servers only")),
      h("p", null, h("label", null, force, " Force (turn on even when no local server answers)")),
      h(
        "p",
        { class: "muted" },
        `Cloud attempts while local-only: `,
        h("strong", { id: "lo-attempts" }, String(lo.cloud_attempts_while_local)),
        ` · local providers: `,
        lo.local_providers.length
          ? lo.local_providers.map((p) => `${p.provider} (${p.healthy ? `${p.models} model${p.models === 1 ? "" : "s"}` : "not answering"})`).join(", ")
          : "none",
      ),
      message ?? null,
    );
  }

  async function loadClasses(): Promise<void> {
    const [classes, models] = await Promise.all([api.taskClasses(), api.models()]);
    if (!classes.ok) {
      replace(classBody, empty(classes.message));
      return;
    }
    const catalog: ModelRecord[] = models.ok ? models.data.data : [];
    replace(
      classBody,
      h(
        "table",
        { class: "classes" },
        h("thead", null, h("tr", null, ["Class", "Current model", "Chain", "Local chain", "Pick the primary"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", null, classes.data.classes.map((c) => classRow(c, catalog))),
      ),
    );
  }

  function classRow(c: TaskClass, catalog: ModelRecord[]): HTMLElement {
    const id = uid("pick");
    const status = h("span", { class: "muted", role: "status" });
    const select = h(
      "select",
      { id, name: `class-${c.name}`, "data-class": c.name },
      h("option", { value: "" }, "— choose —"),
      catalog.map((m) => h("option", { value: m.id, selected: m.id === c.model }, `${m.id}${m.local ? " (local)" : ""}`)),
    );
    const save = h(
      "button",
      {
        type: "button",
        onclick: async () => {
          if (!select.value) return;
          const r = await api.setClassModel(c.name, select.value);
          if (r.ok) await loadClasses();
          else status.textContent = r.message;
        },
      },
      "Use",
    );
    const reset = h(
      "button",
      {
        type: "button",
        title: "Back to the config's or the built-in definition",
        onclick: async () => {
          if (!confirm(`Reset ${c.name} to the config's or the built-in definition? Your edits to it are lost.`)) return;
          const r = await api.resetClass(c.name);
          if (r.ok) await loadClasses();
          else status.textContent = r.message;
        },
      },
      "Reset",
    );
    return h(
      "tr",
      { "data-class": c.name },
      h("th", { scope: "row" }, c.name, c.description ? h("div", { class: "muted" }, c.description) : null),
      h("td", { class: "current" }, c.model ?? h("span", { class: "muted" }, "nothing resolves")),
      h("td", null, h("code", null, c.chain.map(entry).join(" → ") || "–")),
      h("td", null, h("code", null, c.local.map(entry).join(" → ") || "–")),
      h("td", null, h("label", { htmlFor: id, class: "sr-only" }, `Model for ${c.name}`), select, " ", save, " ", reset, " ", status),
    );
  }

  async function loadCatalog(): Promise<void> {
    const answer = await api.models();
    if (!answer.ok) {
      replace(catalogBody, empty(answer.message));
      return;
    }
    const byProvider = Object.entries(answer.data.providers ?? {});
    if (!byProvider.length) {
      replace(catalogBody, empty("No providers yet: add a key under Providers & keys, or start a local server."));
      return;
    }
    replace(
      catalogBody,
      byProvider.map(([name, status]) =>
        h(
          "details",
          { open: byProvider.length <= 3 },
          h("summary", null, `${name} — ${status.models.length} model${status.models.length === 1 ? "" : "s"}`, status.stale ? h("span", { class: "tag warn" }, "stale") : null),
          status.error ? notice(status.error, "error") : null,
          h("ul", { class: "models" }, status.models.map((m) => h("li", null, h("code", null, `${name}/${m}`)))),
        ),
      ),
    );
  }

  /** The cache's settings and what it holds (`/api/cache/stats`); saved and cleared in place. */
  async function loadCache(message?: HTMLElement): Promise<void> {
    const [answer, models] = await Promise.all([api.cacheStats(), api.models()]);
    if (!answer.ok) {
      replace(cacheBody, empty(answer.missing ? "This gateway has no cache API (/api/cache): it was built before the response cache." : `The cache could not load: ${answer.message}`));
      return;
    }
    const st = answer.data;
    const suggestions = models.ok ? models.data.data.map((m) => m.id).filter(looksLikeEmbedding) : [];
    const status = h("div", { role: "status" }, message ?? null);
    const input = (id: string, value: string, extra: Record<string, unknown> = {}) => h("input", { id, name: id, value, size: 12, autocomplete: "off", ...extra });
    const mode = h("select", { id: "cache-mode", name: "cache-mode" }, CACHE_MODES.map((m) => h("option", { value: m, selected: m === st.mode }, m)));
    const threshold = input("cache-threshold", fmtThreshold(st.threshold), { type: "number", step: "any", inputmode: "decimal" });
    const ttl = input("cache-ttl", fmtDuration(st.ttl_secs), { placeholder: "1h" });
    const maxMiB = input("cache-max", fmtMiB(st.max_bytes), { type: "number", step: "any", inputmode: "decimal" });
    const embedding = input("cache-embedding", st.embedding_model ?? "", { size: 32, placeholder: "ollama/nomic-embed-text", list: "cache-embedding-models" });
    const field = (control: HTMLElement, label: string, hint?: string) => [
      h("label", { htmlFor: control.id }, label),
      h("div", null, control, hint ? h("span", { class: "muted" }, ` ${hint}`) : null),
    ];
    const save = async (e: Event) => {
      e.preventDefault();
      const change = cacheChanges(st, { mode: mode.value, threshold: threshold.value, ttl: ttl.value, maxMiB: maxMiB.value, embedding: embedding.value });
      if ("error" in change) {
        replace(status, notice(change.error, "error"));
        return;
      }
      if (!Object.keys(change.body).length) {
        replace(status, notice("Nothing changed.", "info"));
        return;
      }
      const r = await api.setCacheConfig(change.body);
      // Refused: the typed values stay, with the gateway's reason (it names the field).
      if (!r.ok) replace(status, notice(`Refused (${r.status}${r.code ? ` ${r.code}` : ""}): ${r.message}`, "error"));
      else await loadCache(notice("Saved.", "ok"));
    };
    const clear = async () => {
      if (!confirm(`Clear the response cache? Its ${entries(st.entries)} are deleted; the next requests go upstream again.`)) return;
      const r = await api.clearCache();
      if (!r.ok) replace(status, notice(`Not cleared (${r.status}): ${r.message}`, "error"));
      else await loadCache(notice(`Cleared: ${entries(r.data.deleted)} deleted.`, "ok"));
    };
    replace(
      cacheBody,
      h(
        "p",
        { class: "muted" },
        "Holds ",
        h("strong", { id: "cache-entries" }, entries(st.entries)),
        " (",
        h("strong", { id: "cache-bytes" }, fmtBytes(st.bytes)),
        ") · hits ",
        h("strong", { id: "cache-hits" }, `${fmtInt(st.hits.exact)} exact, ${fmtInt(st.hits.semantic)} semantic`),
        " · misses ",
        h("strong", { id: "cache-misses" }, fmtInt(st.misses)),
        " · hit rate ",
        h("strong", { id: "cache-hit-rate" }, fmtHitRate(st.hits.exact + st.hits.semantic, st.misses)),
        ` since ${since(st)}`,
      ),
      h(
        "p",
        { id: "cache-semantic" },
        "Semantic layer: ",
        st.semantic.active ? h("span", { class: "tag ok" }, "active") : h("span", { class: "tag warn" }, "inactive"),
        st.semantic.reason ? h("span", { class: "muted" }, ` ${st.semantic.reason}`) : null,
      ),
      h(
        "form",
        { class: "cache-form", onsubmit: save },
        field(mode, "Mode", "off, exact (same request) or semantic (similar prompt)"),
        field(threshold, "Similarity threshold", "cosine, semantic only"),
        field(ttl, "TTL", "1h, 30m, 2d or seconds"),
        field(maxMiB, "Size cap (MiB)", "least recently used entries go first"),
        field(embedding, "Embedding model", "provider/model, semantic only"),
        h("datalist", { id: "cache-embedding-models" }, suggestions.map((m) => h("option", { value: m }))),
        h("div", { class: "row" }, h("button", { type: "submit" }, "Save"), h("button", { type: "button", onclick: clear }, "Clear cache")),
      ),
      status,
    );
  }

  void loadLocalOnly();
  void loadClasses();
  void loadCache();
  void loadCatalog();
}

function entries(n: number): string {
  return `${fmtInt(n)} ${n === 1 ? "entry" : "entries"}`;
}

/** When the counters started: the gateway's start, as a time today or a date. */
function since(st: CacheStats): string {
  const d = new Date(st.since_ms);
  return d.toDateString() === new Date().toDateString() ? `the gateway started at ${fmtTime(st.since_ms)}` : `the gateway started on ${d.toLocaleDateString()}`;
}
