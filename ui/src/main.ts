// First: repairs navigator.language before uPlot (imported by the pages) reads it; see locale.ts.
import "./locale";
import "./style.css";
import { h, replace } from "./dom";
import { overview } from "./pages/overview";
import { liveLog } from "./pages/live";
import { modelsPage } from "./pages/models";
import { providersPage } from "./pages/providers";
import { localServersPage } from "./pages/local";
import { connectPage } from "./pages/connect";
import { keysPage } from "./pages/keys";
import { mcpPage } from "./pages/mcp";
import { SIGNED_OUT } from "./api";

/** A page renders into its root and returns a cleanup (timers, streams). */
export type Page = (root: HTMLElement) => (() => void) | void;

const PAGES: { path: string; title: string; page: Page }[] = [
  { path: "overview", title: "Overview", page: overview },
  { path: "live", title: "Live log", page: liveLog },
  { path: "models", title: "Models & classes", page: modelsPage },
  { path: "providers", title: "Providers & keys", page: providersPage },
  { path: "keys", title: "Keys & budgets", page: keysPage },
  { path: "local", title: "Local servers", page: localServersPage },
  { path: "mcp", title: "Tools (MCP)", page: mcpPage },
  { path: "connect", title: "Connect a tool", page: connectPage },
];

const app = document.getElementById("app")!;
const nav = h("nav", { "aria-label": "Pages" });
const main = h("main", { id: "main", tabindex: "-1" });
replace(
  app,
  h("a", { class: "skip", href: "#main", onclick: (e: Event) => { e.preventDefault(); main.focus(); } }, "Skip to content"),
  h("header", null, h("span", { class: "brand" }, "Switchyard"), nav),
  main,
);

let cleanup: (() => void) | void;

function route(): void {
  const path = location.hash.replace(/^#\/?/, "") || "overview";
  const current = PAGES.find((p) => p.path === path) ?? PAGES[0];
  replace(
    nav,
    PAGES.map((p) => h("a", { href: `#/${p.path}`, "aria-current": p === current ? "page" : undefined }, p.title)),
  );
  if (cleanup) cleanup();
  document.title = `${current.title} · Switchyard`;
  replace(main, h("h1", null, current.title));
  const body = h("div", { class: "page" });
  main.appendChild(body);
  cleanup = current.page(body);
}

/** The admin API refused the dashboard (no session cookie, or one from an older token): say how
 * to get in instead of showing pages of errors. The form posts to the gateway's `/login`. */
function signIn(): void {
  if (document.getElementById("signin")) return;
  if (cleanup) cleanup();
  cleanup = undefined;
  replace(nav);
  document.title = "Sign in · Switchyard";
  replace(
    main,
    h("h1", null, "Sign in"),
    h(
      "div",
      { class: "page", id: "signin" },
      h("p", null, "The dashboard needs this gateway's admin token. To get in:"),
      h(
        "ul",
        null,
        h("li", null, "choose ", h("b", null, "Open dashboard…"), " in Switchyard's menu-bar menu, or"),
        h("li", null, "open the one-time link the gateway printed when it started (", h("code", null, "switchyard-gateway dashboard-url"), " prints a new one), or"),
        h("li", null, "paste the token (", h("code", null, "switchyard-gateway token"), " prints it):"),
      ),
      h(
        "form",
        { method: "post", action: "/login", class: "row" },
        h("input", { name: "token", type: "password", autocomplete: "off", placeholder: "sya_…", "aria-label": "Admin token" }),
        h("button", { type: "submit" }, "Sign in"),
      ),
    ),
  );
}

window.addEventListener(SIGNED_OUT, signIn);
window.addEventListener("hashchange", route);
route();
