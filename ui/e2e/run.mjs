// End-to-end: the real gateway binary (target/debug/switchyard-gateway, built by cargo first)
// serving the built dashboard (ui/dist), against real mock upstreams (switchyard-mock), driven
// by Playwright (playwright-core) in Debian's headless Chromium. The traffic the pages show is
// real: the test sends it through the gateway from Node (fetch) and reads what the mocks
// received at their `/_mock/requests`. Local servers run under the gateway's real systemd
// backend with a fake `systemctl` (e2e/fake-systemctl) that starts the unit's ExecStart: a fake
// `vllm-mlx` that is the mock. The MCP page drives a real MCP server (the official Python SDK's,
// tests/conformance/mcp_http_server.py, in the venv scripts/test makes). Screenshots go to
// ui/test-artifacts/. Run with
// `npm run test:e2e` after `npm run build`.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
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
// The Python with the MCP SDK (scripts/test makes the venv and exports the variable).
const PYTHON = process.env.SWITCHYARD_TEST_PYTHON ? resolve(process.env.SWITCHYARD_TEST_PYTHON) : join(repo, "target/conformance-venv/bin/python");
const MCP_SERVER = join(repo, "tests/conformance/mcp_http_server.py");
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
/** Run at the end, whatever happens (processes the test started outside `children`). */
const cleanups = [];

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

/** Starts the real MCP server (Streamable HTTP at /mcp); resolves with its port from `READY <port>`.
 * Without the venv the MCP step fails, naming what makes it: it is not skipped. */
function startMcpServer(args = []) {
  if (!existsSync(PYTHON)) {
    throw new Error(
      `the MCP step needs Python with the MCP SDK at ${PYTHON}, which is missing: scripts/test creates it ` +
        "(python3 -m venv target/conformance-venv && target/conformance-venv/bin/pip install -r tests/conformance/requirements.txt), " +
        "or set SWITCHYARD_TEST_PYTHON to such a Python",
    );
  }
  const child = spawn(PYTHON, [MCP_SERVER, "--port", "0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  return new Promise((ok, fail) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => fail(new Error(`mcp_http_server.py printed no READY line within 30 s: ${err}`)), 30_000);
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const m = out.match(/^READY (\d+)$/m);
      if (m) {
        clearTimeout(timer);
        ok({ child, port: Number(m[1]) });
      }
    });
    child.stderr.on("data", (chunk) => { err += chunk; });
    child.on("exit", (code) => { clearTimeout(timer); fail(new Error(`mcp_http_server.py exited (${code}): ${err}`)); });
  });
}

async function startGateway(name, config, env = {}) {
  const port = await freePort();
  const file = join(tmp, `${name}.toml`);
  writeFileSync(file, config);
  const log = [];
  // In a fresh kernel keyring session (Linux): keys saved by the test never reach the user's own.
  const argv = [GATEWAY, "--config", file, "--port", String(port)];
  const [cmd, ...args] = process.platform === "linux" ? ["keyctl", "session", "-", ...argv] : argv;
  const child = spawn(cmd, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, SWITCHYARD_LOG: "warn", ...env },
  });
  child.stdout.on("data", (c) => log.push(String(c)));
  child.stderr.on("data", (c) => log.push(String(c)));
  children.push(child);
  const base = `http://localhost:${port}`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`gateway exited: ${log.join("")}`);
    try {
      if ((await fetch(`${base}/health`)).ok) {
        // The admin token (the file every gateway of this test shares) and the one-time link
        // the gateway prints at start, as a user would copy it from the terminal.
        ADMIN_TOKEN = readFileSync(ADMIN_TOKEN_FILE, "utf8").trim();
        let loginLink;
        for (let j = 0; j < 50 && !loginLink; j++) {
          loginLink = log.join("").match(/Dashboard: (http:\/\/\S+)/)?.[1];
          if (!loginLink) await new Promise((r) => setTimeout(r, 100));
        }
        assert.ok(loginLink, `no one-time dashboard link at start: ${log.join("")}`);
        return { base, child, log, loginLink, configFile: file, port };
      }
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

// One admin token file for every gateway of the test: cookies ignore ports, so one sign-in
// serves both gateways, as one install's token does.
const ADMIN_TOKEN_FILE = join(tmp, "admin-token");
let ADMIN_TOKEN = "";
const provider = (name, url, extra = "") => `[providers.${name}]\nkind = "openai-compatible"\nbase_url = "${url}/v1"\nmax_retries = 0\n${extra}`;
// Each gateway gets its own state file and usage log (never the user's).
const baseConfig = (name) =>
  `[server]\nadmin_token_file = "${ADMIN_TOKEN_FILE}"\n[discovery]\nfrom_env = false\nprobe_local = false\n[routing]\nstate_file = "${join(tmp, `state-${name}.json`)}"\n[usage]\npath = "${join(tmp, `usage-${name}.sqlite3`)}"\n[mcp]\nfile = "${join(tmp, `mcp-${name}.json`)}"\n`;

/** A chat completion from Node, as a tool would send it; `headers` name the tool. */
async function chat(base, model, { headers = {}, stream = false, extra = {} } = {}) {
  const r = await fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], stream, ...extra }),
  });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

/** An Anthropic Messages call, as Claude Code sends it (its User-Agent names the tool). */
async function messages(base, model, headers = {}) {
  const r = await fetch(`${base}/v1/messages?beta=true`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", "x-api-key": "unused", ...headers },
    body: JSON.stringify({ model, max_tokens: 64, messages: [{ role: "user", content: "hi" }] }),
  });
  return { status: r.status, headers: r.headers, json: await r.json() };
}

// The admin API needs the token; scripts send it as a header.
const getJson = async (url) => (await fetch(url, { headers: { "x-switchyard-admin-token": ADMIN_TOKEN } })).json();

/** An admin call from Node, with the token (as a script would send it). */
async function api(gw, method, path, body) {
  const r = await fetch(`${gw.base}${path}`, {
    method,
    headers: { "x-switchyard-admin-token": ADMIN_TOKEN, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

/** A fresh one-time link from the CLI (`switchyard-gateway dashboard-url`), as a user gets one. */
function dashboardUrl(gw) {
  const out = spawnSync(GATEWAY, ["--config", gw.configFile, "--port", String(gw.port), "dashboard-url"], { encoding: "utf8" });
  assert.equal(out.status, 0, out.stderr);
  return out.stdout.trim();
}

/** What a mock received (POSTs are inference calls; GETs model lists). */
const mockRequests = (mockUrl) => getJson(`${mockUrl}/_mock/requests`);
const mockPosts = async (mockUrl) => (await mockRequests(mockUrl)).filter((r) => r.method === "POST");

/** Waits until the usage log has written `n` rows (the writer is off the request path). */
async function waitForRows(base, n) {
  for (let i = 0; i < 100; i++) {
    const s = await getJson(`${base}/api/usage/summary`);
    if (s.requests >= n) return s;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the usage log did not reach ${n} rows`);
}

/** A number as the dashboard prints it ("1,234", "$0.0012", "12.5k") back to a number. */
function shown(text) {
  const t = text.trim().replace(/^\$/, "").replace(/,/g, "");
  const m = t.match(/^(-?[\d.]+)([kMB]?)$/);
  if (!m) throw new Error(`not a number: ${text}`);
  return Number(m[1]) * ({ "": 1, k: 1e3, M: 1e6, B: 1e9 })[m[2]];
}

/** The page must not scroll sideways at 800×600. */
async function fitsWidth(page, what) {
  const { scroll, client } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
  assert.ok(scroll <= client, `${what}: ${scroll} px wide in an ${client} px window`);
}

let browser;
let page;
const consoleErrors = [];
const dialogs = [];
let signedOut = true;
async function newPage(context) {
  const page = await context.newPage();
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const url = msg.location()?.url ?? "";
    // The refusal of local-only without a local server is asked for on purpose (the browser
    // reports every 4xx answer to fetch as a failed resource).
    if (/\/api\/local-only$/.test(url) && /409/.test(msg.text())) return;
    // The cache step saves a bad threshold on purpose, to see the gateway's 400 in the page.
    if (/\/api\/cache\/config$/.test(url) && /400/.test(msg.text())) return;
    // Before the sign-in step's link, the admin API refuses the page on purpose.
    if (signedOut && /\/api\//.test(url) && /401/.test(msg.text())) return;
    consoleErrors.push(`${page.url()}: ${msg.text()} (${url})`);
  });
  page.on("pageerror", (err) => consoleErrors.push(`${page.url()}: ${err.message}`));
  // Destructive buttons ask first; the test says yes (and counts that it was asked).
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.accept();
  });
  return page;
}

async function shot(page, name) {
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

const steps = [];
const figures = [];
async function step(name, fn) {
  const started = Date.now();
  await fn();
  steps.push(name);
  console.log(`ok - ${name} (${Date.now() - started} ms)`);
}

/** The server names the fake systemd started, to stop them whatever happens. */
function fakeServicePids(stateDir) {
  if (!existsSync(stateDir)) return [];
  return readdirSync(stateDir).filter((f) => f.endsWith(".pid")).map((f) => Number(readFileSync(join(stateDir, f), "utf8")));
}

async function main() {
  const cloudUrl = await startMock(["gpt-4o", "claude-sonnet-4", "status-500"]);
  const localUrl = await startMock(["qwen2.5-coder-7b"]);

  const classes = `[task_classes.coding]\nchain = ["${CLOUD}/gpt-4o"]\nlocal = ["mlx/*coder*"]\n`;
  // Run 1: a cloud provider only (a loopback mock marked `local = false`).
  // An MCP server from the config file, disabled: the MCP page shows it read-only.
  const configMcp = `[mcp.servers.e2e_config]\ntype = "http"\nurl = "http://127.0.0.1:9/mcp"\ndisabled = true\n`;
  let gw = await startGateway("cloud", baseConfig("cloud") + provider(CLOUD, cloudUrl, "local = false\n") + classes + configMcp);
  let sent = 0;

  browser = await chromium.launchPersistentContext(join(tmp, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    viewport: { width: 800, height: 600 },
    colorScheme: "light",
  });
  page = await newPage(browser);

  await step("without a session the dashboard says how to sign in; the one-time link signs in, once", async () => {
    // The admin API refuses a caller without the token.
    const refused = await fetch(`${gw.base}/api/providers`);
    assert.equal(refused.status, 401);
    assert.equal((await refused.json()).error.code, "admin_token_required");
    await page.goto(`${gw.base}/#/overview`);
    await page.locator("#signin").waitFor();
    assert.match(await page.locator("#signin").innerText(), /switchyard-gateway dashboard-url/);
    await shot(page, "00-sign-in");
    // The link the gateway printed at start: the browser gets its cookie and lands on the
    // dashboard, whose pages then load.
    assert.match(gw.loginLink, /^http:\/\/localhost:\d+\/login\?once=/);
    await page.goto(gw.loginLink);
    signedOut = false;
    assert.equal(new URL(page.url()).pathname, "/");
    await page.locator("nav a").first().waitFor();
    assert.equal(await page.locator("#signin").count(), 0);
    const cookies = await browser.cookies(gw.base);
    const session = cookies.find((c) => c.name === "switchyard_admin");
    assert.ok(session && session.httpOnly && session.sameSite === "Strict", JSON.stringify(cookies));
    assert.ok(!session.value.includes(ADMIN_TOKEN), "the cookie is not the token");
    // Used once: opening it again signs nobody in.
    const again = await fetch(gw.loginLink, { redirect: "manual" });
    assert.equal(again.status, 401);
    assert.match(await again.text(), /was used already/);
    // `switchyard-gateway dashboard-url` mints another, from the token file alone.
    const fresh = await fetch(dashboardUrl(gw), { redirect: "manual" });
    assert.equal(fresh.status, 303);
    assert.match(fresh.headers.get("set-cookie") ?? "", /^switchyard_admin=[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Strict$/);
  });

  await step("the dashboard loads from the gateway in under 300 ms, with embedded assets", async () => {
    const index = await fetch(`${gw.base}/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get("content-type"), /^text\/html/);
    const html = await index.text();
    const js = html.match(/src="(\/assets\/[^"]+\.js)"/)[1];
    const asset = await fetch(gw.base + js);
    assert.match(asset.headers.get("content-type"), /^text\/javascript/);
    const head = await fetch(`${gw.base}/`, { method: "HEAD" });
    assert.equal(head.status, 200);
    // The page's own navigation timing (request start to the load event). The browser's very
    // first navigation also pays for starting its renderer, so it is reported, not judged; then
    // an empty cache (as a user's first visit) and a reload (a later one) must stay under 300 ms.
    await page.goto(`${gw.base}/`, { waitUntil: "load" });
    const loadEnd = () => page.evaluate(() => performance.getEntriesByType("navigation")[0].loadEventEnd);
    const firstMs = await loadEnd();
    const cdp = await browser.newCDPSession(page);
    await cdp.send("Network.clearBrowserCache");
    await page.reload({ waitUntil: "load" });
    const coldMs = await loadEnd();
    await page.reload({ waitUntil: "load" });
    const loadMs = await loadEnd();
    // And until the Overview shows data (its first API answers are in).
    await page.locator("#cloud-attempts .value").waitFor();
    const readyMs = await page.evaluate(() => performance.now());
    figures.push(
      `page load (load event): ${Math.round(coldMs)} ms with an empty cache, ${Math.round(loadMs)} ms on reload; ` +
        `${Math.round(firstMs)} ms for the browser's first navigation; Overview cards seen by the test ${Math.round(readyMs)} ms after the reload started`,
    );
    console.log(`   ${figures.at(-1)}`);
    assert.ok(coldMs < 300, `the dashboard took ${coldMs} ms to load with an empty cache`);
    assert.ok(loadMs < 300, `the dashboard took ${loadMs} ms to load`);
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    assert.equal(await page.locator("#cloud-attempts .value").textContent(), "0");
    await page.getByText("No requests in this range yet.").waitFor();
    await shot(page, "overview-empty-light");
  });

  await step("real traffic from three tools shows in the Overview's totals and charts", async () => {
    const alpha = { "x-switchyard-client": "e2e-alpha" };
    const beta = { "x-switchyard-client": "e2e-beta" };
    let r = await chat(gw.base, `${CLOUD}/gpt-4o`, { headers: alpha });
    assert.equal(r.status, 200, r.text);
    r = await chat(gw.base, `${CLOUD}/gpt-4o`, { headers: alpha, stream: true });
    assert.equal(r.status, 200);
    assert.match(r.text, /data: \[DONE\]/);
    // Claude Code, known by its User-Agent, through the Anthropic API (translated to the mock's OpenAI).
    const m = await messages(gw.base, `${CLOUD}/claude-sonnet-4`, { "user-agent": "claude-cli/2.1.197 (external, cli)" });
    assert.equal(m.status, 200, JSON.stringify(m.json));
    assert.equal(m.json.type, "message");
    r = await chat(gw.base, `${CLOUD}/status-500`, { headers: beta });
    assert.equal(r.status, 500);
    r = await chat(gw.base, `${CLOUD}/status-500`, { headers: beta, extra: { fallbacks: [`${CLOUD}/gpt-4o`] } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get("x-switchyard-model"), "gpt-4o");
    assert.equal(r.headers.get("x-switchyard-attempts"), "2");
    sent += 5;
    const summary = await waitForRows(gw.base, sent);
    assert.equal(summary.requests, 5);
    assert.equal(summary.errors, 1);
    assert.ok(summary.cost_usd > 0, "gpt-4o is priced");

    await page.goto(`${gw.base}/#/overview`);
    await page.locator("#requests-today .value").waitFor();
    assert.equal(shown(await page.locator("#requests-today .value").textContent()), summary.requests);
    assert.equal(await page.locator("#requests-today .extra").textContent(), "1 error");
    assert.equal(shown(await page.locator("#tokens-today .value").textContent()), summary.input_tokens + summary.output_tokens);
    assert.ok(Math.abs(shown(await page.locator("#cost-today .value").textContent()) - summary.cost_usd) < 0.00006);
    assert.equal(await page.locator("#top-tool .value").textContent(), summary.top_client);
    assert.equal(await page.locator("#local-share .value").textContent(), "0%");
    assert.equal(await page.locator("#local-savings .value").textContent(), "–", "nothing served locally yet");

    // The charts: one series per tool, the same groups as /api/usage answers for 24h by tool.
    await page.locator(".chart .uplot").first().waitFor();
    assert.equal(await page.locator(".chart .uplot").count(), 6);
    const to = Date.now() + 3_600_000;
    const usage = await getJson(`${gw.base}/api/usage?from=${to - 86_400_000}&to=${to}&bucket=hour&group_by=client`);
    const byTool = {};
    for (const p of usage.data) byTool[p.group] = (byTool[p.group] ?? 0) + p.requests;
    assert.deepEqual(byTool, { "e2e-alpha": 2, "claude-code": 1, "e2e-beta": 2 });
    const legend = async (chart) =>
      (await page.locator(".chart").nth(chart).locator(".u-legend .u-series .u-label").allTextContents()).slice(1).sort();
    assert.deepEqual(await legend(0), Object.keys(byTool).sort());
    assert.deepEqual(await legend(5), Object.keys(byTool).sort(), "the errors chart has the same series");
    // Hovering the current hour on the requests chart: the legend shows each tool's count there,
    // as /api/usage has it for that bucket.
    const lastTs = Math.max(...usage.data.map((p) => p.ts_ms));
    const expected = Object.fromEntries(usage.data.filter((p) => p.ts_ms === lastTs).map((p) => [p.group, String(p.requests)]));
    const over = page.locator(".chart").first().locator(".u-over");
    const box = await over.boundingBox();
    await page.mouse.move(box.x + box.width - 1, box.y + box.height / 2);
    const hovered = Object.fromEntries(
      await page.locator(".chart").first().locator(".u-legend .u-series").evaluateAll((rows) =>
        rows.slice(1).map((r) => [r.querySelector(".u-label")?.textContent, r.querySelector(".u-value")?.textContent]),
      ),
    );
    assert.deepEqual(hovered, expected);
    await shot(page, "overview-traffic-light");

    // Stacked by provider, then model: the groups change with the select.
    await page.getByLabel("Stack by").selectOption("model");
    await page.waitForFunction(() => [...document.querySelectorAll(".chart .u-legend .u-series .u-label")].some((e) => e.textContent === "gpt-4o"));
    const models = (await page.locator(".chart").first().locator(".u-legend .u-series .u-label").allTextContents()).slice(1).sort();
    assert.deepEqual(models, ["claude-sonnet-4", "gpt-4o", "status-500"]);
  });

  await step("the Live log shows a new request within 2 s (SSE), filters, and the detail view", async () => {
    await page.goto(`${gw.base}/#/live`);
    await page.getByText("Live: new requests appear as they happen.").waitFor();
    assert.equal(await page.locator("table.log tbody tr").count(), sent);
    const started = Date.now();
    const live = chat(gw.base, `${CLOUD}/gpt-4o`, { headers: { "x-switchyard-client": "e2e-live" } });
    await page.getByRole("cell", { name: "e2e-live" }).waitFor({ timeout: 2000 });
    const appearedMs = Date.now() - started;
    assert.equal((await live).status, 200);
    sent += 1;
    figures.push(`live log: a new request's row appeared ${appearedMs} ms after it was sent`);
    console.log(`   ${figures.at(-1)}`);
    assert.equal(await page.locator("table.log tbody tr").count(), sent);

    // Filter by tool: only e2e-beta's two rows; a new alpha request stays out, a beta one comes in.
    await page.getByLabel("Tool").fill("e2e-beta");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForFunction(() => document.querySelectorAll("table.log tbody tr").length === 2);
    assert.deepEqual(await page.locator("table.log tbody tr td:nth-child(2)").allTextContents(), ["e2e-beta", "e2e-beta"]);
    await chat(gw.base, `${CLOUD}/gpt-4o`, { headers: { "x-switchyard-client": "e2e-alpha" } });
    await chat(gw.base, `${CLOUD}/gpt-4o`, { headers: { "x-switchyard-client": "e2e-beta" } });
    sent += 2;
    await page.waitForFunction(() => document.querySelectorAll("table.log tbody tr").length === 3);
    await waitForRows(gw.base, sent);
    assert.deepEqual(await page.locator("table.log tbody tr td:nth-child(2)").allTextContents(), ["e2e-beta", "e2e-beta", "e2e-beta"]);

    // Filter by status: the one 500.
    await page.getByLabel("Tool").fill("");
    await page.getByLabel("Status").fill("500");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForFunction(() => document.querySelectorAll("table.log tbody tr").length === 1);
    assert.equal(await page.locator("table.log tbody tr td:nth-child(5)").textContent(), "500");
    assert.equal(await page.locator("table.log tbody tr td:nth-child(4)").textContent(), `${CLOUD}/status-500`);

    // Filter by model (as served): Claude Code's one Anthropic call.
    await page.getByLabel("Status").fill("");
    await page.getByLabel("Model").fill("claude-sonnet-4");
    await page.getByRole("button", { name: "Apply" }).click();
    // The status filter's list also had one row: wait for the new list, not just its length.
    await page.waitForFunction(() => {
      const rows = document.querySelectorAll("table.log tbody tr");
      return rows.length === 1 && rows[0].querySelector("td:nth-child(2)")?.textContent === "claude-code";
    });
    assert.equal(await page.locator("table.log tbody tr td:nth-child(2)").textContent(), "claude-code");
    await page.getByLabel("Model").fill("");

    // The fallback's detail: two attempts, served by gpt-4o, with timings, tokens and cost.
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForFunction((n) => document.querySelectorAll("table.log tbody tr").length === n, sent);
    const rows = (await getJson(`${gw.base}/api/logs?client=e2e-beta&limit=10`)).data;
    const fallback = rows.find((r) => r.requested_model === `${CLOUD}/status-500` && r.status === 200);
    assert.ok(fallback, JSON.stringify(rows));
    await page.locator(`table.log tbody tr[data-id="${fallback.id}"] button`).click();
    await page.getByRole("heading", { name: `Request ${fallback.id}` }).waitFor();
    const detail = Object.fromEntries(
      await page.locator(".detail dl dt").evaluateAll((dts) => dts.map((dt) => [dt.textContent, dt.nextElementSibling?.textContent])),
    );
    assert.equal(detail["Attempts"], "2");
    assert.equal(detail["Served by"], `${CLOUD}/gpt-4o`);
    assert.equal(detail["Requested model"], `${CLOUD}/status-500`);
    assert.equal(detail["Fallback"], `yes: ${CLOUD}/status-500 → ${CLOUD}/gpt-4o`);
    assert.equal(detail["Tool"], "e2e-beta");
    assert.equal(detail["Status"], "200");
    assert.match(detail["Latency"], /^[\d.]+ (ms|s)$/);
    assert.match(detail["First token"], /^[\d.]+ (ms|s)$/);
    assert.equal(detail["Input tokens"], String(fallback.input_tokens));
    assert.equal(detail["Output tokens"], String(fallback.output_tokens));
    assert.ok(fallback.input_tokens > 0 && fallback.output_tokens > 0);
    assert.match(detail["Cost"], /^\$0\.\d{4}$/);
    // Its request id (the list carries it too) and its attempts, in order: the 500, then gpt-4o.
    assert.match(fallback.request_id, /^req_[0-9a-f]{24}$/);
    assert.equal(detail["Request id"], fallback.request_id);
    assert.equal(detail["Error message"], undefined, "a request that fell back did not fail");
    await page.getByRole("heading", { name: "Attempts" }).waitFor();
    assert.deepEqual(await page.locator(".detail table.attempts thead th").allTextContents(), ["#", "Provider", "Model", "Key", "Status", "Error", "Duration"]);
    const attempts = await page.locator(".detail table.attempts tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
    assert.equal(attempts.length, 2, JSON.stringify(attempts));
    assert.deepEqual(attempts.map((a) => a.slice(0, 3)), [["1", CLOUD, "status-500"], ["2", CLOUD, "gpt-4o"]]);
    assert.deepEqual(attempts.map((a) => a[4]), ["500", "200"]);
    assert.match(attempts[0][5], /^upstream_status/);
    assert.equal(attempts[1][5], "–");
    for (const a of attempts) assert.match(a[6], /^[\d.]+ (ms|s)$/);
    // The row says it fell back.
    await page.locator(`table.log tbody tr[data-id="${fallback.id}"] .tag`, { hasText: "fallback" }).waitFor();
    await shot(page, "live-detail-light");
    // Keyboard: the detail's Close button has the focus; Enter closes it.
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Close");
    await page.keyboard.press("Enter");
    assert.equal(await page.locator(".detail").isHidden(), true);
    await fitsWidth(page, "live log");
    await page.goto("about:blank");
  });

  await step("providers and their catalog show; test connection reaches the mock", async () => {
    await page.goto(`${gw.base}/#/providers`);
    const card = page.locator(`article[data-provider="${CLOUD}"]`);
    await card.waitFor();
    await card.getByText("Catalog: 3 models").waitFor();
    await card.getByRole("button", { name: "Test connection" }).click();
    await card.getByText("OK: 3 models").waitFor();
  });

  await step("a key added to a provider is shown masked (last 4) and used upstream", async () => {
    const card = page.locator(`article[data-provider="${CLOUD}"]`);
    await card.getByLabel("API key").fill("sk-e2e-secret-9876");
    await card.getByRole("button", { name: "Save key" }).click();
    await page.getByText(/Saved \*+9876/).waitFor();
    const keys = await page.locator(`article[data-provider="${CLOUD}"] .keys`).textContent();
    assert.match(keys, /^secret\.|\*+9876/);
    assert.ok(!keys.includes("sk-e2e-secret"), `key shown in clear: ${keys}`);
    assert.ok(!(await page.content()).includes("sk-e2e-secret-9876"), "the key is in the page");
    const api = await getJson(`${gw.base}/api/providers`);
    assert.ok(!JSON.stringify(api).includes("sk-e2e-secret-9876"), "the key is in /api/providers");
    // Test connection lists the models with the new key.
    const before = (await mockRequests(cloudUrl)).length;
    await page.locator(`article[data-provider="${CLOUD}"]`).getByRole("button", { name: "Test connection" }).click();
    await page.locator(`article[data-provider="${CLOUD}"]`).getByText("OK: 3 models").waitFor();
    const listed = (await mockRequests(cloudUrl)).slice(before).filter((r) => r.method === "GET" && r.path.endsWith("/models"));
    assert.ok(listed.length >= 1, "test connection did not reach the mock");
    assert.equal(listed.at(-1).authorization, "Bearer sk-e2e-secret-9876");
    await shot(page, "providers-light");
    await fitsWidth(page, "providers");
    await page.locator(`article[data-provider="${CLOUD}"]`).getByRole("button", { name: "Remove key" }).click();
    await page.getByText("Key removed from the secret store.").waitFor();
    assert.match(dialogs.at(-1) ?? "", /Remove e2ecloud's key/, "the page asked before removing the key");
    assert.equal(await page.locator(`article[data-provider="${CLOUD}"] .keys`).textContent(), "none");
  });

  await step("a provider added by URL in the page serves requests with its key, then is removed", async () => {
    await page.goto(`${gw.base}/#/providers`);
    await page.getByLabel("Name").fill("lan-box");
    await page.getByLabel("Kind").selectOption("openai-compatible");
    await page.getByLabel("Base URL").fill(`${localUrl}/v1`);
    await page.locator('input[name="provider-key"]').fill("sk-lan-e2e-1111");
    await page.getByLabel("Counts as").selectOption("cloud");
    await page.getByRole("button", { name: "Add provider" }).click();
    await page.getByText("Added lan-box.").waitFor();
    const card = page.locator('article[data-provider="lan-box"]');
    await card.waitFor();
    assert.ok(!(await page.content()).includes("sk-lan-e2e-1111"), "the key is in the page");
    const r = await chat(gw.base, "lan-box/qwen2.5-coder-7b", { headers: { "x-switchyard-client": "e2e-lan" } });
    assert.equal(r.status, 200, r.text);
    const last = (await mockPosts(localUrl)).at(-1);
    assert.equal(last.model, "qwen2.5-coder-7b");
    assert.equal(last.authorization, "Bearer sk-lan-e2e-1111");
    sent += 1;
    await card.getByRole("button", { name: "Remove provider" }).click();
    await card.waitFor({ state: "detached" });
    const gone = await chat(gw.base, "lan-box/qwen2.5-coder-7b");
    assert.equal(gone.status, 404);
    sent += 1;
  });

  await step("picking a class model routes the next `coding` request there (mock and log agree)", async () => {
    await page.goto(`${gw.base}/#/models`);
    const row = page.locator('tr[data-class="coding"]');
    await row.locator(".current").getByText(`${CLOUD}/gpt-4o`).waitFor();
    await page.locator("ul.models code", { hasText: `${CLOUD}/claude-sonnet-4` }).waitFor();
    let r = await chat(gw.base, "coding");
    assert.equal(r.headers.get("x-switchyard-model"), "gpt-4o");
    assert.equal((await mockPosts(cloudUrl)).at(-1).model, "gpt-4o");
    await row.getByLabel("Model for coding").selectOption(`${CLOUD}/claude-sonnet-4`);
    await row.getByRole("button", { name: "Use" }).click();
    await page.locator('tr[data-class="coding"] .current').getByText(`${CLOUD}/claude-sonnet-4`).waitFor();
    r = await chat(gw.base, "coding", { headers: { "x-switchyard-client": "e2e-class" } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("x-switchyard-model"), "claude-sonnet-4");
    assert.equal(r.headers.get("x-switchyard-provider"), CLOUD);
    // What the mock received, and what the log says.
    const last = (await mockPosts(cloudUrl)).at(-1);
    assert.equal(last.model, "claude-sonnet-4");
    assert.equal(last.path, "/v1/chat/completions");
    sent += 2;
    await waitForRows(gw.base, sent);
    await page.goto(`${gw.base}/#/live`);
    await page.getByLabel("Class").fill("coding");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForFunction(() => document.querySelectorAll("table.log tbody tr").length === 2);
    assert.deepEqual(await page.locator("table.log tbody tr td:nth-child(4)").allTextContents(), [`${CLOUD}/claude-sonnet-4`, `${CLOUD}/gpt-4o`]);
    assert.deepEqual(await page.locator("table.log tbody tr td:nth-child(3)").allTextContents(), ["coding", "coding"]);
    await page.goto(`${gw.base}/#/models`);
    // Reset: back to the config's chain.
    await page.locator('tr[data-class="coding"]').getByRole("button", { name: "Reset" }).click();
    await page.locator('tr[data-class="coding"] .current').getByText(`${CLOUD}/gpt-4o`).waitFor();
    assert.equal((await chat(gw.base, "coding")).headers.get("x-switchyard-model"), "gpt-4o");
    sent += 1;
  });

  await step("local-only is refused without a local server; forced, a cloud model is refused and the cloud mock gets nothing", async () => {
    const sw = page.getByRole("switch");
    // Keyboard: Space on the focused switch asks for local-only.
    await sw.focus();
    await page.keyboard.press("Space");
    await page.getByText(/Refused \(409 no_local_server\)/).waitFor();
    assert.equal(await sw.isChecked(), false);
    await shot(page, "models-refused-light");
    await fitsWidth(page, "models");
    await page.getByLabel("Force (turn on even when no local server answers)").check();
    await sw.check();
    await page.getByText("Local-only is on.").waitFor();
    const before = (await mockPosts(cloudUrl)).length;
    const r = await chat(gw.base, `${CLOUD}/gpt-4o`);
    assert.equal(r.status, 503);
    assert.equal(JSON.parse(r.text).error.code, "local_only");
    const m = await messages(gw.base, `${CLOUD}/claude-sonnet-4`);
    assert.equal(m.status, 503);
    assert.equal((await mockPosts(cloudUrl)).length, before, "the cloud mock received a request while local-only");
    assert.equal((await getJson(`${gw.base}/api/local-only`)).cloud_attempts_while_local, 0);
    await page.goto(`${gw.base}/#/overview`);
    await page.locator("#cloud-attempts .value").waitFor();
    assert.equal(await page.locator("#cloud-attempts .value").textContent(), "0");
    assert.equal(await page.locator("#cloud-attempts .extra").textContent(), "local-only is ON");
    await page.goto(`${gw.base}/#/models`);
    await page.getByRole("switch").uncheck();
    await page.getByText("Local-only is off.").waitFor();
  });

  await step("Keys & budgets: a key made in the page is shown once, serves a tool, shows its use, is disabled and deleted", async () => {
    await page.goto(`${gw.base}/#/keys`);
    await page.getByRole("heading", { name: "Keys & budgets", level: 1 }).waitFor();
    await page.getByLabel("New key for").fill("e2e-tool");
    await page.getByLabel("Providers").fill(`${CLOUD}:2`);
    await page.getByLabel("Models").fill("gpt-4o");
    await page.getByLabel("Budget $").fill("5");
    await page.getByLabel("Requests/min").fill("50");
    await page.getByRole("button", { name: "Create key" }).click();
    await page.getByText(/Copy it now: it is not shown again/).waitFor();
    const value = await page.locator("input.key-value").inputValue();
    assert.match(value, /^sk-sy-[0-9a-f]{64}$/);
    await shot(page, "keys-created-light");
    // A tool uses it, as an OpenAI SDK would.
    const served = await chat(gw.base, `${CLOUD}/gpt-4o`, { headers: { authorization: `Bearer ${value}` } });
    assert.equal(served.status, 200);
    assert.equal(served.headers.get("x-ratelimit-limit-requests"), "50");
    await page.reload();
    const card = page.locator("article[data-key]").filter({ hasText: "e2e-tool" });
    await card.getByText("Requests: 1 of 50 per 1m").waitFor();
    await card.getByText(`${CLOUD}: gpt-4o (weight 2)`).waitFor();
    const blocked = await chat(gw.base, `${CLOUD}/claude-sonnet-4`, { headers: { authorization: `Bearer ${value}` } });
    assert.equal(blocked.status, 403, "a model the key does not list");
    await card.locator("progress").waitFor();
    assert.ok(!(await page.content()).includes(value), "the key's value is shown again after a reload");
    await fitsWidth(page, "keys");
    await shot(page, "keys-light");
    await card.getByRole("button", { name: "Disable" }).click();
    await card.getByText("disabled", { exact: true }).waitFor();
    const refused = await chat(gw.base, `${CLOUD}/gpt-4o`, { headers: { authorization: `Bearer ${value}` } });
    assert.equal(refused.status, 403);
    assert.equal(JSON.parse(refused.text).error.code, "virtual_key_blocked");
    await card.getByRole("button", { name: "Delete" }).click();
    await page.locator("article[data-key]").filter({ hasText: "e2e-tool" }).waitFor({ state: "detached" });
    assert.match(dialogs.at(-1) ?? "", /Delete the key e2e-tool/);
    const gone = await chat(gw.base, `${CLOUD}/gpt-4o`, { headers: { authorization: `Bearer ${value}` } });
    assert.equal(gone.status, 401);

    // Connect: a tool's snippet gets its own key, which serves; asking again replaces it.
    await page.goto(`${gw.base}/#/connect`);
    const section = page.locator("section.snippet").filter({ has: page.locator("#snippet-aider") });
    await section.getByRole("button", { name: "Give aider its own key" }).click();
    await section.getByText(/Key aider made/).waitFor();
    const snippet = await page.locator("#snippet-aider").textContent();
    const own = snippet.match(/OPENAI_API_KEY=(sk-sy-[0-9a-f]{64})/)?.[1];
    assert.ok(own, snippet);
    const viaOwn = await chat(gw.base, `${CLOUD}/gpt-4o`, { headers: { authorization: `Bearer ${own}` } });
    assert.equal(viaOwn.status, 200);
    await section.getByRole("button", { name: "Give aider its own key" }).click();
    await page.waitForFunction((old) => !document.getElementById("snippet-aider").textContent.includes(old), own);
    assert.equal((await chat(gw.base, `${CLOUD}/gpt-4o`, { headers: { authorization: `Bearer ${own}` } })).status, 401, "the replaced key");
    const keys = await getJson(`${gw.base}/api/governance/virtual-keys`);
    assert.deepEqual(keys.virtual_keys.map((k) => k.name), ["aider"]);
    await api(gw, "DELETE", `/api/governance/virtual-keys/${keys.virtual_keys[0].id}`);
  });

  await step("Response cache: set on Models & classes, a repeat is a hit (mock, badge, filter, detail, Overview), a bad value is refused inline, Clear empties it", async () => {
    // The admin API the section reads (a 404 here: the gateway was built without the cache).
    const before = await api(gw, "GET", "/api/cache/stats");
    assert.equal(before.mode, "off", "the cache is off by default");
    assert.equal(before.entries, 0);
    await page.goto(`${gw.base}/#/models`);
    const section = page.locator("#cache-settings");
    await section.locator("#cache-entries").waitFor();
    assert.equal(await section.locator("#cache-entries").textContent(), "0 entries");
    assert.equal(await section.getByLabel("Mode", { exact: true }).inputValue(), "off");
    // The gateway keeps an f32: 0.95 reads back as 0.949999988…, the page shows 0.95.
    const threshold = await section.getByLabel("Similarity threshold").inputValue();
    assert.ok(Math.abs(Number(threshold) - before.threshold) < 1e-6, `${threshold} vs ${before.threshold}`);
    assert.match(await section.locator("#cache-semantic").textContent(), /^Semantic layer: (active|inactive)/);

    // A value the gateway refuses: its 400 shows in the section, naming the field; nothing changed.
    await section.getByLabel("Similarity threshold").fill("1.5");
    await section.getByRole("button", { name: "Save" }).click();
    await section.locator(".notice.error").waitFor();
    assert.match(await section.locator(".notice.error").textContent(), /^Refused \(400[^)]*\): .*threshold/);
    assert.equal((await api(gw, "GET", "/api/cache/config")).threshold, before.threshold);

    // Exact mode, saved in the page.
    await section.getByLabel("Similarity threshold").fill(threshold);
    await section.getByLabel("Mode", { exact: true }).selectOption("exact");
    await section.getByRole("button", { name: "Save" }).click();
    await section.getByText("Saved.").waitFor();
    const saved = await api(gw, "GET", "/api/cache/config");
    assert.equal(saved.mode, "exact");
    assert.equal(saved.threshold, before.threshold, "only the mode was sent");

    // The same request twice: a miss (stored), then an exact hit that never reaches the mock.
    const probe = (content) => ({ headers: { "x-switchyard-client": "e2e-cache" }, extra: { messages: [{ role: "user", content }] } });
    const posts = (await mockPosts(cloudUrl)).length;
    const first = await chat(gw.base, `${CLOUD}/gpt-4o`, probe("e2e cache probe"));
    assert.equal(first.status, 200, first.text);
    assert.equal(first.headers.get("x-switchyard-cache"), "miss");
    // The answer is stored by the cache's writer thread just after it was sent: wait for it.
    for (let waited = 0; (await api(gw, "GET", "/api/cache/stats")).entries < 1; waited += 20) {
      assert.ok(waited < 5000, "the first answer was stored within 5 s");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const second = await chat(gw.base, `${CLOUD}/gpt-4o`, probe("e2e cache probe"));
    assert.equal(second.status, 200, second.text);
    assert.equal(second.headers.get("x-switchyard-cache"), "hit-exact");
    assert.equal(JSON.parse(second.text).choices[0].message.content, JSON.parse(first.text).choices[0].message.content);
    assert.equal((await mockPosts(cloudUrl)).length, posts + 1, "the hit went upstream");
    sent += 2;
    await waitForRows(gw.base, sent);
    // Other steps' requests count too: wait for these two rows themselves.
    let summary = await getJson(`${gw.base}/api/usage/summary`);
    for (let i = 0; i < 100 && summary.cache_hits + summary.cache_misses < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      summary = await getJson(`${gw.base}/api/usage/summary`);
    }
    assert.equal(summary.cache_hits, 1, JSON.stringify(summary));
    assert.equal(summary.cache_misses, 1, JSON.stringify(summary));
    assert.ok(summary.cache_saved_usd > 0, "the hit saved what gpt-4o charged for the answer");

    // The section's counters.
    await page.reload();
    await page.waitForFunction(() => document.getElementById("cache-entries")?.textContent === "1 entry");
    assert.equal(await section.locator("#cache-hits").textContent(), "1 exact, 0 semantic");
    assert.equal(await section.locator("#cache-misses").textContent(), "1");
    assert.equal(await section.locator("#cache-hit-rate").textContent(), "50%");
    assert.equal(await section.getByLabel("Mode", { exact: true }).inputValue(), "exact");
    const stats = await api(gw, "GET", "/api/cache/stats");
    assert.equal(stats.entries, 1);
    assert.ok(stats.bytes > 0);
    await fitsWidth(page, "models with the cache section");
    await shot(page, "models-cache-light");

    // The Overview's card: hit rate and what the cache saved today, as the summary has them.
    await page.goto(`${gw.base}/#/overview`);
    await page.locator("#cache .value").waitFor();
    assert.equal(await page.locator("#cache .value").textContent(), "50%");
    const extra = (await page.locator("#cache .extra").textContent()).match(/^(\$[\d.]+) saved · 1 of 2 lookups$/);
    assert.ok(extra, await page.locator("#cache .extra").textContent());
    assert.ok(Math.abs(shown(extra[1]) - summary.cache_saved_usd) < 0.00006);
    await shot(page, "overview-cache-light");

    // The Live log: the hit's badge, the cache filter (as /api/logs?cache= answers), the detail.
    const logged = (await getJson(`${gw.base}/api/logs?client=e2e-cache&limit=10`)).data;
    const hit = logged.find((r) => r.cache === "hit-exact");
    const miss = logged.find((r) => r.cache === "miss");
    assert.ok(hit && miss && logged.length === 2, JSON.stringify(logged));
    assert.ok(hit.cache_saved_usd > 0 && !hit.cost_usd, JSON.stringify(hit));
    assert.deepEqual((await getJson(`${gw.base}/api/logs?client=e2e-cache&cache=hit`)).data.map((r) => r.id), [hit.id]);
    assert.deepEqual((await getJson(`${gw.base}/api/logs?client=e2e-cache&cache=miss`)).data.map((r) => r.id), [miss.id]);
    const shownIds = () => page.locator("table.log tbody tr").evaluateAll((trs) => trs.map((tr) => Number(tr.dataset.id)));
    const waitForIds = (ids) => page.waitForFunction((want) => JSON.stringify([...document.querySelectorAll("table.log tbody tr")].map((tr) => Number(tr.dataset.id))) === want, JSON.stringify(ids));
    await page.goto(`${gw.base}/#/live`);
    await page.getByText("Live: new requests appear as they happen.").waitFor();
    await page.getByLabel("Tool").fill("e2e-cache");
    await page.getByRole("button", { name: "Apply" }).click();
    await waitForIds([hit.id, miss.id]);
    assert.equal(await page.locator(`tr[data-id="${hit.id}"] .tag.cache`).textContent(), "cache · exact");
    assert.equal(await page.locator(`tr[data-id="${miss.id}"] .tag.cache`).count(), 0);
    const cacheFilter = page.locator("#f-cache");
    await cacheFilter.selectOption("hits");
    await waitForIds([hit.id]);
    await cacheFilter.selectOption("misses");
    await waitForIds([miss.id]);
    // Live, under "Hits": a new hit comes in, a new miss stays out.
    await cacheFilter.selectOption("hits");
    await waitForIds([hit.id]);
    const third = await chat(gw.base, `${CLOUD}/gpt-4o`, probe("e2e cache probe"));
    assert.equal(third.headers.get("x-switchyard-cache"), "hit-exact");
    const other = await chat(gw.base, `${CLOUD}/gpt-4o`, probe("e2e cache probe, another"));
    assert.equal(other.headers.get("x-switchyard-cache"), "miss");
    sent += 2;
    await waitForRows(gw.base, sent);
    await page.waitForFunction(() => document.querySelectorAll("table.log tbody tr").length === 2);
    const ids = await shownIds();
    assert.equal(ids[1], hit.id);
    assert.equal(await page.locator("table.log tbody tr .tag.cache").count(), 2, "only hits under the Hits filter");
    // The hit's detail: the outcome and what it saved; the hit itself cost nothing.
    await page.locator(`tr[data-id="${hit.id}"] button`).click();
    await page.getByRole("heading", { name: `Request ${hit.id}` }).waitFor();
    const detail = Object.fromEntries(
      await page.locator(".detail dl dt").evaluateAll((dts) => dts.map((dt) => [dt.textContent, dt.nextElementSibling?.textContent])),
    );
    assert.equal(detail["Cache"], "hit (exact)");
    assert.ok(Math.abs(shown(detail["Saved by the cache"]) - hit.cache_saved_usd) < 0.00006, detail["Saved by the cache"]);
    assert.equal(detail["Cost"], "$0");
    assert.equal(detail["Similarity"], undefined, "an exact hit has no similarity");
    await fitsWidth(page, "live log with the cache filter");
    await shot(page, "live-cache-light");
    await page.goto("about:blank");

    // Clear (after a confirm), then off again for the steps after this one.
    await page.goto(`${gw.base}/#/models`);
    await page.waitForFunction(() => document.getElementById("cache-entries")?.textContent === "2 entries");
    await section.getByRole("button", { name: "Clear cache" }).click();
    await section.getByText("Cleared: 2 entries deleted.").waitFor();
    assert.match(dialogs.at(-1) ?? "", /^Clear the response cache\? Its 2 entries are deleted/);
    assert.equal(await section.locator("#cache-entries").textContent(), "0 entries");
    assert.equal((await api(gw, "GET", "/api/cache/stats")).entries, 0);
    const afterClear = await chat(gw.base, `${CLOUD}/gpt-4o`, probe("e2e cache probe"));
    assert.equal(afterClear.headers.get("x-switchyard-cache"), "miss", "a cleared entry still answered");
    sent += 1;
    await section.getByLabel("Mode", { exact: true }).selectOption("off");
    await section.getByRole("button", { name: "Save" }).click();
    await section.getByText("Saved.").waitFor();
    assert.equal((await api(gw, "GET", "/api/cache/config")).mode, "off");
    await waitForRows(gw.base, sent);
  });

  await step("Tools (MCP): a real MCP server added in the page connects and serves <name>_add; a call shows in the live log, per tool and on the chart; edit, disable, reconnect, remove", async () => {
    const { child: mcpChild, port: mcpPort } = await startMcpServer(["--name", "e2e-http", "--require-header", "x-e2e-token:tok-e2e-5678"]);
    const mcpUrl = `http://127.0.0.1:${mcpPort}/mcp`;
    const NAME = "e2ehttp";
    await page.goto(`${gw.base}/#/mcp`);
    await page.getByRole("heading", { name: "Tools (MCP)", level: 1 }).waitFor();
    assert.equal(await page.locator("#mcp-endpoint").textContent(), `http://localhost:${gw.port}/mcp`);
    await page.getByText("No tool calls yet. New calls appear here as they happen.").waitFor();
    await page.getByText("No tool calls in this range yet.").waitFor();

    // The config file's server: disabled, with its reason, read-only (no edit form, no Remove).
    const configCard = page.locator('article[data-mcp="e2e_config"]');
    await configCard.locator(".tag.state", { hasText: "disabled" }).waitFor();
    await configCard.getByText("Disabled: disabled in its settings").waitFor();
    await configCard.locator(".read-only", { hasText: "From the config file" }).waitFor();
    assert.equal(await configCard.locator("form").count(), 0);
    assert.equal(await configCard.getByRole("button", { name: "Remove" }).count(), 0);
    assert.equal(await configCard.getByRole("button", { name: "Reconnect" }).count(), 0, "a disabled server cannot reconnect");

    const add = page.locator("#mcp-add");
    const addServer = async (name, headers) => {
      await add.getByLabel("Name").fill(name);
      await add.getByLabel("Transport").selectOption("http");
      await add.getByLabel("URL").fill(mcpUrl);
      await add.getByLabel("Headers").fill(headers);
      assert.equal(await add.getByLabel("Tools to execute").inputValue(), "*", "every tool by default");
      await add.getByRole("button", { name: "Add server" }).click();
      await page.getByText(`Added ${name}: connecting.`).waitFor();
    };
    // stdio asks for a command and arguments instead of a URL and headers.
    await add.getByLabel("Transport").selectOption("stdio");
    assert.equal(await add.getByLabel("URL").isHidden(), true);
    await add.getByLabel("Command").waitFor();
    await add.getByLabel("Arguments").waitFor();

    // Without the header the server wants: an error, with the reason in the card.
    await addServer("e2ebad", "");
    const badCard = page.locator('article[data-mcp="e2ebad"]');
    const reason = await page.waitForFunction(
      () => document.querySelector('article[data-mcp="e2ebad"] .notice.error')?.textContent ?? false,
      null,
      { timeout: 15_000 },
    );
    assert.match(await reason.jsonValue(), /^Error: .*401/, "the card names why the server is unavailable");
    await shot(page, "mcp-error-light");
    await fitsWidth(page, "Tools (MCP) with a long error");
    await badCard.getByRole("button", { name: "Remove" }).click();
    await badCard.waitFor({ state: "detached" });
    assert.match(dialogs.at(-1) ?? "", /^Remove the MCP server e2ebad\?/);

    // With it (the page shows the header masked): connected, its tools served as e2ehttp_*.
    await addServer(NAME, "x-e2e-token: tok-e2e-5678");
    const card = page.locator(`article[data-mcp="${NAME}"]`);
    await card.locator(".tag.state", { hasText: "connected" }).waitFor({ timeout: 15_000 });
    // Every tool the server lists (the API's view), under its served name.
    const toolNames = (await api(gw, "GET", "/api/mcp/clients")).clients.find((c) => c.config.name === NAME).tools.map((t) => t.name).sort();
    for (const t of ["add", "echo", "fail", "hang", "slow"]) assert.ok(toolNames.includes(t), `the server lists ${toolNames}`);
    const served = await card.locator("ul.mcp-tools li").allTextContents();
    assert.deepEqual([...served].sort(), toolNames.map((t) => `${NAME}_${t}`));
    await card.getByText("e2e-http 1.0.0", { exact: false }).waitFor();
    assert.match(await card.locator(".headers").textContent(), /^Headers: x-e2e-token: /);
    assert.ok(!(await page.content()).includes("tok-e2e-5678"), "the header's value is in the page");
    assert.ok(!readFileSync(join(tmp, "mcp-cloud.json"), "utf8").includes("tok-e2e-5678"), "the header's value is in mcp.json");
    const view = (await api(gw, "GET", "/api/mcp/clients")).clients.find((c) => c.config.name === NAME);
    assert.equal(view.source, "api");
    assert.deepEqual(view.config.tools_to_execute, ["*"]);
    assert.ok((await api(gw, "GET", "/api/mcp/tools")).tools.some((t) => t.name === `${NAME}_add`));
    await fitsWidth(page, "Tools (MCP)");

    // A call through Bifrost's execute endpoint: the answer, then its row in the live log.
    const execute = async (tool, args) => {
      const r = await fetch(`${gw.base}/v1/mcp/tool/execute`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-switchyard-client": "e2e-mcp" },
        body: JSON.stringify({ id: "c", type: "function", function: { name: `${NAME}_${tool}`, arguments: JSON.stringify(args) } }),
      });
      return { status: r.status, json: await r.json() };
    };
    await page.getByText("Live: new calls appear within 2 s.").waitFor();
    const started = Date.now();
    const sum = await execute("add", { a: 1, b: 2 });
    assert.equal(sum.status, 200, JSON.stringify(sum.json));
    assert.deepEqual(sum.json, { role: "tool", content: "3", tool_call_id: "c" });
    const rows = page.locator("table.mcp-calls tbody tr");
    await rows.filter({ hasText: "add" }).first().waitFor({ timeout: 5000 });
    figures.push(`MCP live log: a tool call's row appeared ${Date.now() - started} ms after it was sent (polled every 2 s)`);
    console.log(`   ${figures.at(-1)}`);
    const cells = async (row) => row.locator("td").allTextContents();
    const first = await cells(rows.first());
    assert.deepEqual([first[1], first[2], first[3], first[4], first[5]], [NAME, "add", "e2e-mcp", "execute", "ok"]);
    assert.match(first[6], /^[\d.]+ (ms|s)$/);

    // A tool error: red, with its message; the status filter shows it alone.
    const failed = await execute("fail", { message: "e2e boom" });
    assert.equal(failed.status, 200, JSON.stringify(failed.json));
    await page.waitForFunction(() => document.querySelectorAll("table.mcp-calls tbody tr").length === 2, null, { timeout: 5000 });
    const failRow = rows.first();
    assert.deepEqual((await cells(failRow)).slice(1, 3), [NAME, "fail"]);
    assert.equal(await failRow.locator("td.status").textContent(), "tool error");
    assert.match(await failRow.locator("td.error").textContent(), /e2e boom/);
    assert.match(await failRow.getAttribute("class"), /\berr\b/);
    const logged = (await api(gw, "GET", `/api/mcp/calls?server=${NAME}`)).calls;
    assert.deepEqual(logged.map((c) => [c.tool, c.status]), [["fail", "tool_error"], ["add", "ok"]]);
    await page.getByLabel("Call status").selectOption("tool_error");
    await page.waitForFunction(() => document.querySelectorAll("table.mcp-calls tbody tr").length === 1);
    assert.equal(await rows.first().getAttribute("data-id"), String(logged[0].id));
    // Live under the filter: a new ok call stays out, a new tool error comes in.
    await execute("echo", { text: "hi" });
    await execute("fail", { message: "again" });
    await page.waitForFunction(() => document.querySelectorAll("table.mcp-calls tbody tr").length === 2, null, { timeout: 5000 });
    assert.deepEqual(await page.locator("table.mcp-calls tbody td.status").allTextContents(), ["tool error", "tool error"]);
    // By server: none for another name; all four for this one.
    await page.getByLabel("Call status").selectOption("");
    await page.getByLabel("Server", { exact: true }).fill("e2e_config");
    await page.locator("form.filters").getByRole("button", { name: "Apply" }).click();
    await page.getByText("No calls match.").waitFor();
    await page.getByLabel("Server", { exact: true }).fill(NAME);
    await page.locator("form.filters").getByRole("button", { name: "Apply" }).click();
    await page.waitForFunction(() => document.querySelectorAll("table.mcp-calls tbody tr").length === 4);
    // The detail of a call.
    await rows.last().getByRole("button").click();
    await page.getByRole("heading", { name: `Tool call ${logged[1].id}` }).waitFor();
    const detail = Object.fromEntries(await page.locator(".detail dl dt").evaluateAll((dts) => dts.map((dt) => [dt.textContent, dt.nextElementSibling?.textContent])));
    assert.equal(detail["Tool"], "add");
    assert.equal(detail["Via"], "/v1/mcp/tool/execute");
    assert.equal(detail["Caller"], "e2e-mcp");
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Close");
    await page.keyboard.press("Enter");
    assert.equal(await page.locator(".detail").isHidden(), true);

    // Calls per tool and the chart, as /api/mcp/stats has them.
    const stats = await api(gw, "GET", "/api/mcp/stats?hours=24");
    assert.deepEqual(Object.fromEntries(stats.tools.map((t) => [t.tool, [t.calls, t.errors]])), { fail: [2, 2], add: [1, 0], echo: [1, 0] });
    await page.waitForFunction(() => document.querySelectorAll("table.mcp-stats tbody tr").length === 3, null, { timeout: 15_000 });
    const perTool = Object.fromEntries(
      await page.locator("table.mcp-stats tbody tr").evaluateAll((trs) => trs.map((tr) => [tr.dataset.tool, [...tr.children].slice(2, 4).map((td) => td.textContent)])),
    );
    assert.deepEqual(perTool, { [`${NAME}/fail`]: ["2", "2"], [`${NAME}/add`]: ["1", "0"], [`${NAME}/echo`]: ["1", "0"] });
    await page.locator("section.charts .chart .uplot").waitFor();
    const legend = await page.locator(".chart .u-legend .u-series .u-label").allTextContents();
    assert.deepEqual(legend.slice(1), ["calls", "errors"]);
    await shot(page, "mcp-calls-light");
    await fitsWidth(page, "Tools (MCP) with calls");

    // Edit: only add and echo served; the others listed apart; /api/mcp/tools agrees.
    await card.getByLabel("Tools to execute").fill("add, echo");
    await card.getByRole("button", { name: "Save" }).click();
    await page.getByText(`Saved ${NAME}.`).waitFor();
    await page.waitForFunction((name) => document.querySelectorAll(`article[data-mcp="${name}"] ul.mcp-tools li`).length === 2, NAME, { timeout: 15_000 });
    assert.deepEqual((await card.locator("ul.mcp-tools li").allTextContents()).sort(), [`${NAME}_add`, `${NAME}_echo`]);
    assert.equal(await card.locator(".not-served").textContent(), `Not served (left out by tools to execute): ${toolNames.filter((t) => t !== "add" && t !== "echo").join(", ")}`);
    const servedNow = (await api(gw, "GET", "/api/mcp/tools")).tools.filter((t) => t.server === NAME).map((t) => t.name).sort();
    assert.deepEqual(servedNow, [`${NAME}_add`, `${NAME}_echo`]);
    const refused = await execute("fail", { message: "x" });
    assert.notEqual(refused.status, 200, "a tool left out is not served");

    // Disabled: its reason shows, no Reconnect; enabled again: connected.
    await card.getByLabel("Disabled").check();
    await card.getByRole("button", { name: "Save" }).click();
    await card.locator(".tag.state", { hasText: "disabled" }).waitFor({ timeout: 10_000 });
    await card.getByText("Disabled: disabled in its settings").waitFor();
    assert.equal(await card.getByRole("button", { name: "Reconnect" }).count(), 0);
    await card.getByLabel("Disabled").uncheck();
    await card.getByRole("button", { name: "Save" }).click();
    await card.locator(".tag.state", { hasText: "connected" }).waitFor({ timeout: 15_000 });

    // Reconnect: the connection is made again (its state changes since), and the card shows it.
    const clientView = async () => (await api(gw, "GET", "/api/mcp/clients")).clients.find((c) => c.config.name === NAME);
    const before = await clientView();
    await card.getByRole("button", { name: "Reconnect" }).click();
    await page.getByText(`Reconnecting ${NAME}.`).waitFor();
    let after = await clientView();
    for (let waited = 0; after.since === before.since || after.state !== "connected"; waited += 100) {
      assert.ok(waited < 15_000, `no new connection after Reconnect: ${JSON.stringify(after)}`);
      await new Promise((r) => setTimeout(r, 100));
      after = await clientView();
    }
    await page.waitForFunction(
      ([name, since]) => document.querySelector(`article[data-mcp="${name}"] .since`)?.dataset.since === since,
      [NAME, after.since],
      { timeout: 5000 },
    );
    await card.locator(".tag.state", { hasText: "connected" }).waitFor();
    const again = await execute("add", { a: 2, b: 2 });
    assert.equal(again.json.content, "4", JSON.stringify(again));

    // Remove (after a confirm): gone from the page, the API, /api/mcp/tools and mcp.json.
    await card.getByRole("button", { name: "Remove" }).click();
    await page.getByText(`Removed ${NAME}.`).waitFor();
    await card.waitFor({ state: "detached" });
    assert.match(dialogs.at(-1) ?? "", new RegExp(`^Remove the MCP server ${NAME}\\?`));
    assert.deepEqual((await api(gw, "GET", "/api/mcp/clients")).clients.map((c) => c.config.name), ["e2e_config"]);
    assert.equal((await api(gw, "GET", "/api/mcp/tools")).tools.length, 0);
    assert.deepEqual(JSON.parse(readFileSync(join(tmp, "mcp-cloud.json"), "utf8")).servers, []);
    assert.equal((await execute("add", { a: 1, b: 1 })).status === 200, false, "a removed server's tool still answers");
    await page.goto("about:blank");
    mcpChild.kill("SIGTERM");
  });

  await step("every page renders at 800×600 and is reachable by keyboard; Connect carries the real port", async () => {
    for (const [hash, heading] of [["keys", "Keys & budgets"], ["live", "Live log"], ["local", "Local servers"], ["mcp", "Tools (MCP)"], ["connect", "Connect a tool"], ["overview", "Overview"]]) {
      await page.goto(`${gw.base}/#/${hash}`);
      await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
      await page.waitForTimeout(300);
      await fitsWidth(page, heading);
      await shot(page, `${hash}-light`);
    }
    await page.goto(`${gw.base}/#/connect`);
    const port = new URL(gw.base).port;
    assert.notEqual(port, "30080");
    const snippets = await page.locator("pre[id^=snippet-]").allTextContents();
    assert.ok(snippets.length >= 10, `${snippets.length} snippets`);
    for (const text of snippets) assert.ok(!text.includes("30080") && text.includes(`:${port}`), `a snippet without the real port: ${text}`);
    assert.match(await page.locator("#snippet-claude-code").textContent(), new RegExp(`ANTHROPIC_BASE_URL=http://localhost:${port}\\n`));
    assert.match(await page.locator("#snippet-codex").textContent(), new RegExp(`base_url = "http://localhost:${port}/v1"`));
    // The MCP lines: every tool's setup for the gateway's /mcp.
    const mcp = `http://localhost:${port}/mcp`;
    assert.equal(await page.locator("#snippet-mcp-claude-code").textContent(), `claude mcp add --transport http switchyard ${mcp}`);
    assert.equal(await page.locator("#snippet-mcp-codex").textContent(), `[mcp_servers.switchyard]\nurl = "${mcp}"`);
    assert.deepEqual(JSON.parse(await page.locator("#snippet-mcp-gemini").textContent()), { mcpServers: { switchyard: { httpUrl: mcp } } });
    assert.deepEqual(JSON.parse(await page.locator("#snippet-mcp-cursor").textContent()), { mcpServers: { switchyard: { url: mcp } } });
    assert.deepEqual(JSON.parse(await page.locator("#snippet-mcp-zed").textContent()), { context_servers: { switchyard: { url: mcp } } });
    // The copied text is the snippet (the clipboard needs a permission in headless Chromium).
    await browser.grantPermissions(["clipboard-read", "clipboard-write"], { origin: gw.base });
    const first = page.locator("section.snippet").first();
    await first.getByRole("button", { name: /^Copy the / }).click();
    await first.getByText("Copied.").waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), await first.locator("pre").textContent());
    // Keyboard: Tab reaches the nav links; Enter follows one.
    await page.goto(`${gw.base}/#/overview`);
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press("Tab");
      if ((await page.evaluate(() => document.activeElement?.textContent)) === "Live log") break;
    }
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Live log");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Live log", level: 1 }).waitFor();
    // The Overview's range buttons and group select by keyboard.
    await page.goto(`${gw.base}/#/overview`);
    await page.locator(".chart .uplot").first().waitFor();
    await page.getByRole("button", { name: "1h", exact: true }).focus();
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.querySelector('.seg button[aria-pressed="true"]')?.textContent === "1h");
    await page.getByLabel("Stack by").focus();
    await page.keyboard.press("ArrowDown");
    assert.equal(await page.getByLabel("Stack by").inputValue(), "model");
  });

  await step("the dashboard runs when navigator.language is not a BCP 47 tag (WebKitGTK under LANG=C)", async () => {
    // WebKitGTK (the Linux app's window) says "C" under the C locale; Intl throws on it, and
    // uPlot calls Intl with it as its module loads, which left the app's window blank.
    const posix = await newPage(browser);
    await posix.addInitScript(() => {
      Object.defineProperty(navigator, "language", { value: "C", configurable: true });
      Object.defineProperty(navigator, "languages", { value: ["C"], configurable: true });
    });
    await posix.goto(`${gw.base}/#/overview`);
    await posix.locator("#cloud-attempts .value").waitFor();
    await posix.locator(".chart .uplot").first().waitFor();
    const language = await posix.evaluate(() => navigator.language);
    assert.doesNotThrow(() => new Intl.NumberFormat(language), `the page kept navigator.language ${language}`);
    await posix.close();
  });

  // The live page holds an EventSource on the gateway: leave it before the gateway stops, or its
  // reconnect attempts show up as console errors.
  await page.goto("about:blank");
  await stopGateway(gw);

  // Run 2: the cloud mock (`local = false`), a second mock as a local provider, and vllm-mlx
  // as a local server under the real systemd backend with a fake systemctl.
  const home = join(tmp, "home");
  const bin = join(tmp, "bin");
  const systemdState = join(tmp, "systemd-state");
  mkdirSync(bin, { recursive: true });
  copyFileSync(join(here, "fake-systemctl"), join(bin, "systemctl"));
  copyFileSync(join(here, "fake-vllm-mlx"), join(bin, "vllm-mlx"));
  chmodSync(join(bin, "systemctl"), 0o755);
  chmodSync(join(bin, "vllm-mlx"), 0o755);
  const serverPort = await freePort();
  const localServers = `[local_servers.vllm_mlx]\nmodel = "e2e-coder"\nport = ${serverPort}\nbinary = "${join(bin, "vllm-mlx")}"\n[local_servers.ollama]\nenabled = false\n`;
  const env = {
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_STATE_HOME: join(home, ".local/state"),
    XDG_DATA_HOME: join(home, ".local/share"),
    PATH: `${bin}:${process.env.PATH}`,
    FAKE_SYSTEMD_STATE: systemdState,
    SWITCHYARD_MOCK: MOCK,
  };
  cleanups.push(() => fakeServicePids(systemdState).forEach((pid) => { try { process.kill(pid); } catch { /* gone */ } }));
  gw = await startGateway("local", baseConfig("local") + provider(CLOUD, cloudUrl, "local = false\n") + provider("mlx", localUrl) + classes + localServers, env);
  await page.emulateMedia({ colorScheme: "dark" });

  await step("with a local server, local-only turns on; the cloud mock gets nothing and the Overview reads 0", async () => {
    // One cloud request first: its price per token is what the local ones are compared with.
    const before = await chat(gw.base, `${CLOUD}/gpt-4o`, { headers: { "x-switchyard-client": "e2e-cloud" } });
    assert.equal(before.status, 200);
    assert.equal(before.headers.get("x-switchyard-provider"), CLOUD);
    await page.goto(`${gw.base}/#/models`);
    await page.getByRole("switch").check();
    await page.getByText("Local-only is on.").waitFor();
    assert.equal(await page.getByRole("switch").isChecked(), true);
    await page.locator('tr[data-class="coding"] .current').getByText("mlx/qwen2.5-coder-7b").waitFor();
    const cloudBefore = (await mockPosts(cloudUrl)).length;
    const localBefore = (await mockPosts(localUrl)).length;
    const r = await chat(gw.base, `${CLOUD}/gpt-4o`, { headers: { "x-switchyard-client": "e2e-local" } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("x-switchyard-provider"), "mlx");
    const c = await chat(gw.base, "coding", { headers: { "x-switchyard-client": "e2e-local" }, stream: true });
    assert.equal(c.status, 200);
    assert.equal(c.headers.get("x-switchyard-model"), "qwen2.5-coder-7b");
    assert.equal((await mockPosts(cloudUrl)).length, cloudBefore, "the cloud mock received a request while local-only");
    assert.deepEqual((await mockPosts(localUrl)).slice(localBefore).map((p) => p.model), ["qwen2.5-coder-7b", "qwen2.5-coder-7b"]);
    const lo = await getJson(`${gw.base}/api/local-only`);
    assert.equal(lo.enabled, true);
    assert.equal(lo.cloud_attempts_while_local, 0);
    await shot(page, "models-dark");
    await waitForRows(gw.base, 3);
    await page.goto(`${gw.base}/#/overview`);
    await page.locator("#cloud-attempts .value").waitFor();
    assert.equal(await page.locator("#cloud-attempts .value").textContent(), "0");
    assert.equal(await page.locator("#local-share .value").textContent(), "67%");
    assert.equal(await page.locator("#local-share .extra").textContent(), "2 local · 1 cloud");
    // Saved: what the gateway priced the local requests at on the class's cloud model, as
    // /api/usage has it (the cloud model is priced, so it is more than nothing).
    const now = Date.now();
    const locality = (await getJson(`${gw.base}/api/usage?from=${now - 86_400_000}&to=${now + 60_000}&bucket=hour&group_by=locality`)).data;
    const saved = locality.filter((p) => p.group === "local").reduce((a, p) => a + p.saved_usd, 0);
    assert.ok(saved > 0, JSON.stringify(locality));
    assert.ok(Math.abs(shown(await page.locator("#local-savings .value").textContent()) - saved) < 0.00006);
    assert.equal(await page.locator("#local-savings .extra").textContent(), "2 local requests at their class's cloud price");
    await page.locator(".chart .uplot").first().waitFor();
    await shot(page, "overview-dark");
    await page.goto(`${gw.base}/#/models`);
    await page.getByRole("switch").uncheck();
    await page.getByText("Local-only is off.").waitFor();
  });

  // The fake service manager is systemctl: on macOS the gateway drives launchctl instead.
  if (process.platform === "linux") await step("Local servers: start, stop and restart vllm-mlx through the gateway's systemd backend", async () => {
    await page.goto(`${gw.base}/#/local`);
    const card = page.locator('article[data-server="vllm-mlx"]');
    await card.getByText("not installed").waitFor();
    await page.getByText("Service manager: systemd").waitFor();
    await card.getByRole("button", { name: "Start" }).click();
    await card.locator(".tag", { hasText: "running" }).waitFor({ timeout: 10_000 });
    await page.getByText("vllm-mlx: start done.").waitFor();
    const status = async () => (await getJson(`${gw.base}/api/local-servers`)).servers.find((s) => s.name === "vllm-mlx");
    const first = await status();
    assert.equal(first.running, true);
    assert.ok(first.pid > 0);
    // The process is real: the mock answers on the configured port with the configured model.
    const models = await getJson(`http://127.0.0.1:${serverPort}/v1/models`);
    assert.deepEqual(models.data.map((m) => m.id), ["e2e-coder"]);
    await card.getByText(`pid ${first.pid}`).waitFor();
    assert.match(await card.textContent(), /RAM [\d.]+ (KiB|MiB)/);
    await card.locator("summary", { hasText: "Log tail" }).click();
    await page.waitForFunction(() => /switchyard-mock listening/.test(document.querySelector('article[data-server="vllm-mlx"] .log-tail')?.textContent ?? ""), null, { timeout: 10_000 });
    await shot(page, "local-running-dark");

    await card.getByRole("button", { name: "Restart" }).click();
    await page.getByText("vllm-mlx: restart done.").waitFor();
    const second = await status();
    assert.equal(second.running, true);
    assert.notEqual(second.pid, first.pid, "restart kept the old process");
    await card.getByText(`pid ${second.pid}`).waitFor();

    await card.getByRole("button", { name: "Stop" }).click();
    await page.getByText("vllm-mlx: stop done.").waitFor();
    await card.locator(".tag", { hasText: "stopped" }).waitFor();
    assert.equal((await status()).running, false);
    await assert.rejects(fetch(`http://127.0.0.1:${serverPort}/health`), "the server still answers after stop");
    await shot(page, "local-stopped-dark");
    await fitsWidth(page, "local servers");

    // Keyboard: Tab to Start, Enter.
    await card.getByRole("button", { name: "Start" }).focus();
    await page.keyboard.press("Enter");
    await card.locator(".tag", { hasText: "running" }).waitFor({ timeout: 10_000 });
    assert.equal((await status()).running, true);
    const calls = readFileSync(join(systemdState, "calls"), "utf8");
    for (const call of ["--user daemon-reload", "--user enable dev.switchyard.vllm-mlx.service", "--user restart dev.switchyard.vllm-mlx.service", "--user disable --now dev.switchyard.vllm-mlx.service", "--user enable --now dev.switchyard.vllm-mlx.service"]) {
      assert.ok(calls.includes(call), `systemctl was not called with ${call}:\n${calls}`);
    }
    await card.getByRole("button", { name: "Stop" }).click();
    await card.locator(".tag", { hasText: "stopped" }).waitFor();
  });

  await step("dark mode: every page", async () => {
    for (const hash of ["providers", "live", "mcp", "connect"]) {
      await page.goto(`${gw.base}/#/${hash}`);
      await page.waitForTimeout(300);
      await shot(page, `${hash}-dark`);
    }
    // The page follows the system's scheme: the background differs between light and dark.
    const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const dark = await bg();
    await page.emulateMedia({ colorScheme: "light" });
    const light = await bg();
    assert.notEqual(dark, light);
    await page.goto("about:blank");
  });

  await step("no console errors", async () => {
    assert.deepEqual(consoleErrors, []);
  });
  await stopGateway(gw);
  console.log(`\n${figures.join("\n")}`);
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
  for (const cleanup of cleanups) cleanup();
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
