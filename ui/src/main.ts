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

/** A page renders into its root and returns a cleanup (timers, streams). */
export type Page = (root: HTMLElement) => (() => void) | void;

const PAGES: { path: string; title: string; page: Page }[] = [
  { path: "overview", title: "Overview", page: overview },
  { path: "live", title: "Live log", page: liveLog },
  { path: "models", title: "Models & classes", page: modelsPage },
  { path: "providers", title: "Providers & keys", page: providersPage },
  { path: "local", title: "Local servers", page: localServersPage },
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

window.addEventListener("hashchange", route);
route();
