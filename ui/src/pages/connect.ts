import { h } from "../dom";
import { gatewayBase, snippets } from "../snippets";

export function connectPage(root: HTMLElement): void {
  const base = gatewayBase(location);
  root.append(
    h("p", null, "Every tool talks to ", h("code", null, base), ". Use a task class (", h("code", null, "coding"), ", ", h("code", null, "review"), ", …) as the model: the gateway picks the current model."),
    ...snippets(base).map((s) => {
      const pre = h("pre", { id: `snippet-${s.id}`, tabindex: "0" }, s.text);
      const status = h("span", { class: "muted", role: "status" });
      return h(
        "section",
        { class: "snippet" },
        h("h2", null, s.tool, " ", h("span", { class: "muted" }, s.where)),
        pre,
        h(
          "button",
          {
            type: "button",
            "aria-label": `Copy the ${s.tool} settings`,
            onclick: async () => {
              try {
                await navigator.clipboard.writeText(s.text);
                status.textContent = "Copied.";
              } catch {
                getSelection()?.selectAllChildren(pre);
                status.textContent = "Selected: press ⌘C / Ctrl+C.";
              }
            },
          },
          "Copy",
        ),
        " ",
        status,
      );
    }),
  );
}
