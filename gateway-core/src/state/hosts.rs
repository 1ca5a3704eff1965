//! Which names the gateway answers to and which origins may call it (`server.allowed_hosts`,
//! `server.allowed_origins`, the loopback names and the gateway's own origin). The tower layer
//! that applies the check to every request is `crate::guard`.

use std::sync::atomic::{AtomicU16, Ordering};

use http::{HeaderMap, HeaderName, HeaderValue, Uri, header};

use crate::error::ApiError;

const LOOPBACK_NAMES: [&str; 4] = ["localhost", "127.0.0.1", "[::1]", "::1"];

/// Set by browsers on every request they make: whether the page that made it shares the target's
/// origin (`same-origin`), its site (`same-site`: another port of localhost), neither
/// (`cross-site`), or no page did (`none`: typed in the address bar).
static SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");

/// The name a request addresses: its `Host` header, else the URI's authority (HTTP/2's
/// `:authority`). A `Host` that is not text is refused, not skipped: falling back to the URI
/// would let a request name no host the check can read.
pub fn request_authority<'a>(host: Option<&'a HeaderValue>, uri: &'a Uri) -> Result<Option<&'a str>, ApiError> {
    match host {
        Some(value) => value
            .to_str()
            .map(Some)
            .map_err(|_| ApiError::ForbiddenHost { host: String::from_utf8_lossy(value.as_bytes()).into_owned() }),
        None => Ok(uri.authority().map(|a| a.as_str())),
    }
}

pub struct HostGuard {
    extra_hosts: Vec<String>,
    extra_origins: Vec<String>,
    /// The port the gateway listens on; the gateway's own origin includes it.
    port: AtomicU16,
}

impl HostGuard {
    pub fn new(extra_hosts: &[String], extra_origins: &[String], port: u16) -> HostGuard {
        HostGuard {
            extra_hosts: extra_hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
            extra_origins: extra_origins.iter().map(|o| o.trim_end_matches('/').to_ascii_lowercase()).collect(),
            port: AtomicU16::new(port),
        }
    }

    pub fn set_port(&self, port: u16) {
        self.port.store(port, Ordering::Relaxed);
    }

    fn known_name(&self, name: &str) -> bool {
        LOOPBACK_NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
            || self.extra_hosts.iter().any(|h| h == &name.to_ascii_lowercase())
    }

    /// `authority` is the request's `Host` (HTTP/1) or `:authority` (HTTP/2).
    pub fn check(&self, authority: Option<&str>, headers: &HeaderMap) -> Result<(), ApiError> {
        if let Some(authority) = authority {
            let (name, _) = split_authority(authority);
            if !self.known_name(name) {
                return Err(ApiError::ForbiddenHost { host: authority.to_owned() });
            }
        }
        let origin = headers.get(header::ORIGIN).map(|origin| origin.to_str().unwrap_or("null"));
        if let Some(origin) = origin
            && !self.origin_allowed(origin)
        {
            return Err(ApiError::ForbiddenOrigin { origin: origin.to_owned() });
        }
        // A browser says which site a request comes from even where it sends no `Origin` (a
        // navigation, an image, a form GET). Another site, or another port of localhost, is
        // refused, unless its origin is one the user listed in `server.allowed_origins` (the
        // desktop app's webview, a dashboard dev server).
        if let Some(site) = headers.get(&SEC_FETCH_SITE) {
            let site = site.as_bytes();
            let foreign = site.eq_ignore_ascii_case(b"cross-site") || site.eq_ignore_ascii_case(b"same-site");
            if foreign && !origin.is_some_and(|o| self.listed_origin(o)) {
                return Err(ApiError::ForbiddenFetchSite { site: String::from_utf8_lossy(site).into_owned() });
            }
        }
        Ok(())
    }

    fn listed_origin(&self, origin: &str) -> bool {
        self.extra_origins.iter().any(|o| o.eq_ignore_ascii_case(origin.trim_end_matches('/')))
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        if self.extra_origins.contains(&origin) {
            return true;
        }
        let Some(rest) = origin.strip_prefix("http://") else { return false };
        let (name, port) = split_authority(rest);
        self.known_name(name) && port == Some(self.port.load(Ordering::Relaxed))
    }
}

/// `name:port`, `[v6]:port`, or a bare name.
fn split_authority(authority: &str) -> (&str, Option<u16>) {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => {
                let port = authority[end + 1..].strip_prefix(':').and_then(|p| p.parse().ok());
                (&authority[..=end], port)
            }
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => (name, port.parse().ok()),
        _ => (authority, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(origin: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        headers
    }

    #[test]
    fn hosts() {
        let guard = HostGuard::new(&["mybox.local".into()], &[], 30080);
        for ok in ["localhost:30080", "127.0.0.1:30080", "[::1]:30080", "localhost", "LOCALHOST:1", "mybox.local:30080"]
        {
            assert!(guard.check(Some(ok), &headers(None)).is_ok(), "{ok}");
        }
        for bad in ["evil.com", "evil.com:30080", "127.0.0.1.evil.com", "localhost.evil.com:30080", "10.0.0.2:30080"] {
            assert!(matches!(guard.check(Some(bad), &headers(None)), Err(ApiError::ForbiddenHost { .. })), "{bad}");
        }
        assert!(guard.check(None, &headers(None)).is_ok());
    }

    #[test]
    fn a_host_that_is_not_text_is_refused() {
        let uri: Uri = "http://localhost:30080/v1/models".parse().unwrap();
        let bad = HeaderValue::from_bytes(b"evil.com\xff").unwrap();
        assert!(matches!(request_authority(Some(&bad), &uri), Err(ApiError::ForbiddenHost { .. })));
        let good = HeaderValue::from_static("localhost:30080");
        assert_eq!(request_authority(Some(&good), &uri).unwrap(), Some("localhost:30080"));
        assert_eq!(request_authority(None, &uri).unwrap(), Some("localhost:30080"));
    }

    #[test]
    fn other_sites_are_refused_by_sec_fetch_site() {
        let guard = HostGuard::new(&[], &["http://localhost:5173".into()], 30080);
        let with = |site: &str, origin: Option<&str>| {
            let mut headers = headers(origin);
            headers.insert("sec-fetch-site", HeaderValue::from_str(site).unwrap());
            guard.check(Some("localhost:30080"), &headers)
        };
        for ok in ["same-origin", "none", "SAME-ORIGIN"] {
            assert!(with(ok, None).is_ok(), "{ok}");
        }
        for bad in ["cross-site", "same-site", "Cross-Site"] {
            assert!(matches!(with(bad, None), Err(ApiError::ForbiddenFetchSite { .. })), "{bad}");
        }
        // An origin the user listed may call from its own site.
        assert!(with("same-site", Some("http://localhost:5173")).is_ok());
    }

    #[test]
    fn origins() {
        let guard = HostGuard::new(&[], &["tauri://localhost".into()], 30080);
        for ok in ["http://localhost:30080", "http://127.0.0.1:30080", "http://[::1]:30080", "tauri://localhost"] {
            assert!(guard.check(Some("localhost:30080"), &headers(Some(ok))).is_ok(), "{ok}");
        }
        for bad in ["https://evil.com", "http://localhost:3000", "null", "http://evil.com:30080", "file://"] {
            assert!(
                matches!(
                    guard.check(Some("localhost:30080"), &headers(Some(bad))),
                    Err(ApiError::ForbiddenOrigin { .. })
                ),
                "{bad}"
            );
        }
        guard.set_port(4000);
        assert!(guard.check(None, &headers(Some("http://localhost:4000"))).is_ok());
    }
}
