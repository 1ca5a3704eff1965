// Preloaded into the Portkey gateway by `scripts/bench --peers` (node --import): a harness-side
// fix for a known upstream bug, nothing in Portkey's package is changed. On Node 20, a streamed
// answer fails with `TypeError: immutable`: Portkey returns the upstream `fetch()` Response to
// the client as it is and then appends its own headers to it (`x-portkey-*`), but undici makes
// the headers of a fetched Response immutable. Here a streamed (text/event-stream) answer is
// re-wrapped in a new Response over the same body stream, whose headers may be changed; other
// answers pass untouched, so the non-streaming figures measure Portkey as shipped.
const upstreamFetch = globalThis.fetch;
globalThis.fetch = async function fetchWithMutableStreamHeaders(...args) {
  const response = await upstreamFetch.apply(this, args);
  const type = response.headers.get("content-type") || "";
  if (!type.startsWith("text/event-stream")) return response;
  return new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers: new Headers(response.headers),
  });
};
