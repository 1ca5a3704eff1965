import { api, type NewProvider, type ProvidersAnswer } from "../api";
import { empty, h, notice, replace, uid } from "../dom";
import { plural } from "../format";

export function providersPage(root: HTMLElement): void {
  const body = h("div");
  const addForm = h("div");
  root.append(body, addForm);

  async function load(message?: { provider: string; el: HTMLElement }): Promise<void> {
    const answer = await api.providers();
    if (!answer.ok) {
      replace(body, empty(answer.message));
      return;
    }
    render(answer.data, message);
  }

  function render(data: ProvidersAnswer, message?: { provider: string; el: HTMLElement }): void {
    replace(
      body,
      h("p", { class: "muted" }, `Keys are kept in: ${data.secret_store}`),
      data.providers.length ? null : empty("No providers yet."),
      data.providers.map(({ provider: p, catalog }) => {
        const id = uid("key");
        const input = h("input", { id, type: "password", autocomplete: "off", name: `key-${p.name}`, placeholder: "paste a key" });
        const out = h("div", { class: "provider-status" }, message?.provider === p.name ? message.el : null);
        const catalogLine = catalog
          ? catalog.error
            ? notice(`Catalog: ${catalog.error}`, "error")
            : h("p", { class: "muted" }, `Catalog: ${plural(catalog.models.length, "model")}${catalog.stale ? " (stale)" : ""}`)
          : h("p", { class: "muted" }, "Catalog: not loaded yet");
        return h(
          "article",
          { class: "provider", "data-provider": p.name },
          h("h2", null, p.name, " ", h("span", { class: "tag" }, p.local ? "local" : "cloud"), " ", h("span", { class: "muted" }, p.kind)),
          h("p", null, h("code", null, p.base_url)),
          h("p", null, "Keys: ", h("span", { class: "keys" }, p.keys.length ? p.keys.join(", ") : "none")),
          catalogLine,
          h(
            "form",
            {
              class: "row",
              onsubmit: async (e: Event) => {
                e.preventDefault();
                if (!input.value.trim()) return;
                const r = await api.putKey(p.name, input.value.trim());
                input.value = "";
                await load({
                  provider: p.name,
                  el: r.ok ? notice(`Saved ${r.data.key} in ${r.data.stored_in}.`, "ok") : notice(r.message, "error"),
                });
              },
            },
            h("label", { htmlFor: id }, "API key"),
            input,
            h("button", { type: "submit" }, "Save key"),
            h(
              "button",
              {
                type: "button",
                onclick: async () => {
                  out.replaceChildren(notice("Testing…"));
                  const r = await api.refreshModels();
                  if (!r.ok) {
                    out.replaceChildren(notice(r.message, "error"));
                    return;
                  }
                  const st = r.data.providers?.[p.name];
                  out.replaceChildren(
                    !st
                      ? notice("No catalog for this provider.", "error")
                      : st.error
                        ? notice(`Failed: ${st.error}`, "error")
                        : notice(`OK: ${plural(st.models.length, "model")}${st.stale ? " (stale)" : ""}.`, "ok"),
                  );
                },
              },
              "Test connection",
            ),
            p.source === "api"
              ? h(
                  "button",
                  {
                    type: "button",
                    onclick: async () => {
                      if (!confirm(`Remove provider ${p.name} and its stored key?`)) return;
                      const r = await api.deleteProvider(p.name);
                      await load(r.ok ? undefined : { provider: p.name, el: notice(r.message, "error") });
                    },
                  },
                  "Remove provider",
                )
              : null,
            p.keys.some((k) => k.startsWith("secret.") || k.startsWith("****"))
              ? h(
                  "button",
                  {
                    type: "button",
                    onclick: async () => {
                      if (!confirm(`Remove ${p.name}'s key from the secret store? Requests to it will then go without a key.`)) return;
                      const r = await api.deleteKey(p.name);
                      await load({ provider: p.name, el: r.ok ? notice("Key removed from the secret store.", "ok") : notice(r.message, "error") });
                    },
                  },
                  "Remove key",
                )
              : null,
          ),
          out,
        );
      }),
    );
  }

  // A known cloud provider that does not exist yet is created by saving its key.
  const nameId = uid("new");
  const keyId = uid("newkey");
  const name = h("input", { id: nameId, name: "new-provider", placeholder: "openai", list: "known-providers" });
  const key = h("input", { id: keyId, name: "new-key", type: "password", autocomplete: "off" });
  const result = h("div");
  replace(
    addForm,
    h("h2", null, "Add a cloud provider"),
    h("datalist", { id: "known-providers" }, ["openai", "anthropic", "gemini", "openrouter", "groq", "mistral", "deepseek"].map((n) => h("option", { value: n }))),
    h(
      "form",
      {
        class: "row",
        onsubmit: async (e: Event) => {
          e.preventDefault();
          if (!name.value.trim() || !key.value.trim()) return;
          const r = await api.putKey(name.value.trim(), key.value.trim());
          key.value = "";
          replace(result, r.ok ? notice(`Saved ${r.data.key} for ${r.data.provider}.`, "ok") : notice(r.message, "error"));
          if (r.ok) void load();
        },
      },
      h("label", { htmlFor: nameId }, "Provider"),
      name,
      h("label", { htmlFor: keyId }, "API key"),
      key,
      h("button", { type: "submit" }, "Add"),
    ),
    result,
    urlForm(),
  );
  name.setAttribute("list", "known-providers");
  void load();

  /** Any provider at any base URL: a vLLM on the LAN, a second OpenAI-compatible cloud. */
  function urlForm(): HTMLElement[] {
    const ids = { name: uid("pname"), kind: uid("pkind"), url: uid("purl"), key: uid("pkey"), where: uid("pwhere") };
    const pname = h("input", { id: ids.name, name: "provider-name", placeholder: "lan-vllm", required: true });
    const kind = h(
      "select",
      { id: ids.kind, name: "provider-kind" },
      ["openai-compatible", "ollama", "lmstudio", "mlx-local", "anthropic", "gemini", "openai", "openrouter", "groq", "mistral", "deepseek"].map((k) =>
        h("option", { value: k }, k),
      ),
    );
    const url = h("input", { id: ids.url, name: "provider-url", type: "url", placeholder: "http://192.168.1.20:8000/v1", required: true });
    const pkey = h("input", { id: ids.key, name: "provider-key", type: "password", autocomplete: "off", placeholder: "optional" });
    const where = h(
      "select",
      { id: ids.where, name: "provider-where" },
      h("option", { value: "" }, "local if on this machine"),
      h("option", { value: "local" }, "local"),
      h("option", { value: "cloud" }, "cloud"),
    );
    const out = h("div");
    return [
      h("h2", null, "Add a provider by URL"),
      h(
        "form",
        {
          class: "row",
          onsubmit: async (e: Event) => {
            e.preventDefault();
            const body: NewProvider = { kind: kind.value, base_url: url.value.trim() };
            if (pkey.value.trim()) body.key = pkey.value.trim();
            if (where.value) body.local = where.value === "local";
            const r = await api.putProvider(pname.value.trim(), body);
            pkey.value = "";
            replace(out, r.ok ? notice(`${r.data.created ? "Added" : "Updated"} ${r.data.provider.name}.`, "ok") : notice(r.message, "error"));
            if (r.ok) void load();
          },
        },
        h("label", { htmlFor: ids.name }, "Name"),
        pname,
        h("label", { htmlFor: ids.kind }, "Kind"),
        kind,
        h("label", { htmlFor: ids.url }, "Base URL"),
        url,
        h("label", { htmlFor: ids.key }, "API key"),
        pkey,
        h("label", { htmlFor: ids.where }, "Counts as"),
        where,
        h("button", { type: "submit" }, "Add provider"),
      ),
      out,
    ];
  }
}
