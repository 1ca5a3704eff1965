import { describe, expect, it } from "vitest";
import type { McpCall, McpClient, McpClientConfig } from "./api";
import { callSeries, connectionLine, matchesCall, mergeCalls, newClientBody, newestId, parseHeaders, parseToolList, servedTools, splitArgs, stateClass, statusLabel } from "./mcp";

const config = (extra: Partial<McpClientConfig> = {}): McpClientConfig => ({
  client_id: "id1",
  name: "fs",
  connection_type: "http",
  connection_string: "http://localhost:8000/mcp",
  stdio_config: null,
  headers: {},
  env: {},
  cwd: null,
  tools_to_execute: ["*"],
  tools_to_auto_execute: [],
  disabled: false,
  tool_execution_timeout: null,
  ...extra,
});
const call = (id: number, extra: Partial<McpCall> = {}): McpCall => ({
  id,
  ts_ms: id * 1000,
  server: "fs",
  tool: "read",
  client: null,
  virtual_key: null,
  origin: "mcp",
  status: "ok",
  duration_ms: 1,
  error: null,
  arguments: null,
  result: null,
  ...extra,
});
const form = { name: "web", transport: "http" as const, url: " http://localhost:9000/mcp ", headers: "", command: "", args: "", tools: "*" };

describe("mcp", () => {
  it("splits a command line as a shell does", () => {
    expect(splitArgs("-y @modelcontextprotocol/server-filesystem /tmp")).toEqual(["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]);
    expect(splitArgs(`  --dir "/My Files"  'it''s' a\\ b ""  `)).toEqual(["--dir", "/My Files", "its", "a b", ""]);
    expect(splitArgs(`--json '{"a": 1}' "say \\"hi\\""`)).toEqual(["--json", '{"a": 1}', 'say "hi"']);
    expect(splitArgs("")).toEqual([]);
  });

  it("reads headers as Name: value lines, naming a bad line", () => {
    expect(parseHeaders("Authorization: Bearer abc: def\n\n x-team : one ")).toEqual({ ok: true, headers: { Authorization: "Bearer abc: def", "x-team": "one" } });
    expect(parseHeaders("")).toEqual({ ok: true, headers: {} });
    expect(parseHeaders("Authorization: x\nno colon here")).toEqual({ ok: false, message: "Headers, line 2: write it as Name: value" });
    expect(parseHeaders(": value").ok).toBe(false);
  });

  it("tool lists: * for all, names by commas or spaces, nothing for none", () => {
    expect(parseToolList("*")).toEqual(["*"]);
    expect(parseToolList(" read_file, write_file  list ")).toEqual(["read_file", "write_file", "list"]);
    expect(parseToolList("  ")).toEqual([]);
  });

  it("the add form's body is Bifrost's: URL and headers for HTTP", () => {
    expect(newClientBody({ ...form, headers: "Authorization: Bearer t" })).toEqual({
      ok: true,
      body: { name: "web", connection_type: "http", connection_string: "http://localhost:9000/mcp", headers: { Authorization: "Bearer t" }, tools_to_execute: ["*"], tools_to_auto_execute: [] },
    });
    expect(newClientBody({ ...form, transport: "sse" }).ok).toBe(true);
  });

  it("the add form's body for stdio: the command and its arguments, no URL", () => {
    const r = newClientBody({ ...form, transport: "stdio", url: "ignored", command: "npx", args: "-y server /tmp", tools: "read, write" });
    expect(r).toEqual({
      ok: true,
      body: { name: "web", connection_type: "stdio", stdio_config: { command: "npx", args: ["-y", "server", "/tmp"] }, env: {}, tools_to_execute: ["read", "write"], tools_to_auto_execute: [] },
    });
  });

  it("the add form names what is missing", () => {
    expect(newClientBody({ ...form, name: " " })).toMatchObject({ ok: false, message: expect.stringMatching(/^A name is needed/) });
    expect(newClientBody({ ...form, url: "" })).toMatchObject({ ok: false, message: expect.stringMatching(/^A URL is needed/) });
    expect(newClientBody({ ...form, transport: "stdio" })).toMatchObject({ ok: false, message: expect.stringMatching(/^A command is needed/) });
    expect(newClientBody({ ...form, headers: "bad" })).toMatchObject({ ok: false, message: expect.stringMatching(/^Headers, line 1/) });
  });

  it("a server's connection line: its URL, or its command quoted as typed", () => {
    expect(connectionLine(config())).toBe("http://localhost:8000/mcp");
    expect(connectionLine(config({ connection_type: "stdio", connection_string: null, stdio_config: { command: "npx", args: ["-y", "srv", "/My Files", "it's"], envs: [] } }))).toBe(
      `npx -y srv '/My Files' 'it'\\''s'`,
    );
    // Quoting round-trips through the form's splitter.
    expect(splitArgs(`'/My Files' 'it'\\''s'`)).toEqual(["/My Files", "it's"]);
  });

  it("state badges: connected green, connecting amber, error red, disabled plain", () => {
    expect(stateClass("connected")).toBe("ok");
    expect(stateClass("connecting")).toBe("warn");
    expect(stateClass("error")).toBe("err");
    expect(stateClass("disabled")).toBe("");
    expect(statusLabel("tool_error")).toBe("tool error");
  });

  it("served tools under their served names, the others apart, each sorted", () => {
    const client = {
      config: config(),
      tools: [
        { name: "read", served_as: "fs_read", auto_execute: false },
        { name: "write", served_as: null, auto_execute: false },
        { name: "append", served_as: null, auto_execute: false },
        { name: "list", served_as: "fs_list", auto_execute: false },
      ],
    } as unknown as McpClient;
    expect(servedTools(client)).toEqual({ served: ["fs_list", "fs_read"], hidden: ["append", "write"] });
  });

  it("the chart: every bucket from since to now, calls and errors, empty ones 0", () => {
    const data = callSeries({ since: 90_000, bucket_ms: 60_000, tools: [], series: [{ t: 120_000, calls: 3, errors: 1 }, { t: 999_999_000, calls: 9, errors: 0 }] }, 250_000);
    expect(data.xs).toEqual([60, 120, 180, 240]);
    expect(data.groups).toEqual(["calls", "errors"]);
    expect(data.values).toEqual([
      [0, 3, 0, 0],
      [0, 1, 0, 0],
    ]);
  });

  it("the live log: new calls on top, none twice, capped; the next poll's after_id", () => {
    const shown = [call(5), call(3)];
    const merged = mergeCalls(shown, [call(7), call(6), call(5)], 3);
    expect(merged.map((c) => c.id)).toEqual([7, 6, 5]);
    expect(newestId(merged, 5)).toBe(7);
    expect(newestId([], 4)).toBe(4);
    expect(newestId([], undefined)).toBeUndefined();
  });

  it("the live log's filter, as the gateway filters", () => {
    expect(matchesCall({}, call(1))).toBe(true);
    expect(matchesCall({ server: "fs" }, call(1))).toBe(true);
    expect(matchesCall({ server: "web" }, call(1))).toBe(false);
    expect(matchesCall({ status: "tool_error" }, call(1, { status: "tool_error" }))).toBe(true);
    expect(matchesCall({ server: "fs", status: "ok" }, call(1, { status: "timeout" }))).toBe(false);
  });
});
