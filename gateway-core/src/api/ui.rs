//! The dashboard: `ui/` built by Vite into `ui/dist`, served at `/` and `/assets/...`.
//!
//! Every build embeds the files in the binary (rust-embed's `debug-embed`, so the UI tests run
//! what ships); `build.rs` rebuilds the crate when `ui/dist` changes. Before the UI is built the
//! folder is empty or missing; the crate still compiles and `/` says how to build it.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../ui/dist"]
#[allow_missing = true]
struct Assets;

const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>Switchyard</title>\
<h1>Switchyard</h1><p>The gateway runs, but its dashboard is not built. Build it with \
<code>scripts/build-ui</code> (needs Node.js and npm), then rebuild the gateway.</p>\
<p>The OpenAI-compatible API is at <code>/v1</code>; liveness at <code>/health</code>.</p>";

/// What the dashboard's pages may do. Vite's build loads everything from files under `/assets`
/// (no inline script or style; the charts draw on a canvas) and the API is the gateway itself;
/// the favicon is a `data:` URL. No page of another site may frame the dashboard (clickjacking a
/// button that changes routing or keys).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
frame-ancestors 'none'";

/// The headers every dashboard answer carries, found or not.
fn secure(mut response: Response) -> Response {
    let headers: &mut HeaderMap = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    // For browsers that predate `frame-ancestors`.
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // The dashboard's URLs carry log ids and filters: no need for other sites to see them.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// `GET /`: the dashboard's `index.html`, or a page saying how to build it.
pub async fn index() -> Response {
    secure(match serve("index.html") {
        Some(response) => response,
        None => (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], NOT_BUILT).into_response(),
    })
}

/// `GET /assets/{*file}`: Vite's hashed bundles, cached for good since their names change with
/// their content.
pub async fn asset(Path(file): Path<String>) -> Response {
    secure(match serve(&format!("assets/{file}")) {
        Some(mut response) => {
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
            response
        }
        None => (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain")], "not found\n").into_response(),
    })
}

fn serve(path: &str) -> Option<Response> {
    let file = Assets::get(path)?;
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type(path))),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    Some((headers, file.data.into_owned()).into_response())
}

/// The content type of the files Vite writes, by extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use axum::extract::Path;
    use axum::http::{StatusCode, header};

    use super::{asset, content_type, index};

    #[tokio::test]
    async fn the_root_is_html_built_or_not_and_unknown_assets_are_404() {
        let response = index().await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
        let response = asset(Path("no-such-file.js".to_owned())).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let response = asset(Path("../index.html".to_owned())).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn every_answer_refuses_framing_and_sniffing() {
        let found_or_not = [index().await, asset(Path("no-such-file.js".to_owned())).await];
        for response in found_or_not {
            let headers = response.headers();
            assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
            let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
            for directive in ["frame-ancestors 'none'", "default-src 'self'", "connect-src 'self'"] {
                assert!(csp.contains(directive), "{csp}");
            }
        }
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("assets/index-abc123.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("assets/index-abc123.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("favicon.svg"), "image/svg+xml");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
    }
}
