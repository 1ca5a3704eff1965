import { api, type KeyBudget, type NewKey, type VirtualKey } from "../api";
import { empty, h, notice, replace, uid } from "../dom";

/** Keys & budgets: each tool its own virtual key, with what it may use and spend. */
export function keysPage(root: HTMLElement): void {
  const created = h("div", { "aria-live": "polite" });
  const list = h("div");
  root.append(
    h("p", { class: "muted" }, "Give each tool its own key: its spend shows apart, and it can be limited or revoked here without touching a provider key."),
    created,
    newKeyForm(),
    list,
  );

  async function load(): Promise<void> {
    const answer = await api.virtualKeys();
    if (!answer.ok) {
      replace(list, empty(answer.message));
      return;
    }
    const keys = answer.data.virtual_keys;
    replace(list, keys.length ? keys.map(card) : empty("No virtual keys yet."));
  }

  function card(key: VirtualKey): HTMLElement {
    const out = h("div");
    const where = key.allow_all_providers
      ? "every provider and model"
      : key.provider_configs.length
        ? key.provider_configs
            .map((c) => `${c.provider}: ${c.allowed_models.join(", ") || "no models"}${c.weight != null ? ` (weight ${c.weight})` : ""}`)
            .join("; ")
        : "nothing yet (add providers)";
    return h(
      "article",
      { class: "provider", "data-key": key.id },
      h("h2", null, key.name, " ", h("span", { class: "tag" }, key.is_active ? "active" : "disabled"), " ", h("code", { class: "muted" }, key.value_hint)),
      h("p", null, "May use: ", where),
      key.budgets.map((b) => budgetBar(b)),
      key.rate_limit?.request_max_limit
        ? h("p", { class: "muted" }, `Requests: ${key.rate_limit.request_current_usage} of ${key.rate_limit.request_max_limit} per ${key.rate_limit.request_reset_duration}`)
        : null,
      h(
        "div",
        { class: "row" },
        h(
          "button",
          {
            type: "button",
            onclick: async () => {
              const r = await api.updateKey(key.id, { is_active: !key.is_active });
              if (r.ok) await load();
              else replace(out, notice(r.message, "error"));
            },
          },
          key.is_active ? "Disable" : "Enable",
        ),
        h(
          "button",
          {
            type: "button",
            onclick: async () => {
              if (!confirm(`Delete the key ${key.name}? Tools using it are refused from then on.`)) return;
              const r = await api.deleteVirtualKey(key.id);
              if (r.ok) await load();
              else replace(out, notice(r.message, "error"));
            },
          },
          "Delete",
        ),
      ),
      out,
    );
  }

  function budgetBar(b: KeyBudget): HTMLElement {
    const share = b.max_limit > 0 ? Math.min(1, b.current_usage / b.max_limit) : 0;
    const label = `$${b.current_usage.toFixed(2)} of $${b.max_limit.toFixed(2)} per ${b.reset_duration}; resets ${new Date(b.resets_at).toLocaleString()}`;
    return h(
      "div",
      { class: "budget" },
      h("progress", { max: "1", value: String(share), "aria-label": label, class: share >= 0.8 ? "warn" : undefined }),
      h("span", { class: "muted" }, label),
    );
  }

  function newKeyForm(): HTMLElement {
    const ids = { name: uid("kname"), providers: uid("kprov"), models: uid("kmodels"), budget: uid("kbudget"), period: uid("kperiod"), rate: uid("krate") };
    const name = h("input", { id: ids.name, name: "key-name", placeholder: "claude-code", required: true });
    const providers = h("input", {
      id: ids.providers,
      name: "key-providers",
      placeholder: "all, or vllm-mlx:0.9, openai:0.1",
      title: "Providers the key may use, each with an optional weight (its share of the key's traffic; the others are its fallbacks)",
    });
    const models = h("input", { id: ids.models, name: "key-models", placeholder: "all models", title: "Models the key may use on those providers, comma-separated" });
    const budget = h("input", { id: ids.budget, name: "key-budget", type: "number", min: "0", step: "0.01", placeholder: "no budget" });
    const period = h("select", { id: ids.period, name: "key-period" }, ["1d", "1w", "1M"].map((p) => h("option", { value: p }, p)));
    const rate = h("input", { id: ids.rate, name: "key-rate", type: "number", min: "1", step: "1", placeholder: "no limit" });
    return h(
      "form",
      {
        class: "row",
        onsubmit: async (e: Event) => {
          e.preventDefault();
          const body: NewKey = { name: name.value.trim() };
          const entries = providers.value.split(",").map((p) => p.trim()).filter(Boolean);
          const allowed = models.value.split(",").map((m) => m.trim()).filter(Boolean);
          if (!entries.length || entries.includes("all")) body.allow_all_providers = true;
          else
            body.provider_configs = entries.map((entry) => {
              const [provider, weight] = entry.split(":").map((s) => s.trim());
              const config: { provider: string; allowed_models: string[]; weight?: number } = {
                provider,
                allowed_models: allowed.length ? allowed : ["*"],
              };
              if (weight && Number.isFinite(Number(weight))) config.weight = Number(weight);
              return config;
            });
          if (budget.value) body.budget = { max_limit: Number(budget.value), reset_duration: period.value };
          if (rate.value) body.rate_limit = { request_max_limit: Number(rate.value), request_reset_duration: "1m" };
          const r = await api.createKey(body);
          if (!r.ok) {
            replace(created, notice(r.message, "error"));
            return;
          }
          const value = r.data.virtual_key.value ?? "";
          const field = h("input", { readonly: true, value, "aria-label": "The new key", class: "key-value" });
          replace(
            created,
            notice(`Key ${r.data.virtual_key.name} created. Copy it now: it is not shown again.`, "ok"),
            h(
              "div",
              { class: "row" },
              field,
              h("button", { type: "button", onclick: () => void navigator.clipboard?.writeText(value).catch(() => field.select()) }, "Copy"),
            ),
          );
          name.value = "";
          await load();
        },
      },
      h("label", { htmlFor: ids.name }, "New key for"),
      name,
      h("label", { htmlFor: ids.providers }, "Providers"),
      providers,
      h("label", { htmlFor: ids.models }, "Models"),
      models,
      h("label", { htmlFor: ids.budget }, "Budget $"),
      budget,
      h("label", { htmlFor: ids.period }, "per"),
      period,
      h("label", { htmlFor: ids.rate }, "Requests/min"),
      rate,
      h("button", { type: "submit" }, "Create key"),
    );
  }

  void load();
}
