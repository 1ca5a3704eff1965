import { api, type ChainEntry, type ModelRecord, type TaskClass } from "../api";
import { empty, h, notice, replace, uid } from "../dom";

const entry = (e: ChainEntry) => (typeof e === "string" ? e : `${e.model}${e.weight ? ` ×${e.weight}` : ""}`);

export function modelsPage(root: HTMLElement): void {
  const localBox = h("section", { "aria-labelledby": "lo-h" }, h("h2", { id: "lo-h" }, "Local-only mode"));
  const classBox = h("section", { "aria-labelledby": "cl-h" }, h("h2", { id: "cl-h" }, "Task classes"));
  const catalogBox = h("section", { "aria-labelledby": "ca-h" }, h("h2", { id: "ca-h" }, "Catalog"));
  root.append(localBox, classBox, catalogBox);
  const localBody = h("div");
  const classBody = h("div");
  const catalogBody = h("div");
  localBox.append(localBody);
  classBox.append(classBody);
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

  void loadLocalOnly();
  void loadClasses();
  void loadCatalog();
}
