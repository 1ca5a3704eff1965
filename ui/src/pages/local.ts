import { api, type LocalServer } from "../api";
import { empty, h, notice, replace } from "../dom";
import { fmtBytes } from "../format";

export function localServersPage(root: HTMLElement): () => void {
  const body = h("div");
  const message = h("div");
  root.append(message, body);
  let stopped = false;

  async function load(): Promise<void> {
    const answer = await api.localServers();
    if (stopped) return;
    if (!answer.ok) {
      replace(body, empty(answer.message));
      return;
    }
    const servers = answer.data.servers ?? [];
    replace(
      body,
      h("p", { class: "muted" }, `Service manager: ${answer.data.backend}`),
      servers.length ? servers.map(card) : empty("No local servers configured."),
    );
  }

  function card(s: LocalServer): HTMLElement {
    const cpu = s.usage?.cpu_percent;
    const rss = s.usage?.rss_bytes;
    const action = (a: "start" | "stop" | "restart") =>
      h(
        "button",
        {
          type: "button",
          onclick: async () => {
            replace(message, notice(`${a} ${s.name}…`));
            const r = await api.localServerAction(s.name, a);
            replace(message, r.ok ? notice(`${s.name}: ${a} done.`, "ok") : notice(`${s.name}: ${r.message}`, "error"));
            await load();
          },
        },
        a[0].toUpperCase() + a.slice(1),
      );
    return h(
      "article",
      { class: "server", "data-server": s.name },
      h("h2", null, s.name, " ", h("span", { class: `tag ${s.running ? "ok" : ""}` }, s.running ? "running" : s.installed ? "stopped" : "not installed")),
      h(
        "p",
        { class: "muted" },
        [s.model ? `model ${s.model}` : "no model set", s.base_url, s.pid ? `pid ${s.pid}` : null, s.state]
          .filter(Boolean)
          .join(" · "),
      ),
      h("p", null, `CPU ${typeof cpu === "number" ? `${cpu.toFixed(1)}%` : "–"} · RAM ${fmtBytes(typeof rss === "number" ? rss : null)}`),
      h("p", { class: "gpu", title: s.gpu?.note ?? "" }, gpuLine(s.gpu)),
      s.error ? notice(s.error, "error") : null,
      (s.notes ?? []).map((n) => h("p", { class: "muted" }, n)),
      h("div", { class: "row" }, s.running ? [action("stop"), action("restart")] : action("start")),
      h("details", null, h("summary", null, "Log tail"), h("pre", { class: "log-tail" }, (s.log_tail ?? []).join("\n") || "(empty)")),
    );
  }

  void load();
  const timer = setInterval(() => void load(), 5000);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

/** "GPU 37% · 5.0 GiB", or why there is no figure (Linux, no permission). */
export function gpuLine(gpu: LocalServer["gpu"]): string {
  const busy = gpu?.device_utilization_percent;
  const memory = gpu?.in_use_memory_bytes;
  if (typeof busy !== "number" && typeof memory !== "number") return `GPU: ${gpu?.note || "not measured here"}`;
  const parts = [typeof busy === "number" ? `${busy}%` : null, typeof memory === "number" ? fmtBytes(memory) : null].filter(Boolean);
  return `GPU ${parts.join(" · ")}`;
}
