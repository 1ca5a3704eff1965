// Every call the dashboard makes, typed, in one place: same-origin relative URLs only (the
// gateway refuses foreign Origins). A call never throws: it answers `{ ok: false, ... }` with
// the gateway's error message, and `missing: true` when the route does not exist (yet).

/** Fired on `window` when the admin API says the dashboard has no valid session. */
export const SIGNED_OUT = "switchyard:signed-out";

export type Result<T> =
  | { ok: true; data: T }
  | { ok: false; status: number; message: string; code?: string; missing: boolean };

async function call<T>(method: string, url: string, body?: unknown): Promise<Result<T>> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    return { ok: false, status: 0, message: `the gateway did not answer (${String(err)})`, missing: false };
  }
  let json: unknown = null;
  try {
    json = await response.json();
  } catch {
    /* not JSON */
  }
  if (response.ok) return { ok: true, data: json as T };
  const error = (json as { error?: { message?: string; code?: string } } | null)?.error;
  // No session (the cookie from a one-time link) or a stale one: the page shows how to sign in.
  if (response.status === 401 && /^admin_token_/.test(error?.code ?? "")) {
    window.dispatchEvent(new CustomEvent(SIGNED_OUT));
  }
  const missing = response.status === 404 && (error?.code === "route_not_found" || !error?.code || /no route|not found/i.test(error?.message ?? "")) && !/^no log entry/.test(error?.message ?? "");
  return {
    ok: false,
    status: response.status,
    message: error?.message ?? `${response.status} ${response.statusText}`,
    code: error?.code,
    missing,
  };
}

// ---- admin API ----

export interface ProviderInfo {
  name: string;
  kind: string;
  base_url: string;
  local: boolean;
  source: string;
  wire_format: string;
  keys: string[];
  models: string[] | null;
}
/** A provider at any base URL, added through `PUT /api/providers/{name}`. */
export interface NewProvider {
  kind: string;
  base_url: string;
  key?: string;
  local?: boolean;
}
export interface CatalogStatus {
  models: string[];
  stale: boolean;
  error?: string;
}
export interface ProvidersAnswer {
  providers: { provider: ProviderInfo; catalog: CatalogStatus | null }[];
  secret_store: string;
}
export interface ModelRecord {
  id: string;
  provider: string;
  model: string;
  local: boolean;
  stale: boolean;
}
export interface ModelsAnswer {
  data: ModelRecord[];
  providers: Record<string, CatalogStatus>;
}
export type ChainEntry = string | { model: string; weight?: number };
export interface TaskClass {
  name: string;
  description?: string | null;
  chain: ChainEntry[];
  local: ChainEntry[];
  model: string | null;
}
export interface TaskClassesAnswer {
  local_only: boolean;
  classes: TaskClass[];
}
export interface LocalOnlyAnswer {
  enabled: boolean;
  cloud_attempts_while_local: number;
  local_providers: { provider: string; healthy: boolean; models: number }[];
}
export interface LocalServer {
  name: string;
  label?: string;
  backend?: string;
  enabled?: boolean;
  installed: boolean;
  running: boolean;
  state?: string | null;
  pid?: number | null;
  model?: string | null;
  port?: number;
  base_url?: string;
  health?: unknown;
  uptime_secs?: number | null;
  usage?: { cpu_percent?: number; rss_bytes?: number; [k: string]: unknown } | null;
  /** The GPU as far as it can be read without sudo (macOS: IOReport/ioreg), with a note. */
  gpu?: { device_utilization_percent?: number | null; in_use_memory_bytes?: number | null; note?: string } | null;
  log_tail?: string[];
  notes?: string[];
  error?: string | null;
}
export interface LocalServersAnswer {
  backend: string;
  servers: LocalServer[];
}

/** A budget as the governance API shows it (dollars; times RFC 3339). */
export interface KeyBudget {
  max_limit: number;
  reset_duration: string;
  current_usage: number;
  last_reset: string;
  resets_at: string;
}
export interface KeyProviderConfig {
  provider: string;
  allowed_models: string[];
  weight: number | null;
  budgets: KeyBudget[];
}
export interface VirtualKey {
  id: string;
  name: string;
  description: string;
  is_active: boolean;
  value_hint: string;
  /** Only in the answer that created the key. */
  value?: string;
  provider_configs: KeyProviderConfig[];
  allow_all_providers: boolean;
  budgets: KeyBudget[];
  rate_limit: Record<string, number | string> | null;
}
export interface NewKey {
  name: string;
  allow_all_providers?: boolean;
  provider_configs?: { provider: string; allowed_models: string[]; weight?: number }[];
  budget?: { max_limit: number; reset_duration: string };
  rate_limit?: { request_max_limit: number; request_reset_duration: string };
}

export const api = {
  virtualKeys: () => call<{ virtual_keys: VirtualKey[]; total_count: number }>("GET", "/api/governance/virtual-keys"),
  createKey: (body: NewKey) => call<{ virtual_key: VirtualKey }>("POST", "/api/governance/virtual-keys", body),
  updateKey: (id: string, body: Record<string, unknown>) => call<{ virtual_key: VirtualKey }>("PUT", `/api/governance/virtual-keys/${enc(id)}`, body),
  rotateKey: (id: string) => call<{ virtual_key: VirtualKey }>("POST", `/api/governance/virtual-keys/${enc(id)}/rotate`),
  deleteVirtualKey: (id: string) => call<{ message: string }>("DELETE", `/api/governance/virtual-keys/${enc(id)}`),
  providers: () => call<ProvidersAnswer>("GET", "/api/providers"),
  models: () => call<ModelsAnswer>("GET", "/api/models"),
  refreshModels: () => call<ModelsAnswer>("POST", "/api/models/refresh"),
  putKey: (provider: string, key: string) =>
    call<{ provider: string; key: string; stored_in: string }>("PUT", `/api/providers/${enc(provider)}/key`, { key }),
  deleteKey: (provider: string) => call<{ provider: string; keys: string[] }>("DELETE", `/api/providers/${enc(provider)}/key`),
  putProvider: (name: string, body: NewProvider) =>
    call<{ provider: ProviderInfo; created: boolean }>("PUT", `/api/providers/${enc(name)}`, body),
  deleteProvider: (name: string) => call<{ provider: string; deleted: boolean }>("DELETE", `/api/providers/${enc(name)}`),
  taskClasses: () => call<TaskClassesAnswer>("GET", "/api/task-classes"),
  setClassModel: (name: string, model: string) => call<TaskClass>("PUT", `/api/task-classes/${enc(name)}`, { model }),
  resetClass: (name: string) => call<unknown>("DELETE", `/api/task-classes/${enc(name)}`),
  localOnly: () => call<LocalOnlyAnswer>("GET", "/api/local-only"),
  setLocalOnly: (enabled: boolean, force = false) =>
    call<LocalOnlyAnswer>("PUT", "/api/local-only", force ? { enabled, force } : { enabled }),
  localServers: () => call<LocalServersAnswer>("GET", "/api/local-servers"),
  localServerAction: (name: string, action: "start" | "stop" | "restart") =>
    call<unknown>("POST", `/api/local-servers/${enc(name)}/${action}`),
  localServerLogs: (name: string, lines = 100) =>
    call<{ server: string; logs: unknown }>("GET", `/api/local-servers/${enc(name)}/logs?lines=${lines}`),
  // ---- usage API (issue: /api/usage, /api/usage/summary, /api/logs) ----
  usage: (q: UsageQuery) => call<UsageAnswer>("GET", `/api/usage?${query(q)}`),
  summary: () => call<UsageSummary>("GET", "/api/usage/summary"),
  logs: (f: LogFilter) => call<LogsAnswer>("GET", `/api/logs?${query(f)}`),
  log: (id: number) => call<LogEntry>("GET", `/api/logs/${id}`),
  logBody: (id: number) => call<LogBody>("GET", `/api/logs/${id}/body`),
  // ---- response cache (issue 14: /api/cache/*) ----
  cacheStats: () => call<CacheStats>("GET", "/api/cache/stats"),
  cacheConfig: () => call<CacheConfig>("GET", "/api/cache/config"),
  /** A partial update: only the fields given change; a bad value is a 400 naming the field. */
  setCacheConfig: (body: Partial<CacheConfig>) => call<CacheConfig>("PUT", "/api/cache/config", body),
  clearCache: () => call<{ deleted: number }>("DELETE", "/api/cache"),
  // ---- MCP gateway (issue 15: Bifrost's /api/mcp/client*, Switchyard's /api/mcp/{tools,calls,stats}) ----
  mcpClients: () => call<McpClientsAnswer>("GET", "/api/mcp/clients"),
  addMcpClient: (body: NewMcpClient) => call<McpChangeAnswer>("POST", "/api/mcp/client", body),
  /** Only the fields given change; a server from the config file answers 409. */
  updateMcpClient: (id: string, body: Partial<NewMcpClient>) => call<McpChangeAnswer>("PUT", `/api/mcp/client/${enc(id)}`, body),
  deleteMcpClient: (id: string) => call<McpChangeAnswer>("DELETE", `/api/mcp/client/${enc(id)}`),
  reconnectMcpClient: (id: string) => call<McpChangeAnswer>("POST", `/api/mcp/client/${enc(id)}/reconnect`),
  mcpTools: () => call<{ tools: McpServedTool[]; count: number }>("GET", "/api/mcp/tools"),
  mcpCalls: (f: McpCallFilter) => call<{ calls: McpCall[]; count: number }>("GET", `/api/mcp/calls?${query(f)}`),
  mcpStats: (hours: number) => call<McpStats>("GET", `/api/mcp/stats?hours=${hours}`),
};

export const LOG_STREAM_URL = "/api/logs/stream";

function enc(s: string): string {
  return encodeURIComponent(s);
}

export function query(params: object): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  return q.toString();
}

// ---- usage API shapes ----

export type Bucket = "minute" | "hour" | "day";
export type GroupBy = "model" | "provider" | "client" | "class" | "locality" | "virtual_key";
export interface UsageQuery {
  from: number;
  to: number;
  bucket: Bucket;
  group_by?: GroupBy;
}
export interface UsagePoint {
  ts_ms: number;
  group?: string | null;
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens?: number;
  reasoning_tokens?: number;
  cost_usd: number;
  /** Served locally: what the class's cloud model would have charged. */
  saved_usd?: number;
  p50_latency_ms: number;
  p95_latency_ms: number;
  /** Answered from the response cache / looked up there and not found (absent before the cache). */
  cache_hits?: number;
  cache_misses?: number;
  /** What the cached answers cost when they were first made. */
  cache_saved_usd?: number;
}
export interface UsageAnswer {
  from: number;
  to: number;
  bucket: string;
  group_by?: string | null;
  data: UsagePoint[];
}
/** A request's stored bodies (only with `usage.store_bodies`). */
export interface LogBody {
  id: number;
  request: string;
  response: string;
  truncated: boolean;
}
export interface UsageSummary {
  since_ms: number;
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens?: number;
  cost_usd: number;
  saved_usd?: number;
  local_requests?: number;
  cache_hits?: number;
  cache_misses?: number;
  cache_saved_usd?: number;
  top_client?: string | null;
  top_model?: string | null;
}
/** One upstream attempt of a request (`GET /api/logs/{id}`'s `attempts_trail`). */
export interface AttemptTrail {
  provider: string;
  model: string;
  /** The key's reference (`env.OPENAI_API_KEY`, `secret.openai`, `****abcd`), never the key. */
  key?: string | null;
  status?: number | null;
  error_type?: string | null;
  error?: string | null;
  duration_ms: number;
}
export interface LogEntry {
  id: number;
  /** The client's `x-request-id`, else the gateway's `req_…`; null in rows from older versions. */
  request_id?: string | null;
  ts_ms: number;
  client?: string | null;
  task_class?: string | null;
  family?: string;
  endpoint?: string;
  requested_model?: string | null;
  provider?: string | null;
  model?: string | null;
  local: boolean;
  attempts?: number;
  status: number;
  outcome: string;
  error_type?: string | null;
  /** The final error's message, as the client got it. */
  error_message?: string | null;
  /** Every upstream attempt in order: only in the single row (`GET /api/logs/{id}`). */
  attempts_trail?: AttemptTrail[];
  latency_ms: number;
  ttft_ms?: number | null;
  input_tokens?: number | null;
  output_tokens?: number | null;
  cost_usd?: number | null;
  saved_usd?: number | null;
  bodies_stored?: boolean;
  stream?: boolean;
  /** The response cache's answer; null when it was not consulted (off or bypassed); absent in
   * rows from gateways without the cache. */
  cache?: CacheOutcome | null;
  /** A semantic hit's cosine similarity. */
  cache_similarity?: number | null;
  /** A hit: the priced tokens of the answer as first made (the hit itself costs 0). */
  cache_saved_usd?: number | null;
  [k: string]: unknown;
}
export interface LogFilter {
  client?: string;
  model?: string;
  provider?: string;
  /** The task class (`coding`, ...). */
  class?: string;
  status?: number;
  /** Rows by cache outcome: `hit` is either kind of hit. */
  cache?: CacheFilter;
  since?: number;
  limit?: number;
  cursor?: number;
}
export interface LogsAnswer {
  data: LogEntry[];
  next_cursor: number | null;
}

// ---- response cache shapes ----

export type CacheMode = "off" | "exact" | "semantic";
export type CacheOutcome = "hit-exact" | "hit-semantic" | "miss";
export type CacheFilter = "hit" | "exact" | "semantic" | "miss";
/** `GET/PUT /api/cache/config`. */
export interface CacheConfig {
  mode: CacheMode;
  ttl_secs: number;
  /** Cosine similarity a semantic hit needs. */
  threshold: number;
  /** The size cap; the least recently used entries go first. */
  max_bytes: number;
  /** `provider/model` of an OpenAI-compatible embeddings endpoint. */
  embedding_model: string | null;
}
/** `GET /api/cache/stats`: the config, what the cache holds, and its hits since the process started. */
export interface CacheStats extends CacheConfig {
  semantic: { active: boolean; reason: string | null };
  entries: number;
  bytes: number;
  hits: { exact: number; semantic: number };
  misses: number;
  since_ms: number;
}

// ---- MCP gateway shapes (gateway-core/src/api/mcp.rs) ----

export type McpTransport = "stdio" | "http" | "sse";
export type McpState = "connecting" | "connected" | "error" | "disabled";
export interface McpClientConfig {
  client_id: string;
  name: string;
  connection_type: McpTransport;
  /** http and sse: the server's URL. */
  connection_string: string | null;
  stdio_config: { command: string; args: string[]; envs: string[] } | null;
  /** Header names with their values masked (`****abcd`, `secret.…`, `env.NAME`). */
  headers: Record<string, string>;
  env: Record<string, string>;
  cwd: string | null;
  tools_to_execute: string[];
  tools_to_auto_execute: string[];
  disabled: boolean;
  tool_execution_timeout: number | null;
}
export interface McpClientTool {
  name: string;
  description?: string | null;
  parameters?: unknown;
  /** The name `/mcp` serves it under (`server_tool`); null when `tools_to_execute` leaves it out. */
  served_as: string | null;
  auto_execute: boolean;
}
export interface McpClient {
  config: McpClientConfig;
  tools: McpClientTool[];
  state: McpState;
  /** Why it is in `error` or `disabled`. */
  reason: string | null;
  /** RFC 3339: when the state last changed. */
  since: string;
  /** `config`: from the config file, read-only through the API; `api`: added here (mcp.json). */
  source: "config" | "api";
  local: boolean;
  hidden_by_local_only: boolean;
  server_info: { name: string; version: string | null } | null;
  protocol_version: string | null;
  restarts: number;
  pid: number | null;
  prompts: string[];
  resources: number;
}
export interface McpClientsAnswer {
  clients: McpClient[];
  count: number;
}
/** `POST /api/mcp/client` in Bifrost's shape. */
export interface NewMcpClient {
  name: string;
  connection_type: McpTransport;
  connection_string?: string;
  stdio_config?: { command: string; args: string[] };
  headers?: Record<string, string>;
  tools_to_execute: string[];
  tools_to_auto_execute?: string[];
  env?: Record<string, string>;
  disabled?: boolean;
}
export interface McpChangeAnswer {
  status: string;
  message: string;
  client_id?: string | null;
  warnings?: string[];
}
export interface McpServedTool {
  /** As served: `server_tool`. */
  name: string;
  server: string;
  tool: string;
  description?: string | null;
  parameters?: unknown;
  auto_execute: boolean;
}
export type McpCallStatus = "ok" | "tool_error" | "error" | "timeout" | "denied" | "cancelled";
export interface McpCall {
  id: number;
  ts_ms: number;
  server: string;
  /** The tool's own name (as its server knows it). */
  tool: string;
  client: string | null;
  virtual_key: string | null;
  origin: "mcp" | "execute" | "agent";
  status: McpCallStatus;
  duration_ms: number;
  error: string | null;
  /** Only with `usage.store_bodies`. */
  arguments: string | null;
  result: string | null;
}
export interface McpCallFilter {
  server?: string;
  tool?: string;
  status?: string;
  /** Only calls newer than this id (the live log's next poll). */
  after_id?: number;
  limit?: number;
}
export interface McpToolStats {
  server: string;
  tool: string;
  calls: number;
  /** Calls that did not end `ok`. */
  errors: number;
  avg_ms: number;
  max_ms: number;
  last_ms: number;
}
export interface McpStats {
  since: number;
  bucket_ms: number;
  tools: McpToolStats[];
  /** Sparse: only buckets with calls; `t` is the bucket's start (ms). */
  series: { t: number; calls: number; errors: number }[];
}
