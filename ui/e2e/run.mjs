// End-to-end: the real gateway binary (target/debug/switchyard-gateway, built by cargo first)
// serving the built dashboard (ui/dist), against real mock upstreams (switchyard-mock), driven
// by Playwright (playwright-core) in Debian's headless Chromium. Screenshots go to
// ui/test-artifacts/. Run with `npm run test:e2e` after `npm run build`.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const here = fileURLToPath(new URL(".", import.meta.url));
const repo = resolve(here, "../..");
const targetDir = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(repo, "target");
const GATEWAY = join(targetDir, "debug/switchyard-gateway");
const MOCK = join(targetDir, "debug/switchyard-mock");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const ARTIFACTS = join(repo, "ui/test-artifacts");
// A provider name no real setup uses: its key goes to the OS secret store and is removed at the end.
const CLOUD = "e2ecloud";

for (const [what, path] of [["keyctl (Debian keyutils)", process.platform === "linux" ? "/usr/bin/keyctl" : "/"], ["gateway", GATEWAY], ["mock", MOCK], ["chromium", CHROMIUM], ["ui/dist", join(repo, "ui/dist/index.html")]]) {
  if (!existsSync(path)) {
    console.error(`test:e2e: ${what} not found at ${path} (cargo build -p gateway-core -p switchyard-mock; npm run build; apt-get install chromium)`);
    process.exit(2);
  }
}
mkdirSync(ARTIFACTS, { recursive: true });
const tmp = mkdtempSync(join(tmpdir(), "switchyard-ui-e2e-"));
const children = [];

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.on("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

/** Starts a mock upstream on a free port; resolves with its base URL from its stderr line. */
function startMock(models) {
  const child = spawn(MOCK, ["--port", "0", "--models", models.join(",")], { stdio: ["ignore", "ignore", "pipe"] });
  children.push(child);
  return new Promise((ok, fail) => {
    let text = "";
    child.stderr.on("data", (chunk) => {
      text += chunk;
      const m = text.match(/switchyard-mock listening on (http:\/\/[^\s]+)/);
      if (m) ok(m[1]);
    });
    child.on("exit", (code) => fail(new Error(`switchyard-mock exited (${code}): ${text}`)));
  });
}

async function startGateway(name, config) {
  const port = await freePort();
  const file = join(tmp, `${name}.toml`);
  writeFileSync(file, config);
  const log = [];
  // In a fresh kernel keyring session (Linux): keys saved by the test never reach the user's own.
  const argv = [GATEWAY, "--config", file, "--port", String(port)];
  const [cmd, ...args] = process.platform === "linux" ? ["keyctl", "session", "-", ...argv] : argv;
  const child = spawn(cmd, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, SWITCHYARD_LOG: "warn" },
  });
  child.stdout.on("data", (c) => log.push(String(c)));
  child.stderr.on("data", (c) => log.push(String(c)));
  children.push(child);
  const base = `http://localhost:${port}`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`gateway exited: ${log.join("")}`);
    try {
      if ((await fetch(`${base}/health`)).ok) return { base, child, log };
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gateway did not start: ${log.join("")}`);
}

async function stopGateway(gw) {
  gw.child.kill("SIGTERM");
  await new Promise((r) => (gw.child.exitCode !== null ? r() : gw.child.on("exit", r)));
}

const provider = (name, url, extra = "") => `[providers.${name}]\nkind = "openai-compatible"\nbase_url = "${url}/v1"\nmax_retries = 0\n${extra}`;
const baseConfig = () => `[discovery]\nfrom_env = false\nprobe_local = false\n[routing]\nstate_file = "${join(tmp, `state-${Date.now()}.json`)}"\n`;

async function chat(base, model) {
  const r = await fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }] }),
  });
  await r.arrayBuffer();
  return r;
}

let browser;
let page;
const consoleErrors = [];
async function newPage(context) {
  const page = await context.newPage();
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    // This branch's gateway has no usage API yet: the browser reports those 404s, which the
    // dashboard turns into empty states. Anything else is a failure.
    const url = msg.location()?.url ?? "";
    if (/\/api\/(usage|logs)/.test(url) && /404/.test(msg.text())) return;
    // The refusal of local-only without a local server is asked for on purpose (the browser
    // reports every 4xx answer to fetch as a failed resource).
    if (/\/api\/local-only$/.test(url) && /409/.test(msg.text())) return;
    consoleErrors.push(`${page.url()}: ${msg.text()} (${url})`);
  });
  page.on("pageerror", (err) => consoleErrors.push(`${page.url()}: ${err.message}`));
  return page;
}

async function shot(page, name) {
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

const steps = [];
async function step(name, fn) {
  const started = Date.now();
  await fn();
  steps.push(name);
  console.log(`ok - ${name} (${Date.now() - started} ms)`);
}

async function main() {
  const cloudUrl = await startMock(["gpt-4o", "claude-sonnet-4"]);
  const localUrl = await startMock(["qwen2.5-coder-7b"]);

  const classes = `[task_classes.coding]\nchain = ["${CLOUD}/gpt-4o"]\nlocal = ["mlx/*coder*"]\n`;
  // Run 1: a cloud provider only (a loopback mock marked `local = false`).
  let gw = await startGateway("cloud", baseConfig() + provider(CLOUD, cloudUrl, "local = false\n") + classes);

  browser = await chromium.launchPersistentContext(join(tmp, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    viewport: { width: 800, height: 600 },
    colorScheme: "light",
  });
  page = await newPage(browser);

  await step("the dashboard loads from the gateway, fast, with embedded assets", async () => {
    const index = await fetch(`${gw.base}/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get("content-type"), /^text\/html/);
    const html = await index.text();
    const js = html.match(/src="(\/assets\/[^"]+\.js)"/)[1];
    const asset = await fetch(gw.base + js);
    assert.match(asset.headers.get("content-type"), /^text\/javascript/);
    const head = await fetch(`${gw.base}/`, { method: "HEAD" });
    assert.equal(head.status, 200);
    // The page's own navigation timing (request start to the load event), as a user would
    // see it on a second visit of a warm browser; the debug gateway reads the files from disk.
    await page.goto(`${gw.base}/`, { waitUntil: "load" });
    await page.reload({ waitUntil: "load" });
    const loadMs = await page.evaluate(() => performance.getEntriesByType("navigation")[0].loadEventEnd);
    console.log(`   page load ${Math.round(loadMs)} ms`);
    assert.ok(loadMs < 300, `the dashboard took ${loadMs} ms to load`);
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    await page.locator("#cloud-attempts .value").waitFor();
    assert.equal(await page.locator("#cloud-attempts .value").textContent(), "0");
    await shot(page, "overview-light");
  });

  await step("providers and their catalog show", async () => {
    await page.goto(`${gw.base}/#/providers`);
    const card = page.locator(`article[data-provider="${CLOUD}"]`);
    await card.waitFor();
    await card.getByText("Catalog: 2 models").waitFor();
    await card.getByRole("button", { name: "Test connection" }).click();
    await card.getByText("OK: 2 models").waitFor();
  });

  await step("a key added to a provider is shown masked", async () => {
    const card = page.locator(`article[data-provider="${CLOUD}"]`);
    await card.getByLabel("API key").fill("sk-e2e-secret-9876");
    await card.getByRole("button", { name: "Save key" }).click();
    await page.getByText(/Saved \*+9876/).waitFor();
    const keys = await page.locator(`article[data-provider="${CLOUD}"] .keys`).textContent();
    assert.ok(!keys.includes("sk-e2e-secret"), `key shown in clear: ${keys}`);
    assert.ok(!(await page.content()).includes("sk-e2e-secret-9876"), "the key is in the page");
    await shot(page, "providers-light");
    await page.locator(`article[data-provider="${CLOUD}"]`).getByRole("button", { name: "Remove key" }).click();
    await page.getByText("Key removed from the secret store.").waitFor();
    assert.equal(await page.locator(`article[data-provider="${CLOUD}"] .keys`).textContent(), "none");
  });

  await step("models and classes show; picking a class model routes the next request there", async () => {
    await page.goto(`${gw.base}/#/models`);
    const row = page.locator('tr[data-class="coding"]');
    await row.locator(".current").getByText(`${CLOUD}/gpt-4o`).waitFor();
    await page.locator("ul.models code", { hasText: `${CLOUD}/claude-sonnet-4` }).waitFor();
    let r = await chat(gw.base, "coding");
    assert.equal(r.headers.get("x-switchyard-model"), "gpt-4o");
    await row.getByLabel("Model for coding").selectOption(`${CLOUD}/claude-sonnet-4`);
    await row.getByRole("button", { name: "Use" }).click();
    await page.locator('tr[data-class="coding"] .current').getByText(`${CLOUD}/claude-sonnet-4`).waitFor();
    r = await chat(gw.base, "coding");
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("x-switchyard-model"), "claude-sonnet-4");
    assert.equal(r.headers.get("x-switchyard-provider"), CLOUD);
    // Reset: back to the config's chain.
    await row.getByRole("button", { name: "Reset" }).click();
    await page.locator('tr[data-class="coding"] .current').getByText(`${CLOUD}/gpt-4o`).waitFor();
    assert.equal((await chat(gw.base, "coding")).headers.get("x-switchyard-model"), "gpt-4o");
  });

  await step("local-only is refused without a local server, with the reason", async () => {
    await page.getByRole("switch").check();
    await page.getByText(/Refused \(409 no_local_server\)/).waitFor();
    assert.equal(await page.getByRole("switch").isChecked(), false);
    await shot(page, "models-refused-light");
    // Forced on: a cloud model is refused with 503 local_only, and no cloud attempt is made.
    await page.getByLabel("Force (turn on even when no local server answers)").check();
    await page.getByRole("switch").check();
    await page.getByText("Local-only is on.").waitFor();
    const r = await chat(gw.base, `${CLOUD}/gpt-4o`);
    assert.equal(r.status, 503);
    assert.equal((await (await fetch(`${gw.base}/api/local-only`)).json()).cloud_attempts_while_local, 0);
    await page.getByRole("switch").uncheck();
    await page.getByText("Local-only is off.").waitFor();
  });

  await step("every page renders and is reachable by keyboard", async () => {
    for (const [hash, heading] of [["live", "Live log"], ["local", "Local servers"], ["connect", "Connect a tool"]]) {
      await page.goto(`${gw.base}/#/${hash}`);
      await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
      await page.waitForTimeout(300);
      await shot(page, `${hash}-light`);
    }
    const port = new URL(gw.base).port;
    assert.match(await page.locator("#snippet-claude-code").textContent(), new RegExp(`ANTHROPIC_BASE_URL=http://localhost:${port}\\n`));
    assert.match(await page.locator("#snippet-codex").textContent(), new RegExp(`base_url = "http://localhost:${port}/v1"`));
    // Keyboard: Tab reaches the nav links; Enter follows one.
    await page.goto(`${gw.base}/#/overview`);
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press("Tab");
      if ((await page.evaluate(() => document.activeElement?.textContent)) === "Live log") break;
    }
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Live log");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Live log", level: 1 }).waitFor();
  });

  // The live page holds an EventSource on the gateway: leave it before the gateway stops, or its
  // reconnect attempts show up as console errors.
  await page.goto("about:blank");
  await stopGateway(gw);

  // Run 2: the cloud mock (`local = false`) and a second mock as a local provider.
  gw = await startGateway("local", baseConfig() + provider(CLOUD, cloudUrl, "local = false\n") + provider("mlx", localUrl) + classes);
  await page.emulateMedia({ colorScheme: "dark" });

  await step("with a local server, local-only turns on and cloud attempts stay 0", async () => {
    await page.goto(`${gw.base}/#/models`);
    await page.getByRole("switch").check();
    await page.getByText("Local-only is on.").waitFor();
    assert.equal(await page.getByRole("switch").isChecked(), true);
    await page.locator('tr[data-class="coding"] .current').getByText("mlx/qwen2.5-coder-7b").waitFor();
    const r = await chat(gw.base, `${CLOUD}/gpt-4o`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("x-switchyard-provider"), "mlx");
    const lo = await (await fetch(`${gw.base}/api/local-only`)).json();
    assert.equal(lo.enabled, true);
    assert.equal(lo.cloud_attempts_while_local, 0);
    await shot(page, "models-dark");
    await page.goto(`${gw.base}/#/overview`);
    await page.locator("#cloud-attempts .value").waitFor();
    assert.equal(await page.locator("#cloud-attempts .value").textContent(), "0");
    await shot(page, "overview-dark");
    for (const hash of ["providers", "live", "local", "connect"]) {
      await page.goto(`${gw.base}/#/${hash}`);
      await page.waitForTimeout(300);
      await shot(page, `${hash}-dark`);
    }
  });

  await step("with the usage API (answers shaped like wt-usage's, served by the test), charts, totals and the live log render", async () => {
    const now = Date.now();
    const HOUR = 3_600_000;
    const start = Math.floor(now / HOUR) * HOUR;
    const tools = ["claude-code", "aider", "codex"];
    const points = [];
    for (let h = 0; h < 24; h++) {
      tools.forEach((tool, i) => {
        const requests = Math.round(5 + 4 * Math.sin(h / 3 + i) + (3 - i) * 3);
        points.push({
          ts_ms: start - h * HOUR, group: tool, requests, errors: h % 7 === i ? 1 : 0,
          input_tokens: requests * 900, output_tokens: requests * 300, cached_tokens: 0, reasoning_tokens: 0,
          cost_usd: requests * 0.004 * (i + 1), p50_latency_ms: 400 + 50 * i, p95_latency_ms: 1500 + 200 * i,
        });
      });
    }
    const row = (id, extra = {}) => ({
      id, ts_ms: now - (100 - id) * 1000, client: "claude-code", virtual_key: null, task_class: "coding", family: "openai",
      endpoint: "/v1/chat/completions", requested_model: "coding", provider: CLOUD, model: "gpt-4o", local: false, attempts: 1,
      status: 200, outcome: "success", error_type: null, latency_ms: 812.4, ttft_ms: 120.5, input_tokens: 1200, output_tokens: 340,
      cached_tokens: 0, reasoning_tokens: 0, cost_usd: 0.0064, stream: true, cache_hit: null, session_id: null, user_agent: "claude-cli/2.0", ...extra,
    });
    const json = (body) => ({ status: 200, contentType: "application/json", body: JSON.stringify(body) });
    await page.route(/\/api\/usage\/summary/, (r) => r.fulfill(json({ since_ms: start, requests: 412, errors: 3, input_tokens: 380_000, output_tokens: 120_500, cached_tokens: 0, cost_usd: 2.37, top_client: "claude-code", top_model: `${CLOUD}/gpt-4o` })));
    await page.route(/\/api\/usage\?/, (r) => {
      const q = new URL(r.request().url()).searchParams;
      const data = q.get("group_by") === "locality"
        ? [{ ...points[0], group: "local", requests: 120 }, { ...points[1], group: "cloud", requests: 292 }]
        : points;
      return r.fulfill(json({ from: Number(q.get("from")), to: Number(q.get("to")), bucket: q.get("bucket"), group_by: q.get("group_by"), data }));
    });
    await page.route(/\/api\/logs\/stream/, (r) => r.fulfill({ status: 200, contentType: "text/event-stream", body: `event: log\ndata: ${JSON.stringify(row(99, { client: "streamed-tool" }))}\n\n` }));
    await page.route(/\/api\/logs\/\d+$/, (r) => r.fulfill(json(row(Number(r.request().url().split("/").pop())))));
    await page.route(/\/api\/logs(\?|$)/, (r) => r.fulfill(json({ data: [row(98), row(97, { status: 429, outcome: "error", error_type: "rate_limited", model: "claude-sonnet-4" }), row(96, { local: true, provider: "mlx", model: "qwen2.5-coder-7b", cost_usd: 0 })], next_cursor: null })));
    for (const scheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.goto(`${gw.base}/#/overview`);
      await page.locator(".chart .uplot").first().waitFor();
      assert.equal(await page.locator(".chart .uplot").count(), 6);
      await page.getByText("412").waitFor();
      await shot(page, `overview-usage-${scheme}`);
    }
    await page.goto(`${gw.base}/#/live`);
    await page.getByRole("cell", { name: "streamed-tool" }).waitFor();
    await page.locator("table.log tbody tr").first().getByRole("button").click();
    await page.getByRole("heading", { name: "Request 99" }).waitFor();
    await shot(page, "live-usage-dark");
    // Leave the live page first: its EventSource would otherwise reconnect once the routed
    // stream ends, and a reconnect racing the end of the test shows up as a console error.
    await page.goto("about:blank");
    await page.unrouteAll();
  });

  await step("no console errors", async () => {
    assert.deepEqual(consoleErrors, []);
  });
  await stopGateway(gw);
}

let failed = false;
try {
  await main();
  console.log(`\n${steps.length} steps passed; screenshots in ui/test-artifacts/`);
} catch (err) {
  failed = true;
  console.error(`\nnot ok: ${err?.stack ?? err}`);
  await page?.screenshot({ path: join(ARTIFACTS, "failure.png"), fullPage: true }).catch(() => {});
  if (consoleErrors.length) console.error(`console errors:\n${consoleErrors.join("\n")}`);
} finally {
  await browser?.close().catch(() => {});
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
