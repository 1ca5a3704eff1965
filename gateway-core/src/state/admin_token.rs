//! The admin API's credential. The gateway holds billable cloud keys and stored prompts, and the
//! Host/Origin guard only keeps web pages out: any process on the machine could otherwise edit
//! providers, read bodies or turn local-only off. So `/api/*` needs a random token made once per
//! install, kept in a file only the user can read (`admin-token` in the config dir).
//!
//! Three ways to present it, checked in constant time:
//! - `Authorization: Bearer <token>` or `x-switchyard-admin-token: <token>` (scripts, the app);
//! - the dashboard's cookie, an HMAC of the token (never the token itself), set by a one-time
//!   login link as Jupyter does: the tray's "Open dashboard" and the headless start-up line give
//!   `/login?once=…`, good for one use within its lifetime, and the browser keeps an HttpOnly,
//!   SameSite=Strict cookie. The links are signed with the token, so `switchyard-gateway
//!   dashboard-url` can mint one without talking to the gateway; the gateway remembers which it
//!   has seen until they expire.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use http::HeaderMap;
use rand::RngCore;
use sha2::Sha256;

/// The header scripts may use instead of `Authorization: Bearer`.
pub const ADMIN_TOKEN_HEADER: &str = "x-switchyard-admin-token";
/// The dashboard's session cookie.
pub const SESSION_COOKIE: &str = "switchyard_admin";
/// How long a one-time login link stays good.
pub const LOGIN_LINK_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// The token's prefix, so secret scanners and people can tell what it is.
const TOKEN_PREFIX: &str = "sya_";
/// Links seen and not yet expired; past this many, new ones are refused until some expire (a
/// bound on memory, far above what a person opens in 12 hours).
const MAX_REMEMBERED_LINKS: usize = 4096;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, thiserror::Error)]
pub enum AdminTokenError {
    #[error("cannot read the admin token file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot create the admin token file {path}: {source}")]
    Create { path: String, source: std::io::Error },
    #[error("the admin token file {path} does not hold a token (delete it to make a new one)")]
    Invalid { path: String },
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminRefusal {
    /// No token, header or cookie at all.
    Missing,
    /// One was presented and it is not this gateway's.
    Wrong,
}

/// Why a login link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LoginLinkError {
    #[error("this login link is not one this gateway made")]
    Forged,
    #[error("this login link has expired")]
    Expired,
    #[error("this login link was used already")]
    Used,
    #[error("too many login links are in use; try again later")]
    Busy,
}

/// Whether `/api/*` is guarded, and by which token.
pub enum AdminAuth {
    Token(AdminToken),
    /// `[server] admin_auth = "none"`: Bifrost's open admin API.
    Open,
}

impl AdminAuth {
    /// Checks a request's headers; `Ok` when the API is open.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), AdminRefusal> {
        match self {
            AdminAuth::Open => Ok(()),
            AdminAuth::Token(token) => token.check(headers),
        }
    }

    pub fn token(&self) -> Option<&AdminToken> {
        match self {
            AdminAuth::Token(token) => Some(token),
            AdminAuth::Open => None,
        }
    }
}

pub struct AdminToken {
    secret: String,
    /// The cookie value: derived, so a leaked cookie is not the token and rotating the token
    /// ends every session.
    session: String,
    /// Login links seen, by nonce, with their expiry (Unix seconds).
    used_links: Mutex<HashMap<String, u64>>,
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(…)")
    }
}

impl AdminToken {
    /// A new random token (32 bytes).
    pub fn generate() -> AdminToken {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        AdminToken::from_secret(format!("{TOKEN_PREFIX}{}", hex(&bytes)))
    }

    /// A token read elsewhere (the app attached to another Switchyard reads its file).
    pub fn from_secret(secret: String) -> AdminToken {
        let session = hex(&mac(&secret, b"switchyard dashboard session v1"));
        AdminToken { secret, session, used_links: Mutex::new(HashMap::new()) }
    }

    /// Reads the token from `path`, or makes one and writes it there (mode 0600, its directory
    /// 0700 when created here). A file others can read is narrowed to the user, with a warning.
    pub fn load_or_create(path: &Path) -> Result<AdminToken, AdminTokenError> {
        let shown = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                restrict_to_user(path);
                let secret = text.trim();
                if secret.len() < 32 || !secret.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(AdminTokenError::Invalid { path: shown });
                }
                Ok(AdminToken::from_secret(secret.to_owned()))
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let token = AdminToken::generate();
                match write_new(path, &token.secret) {
                    Ok(()) => Ok(token),
                    // Another process (the app and the headless gateway at once) made it first.
                    Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => AdminToken::load_or_create(path),
                    Err(source) => Err(AdminTokenError::Create { path: shown, source }),
                }
            }
            Err(source) => Err(AdminTokenError::Read { path: shown, source }),
        }
    }

    /// The token itself, for the app and `switchyard-gateway token`; never logged.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The value of the dashboard's session cookie.
    pub fn session_value(&self) -> &str {
        &self.session
    }

    pub fn check(&self, headers: &HeaderMap) -> Result<(), AdminRefusal> {
        let mut presented = false;
        let bearer = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
        let header = headers.get(ADMIN_TOKEN_HEADER).and_then(|v| v.to_str().ok());
        for candidate in [bearer, header].into_iter().flatten() {
            presented = true;
            if constant_time_eq(candidate.trim().as_bytes(), self.secret.as_bytes()) {
                return Ok(());
            }
        }
        for value in headers.get_all(http::header::COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            for pair in value.split(';') {
                if let Some((name, cookie)) = pair.trim().split_once('=')
                    && name == SESSION_COOKIE
                {
                    presented = true;
                    if constant_time_eq(cookie.as_bytes(), self.session.as_bytes()) {
                        return Ok(());
                    }
                }
            }
        }
        Err(if presented { AdminRefusal::Wrong } else { AdminRefusal::Missing })
    }

    /// A one-time login link's `once` value, good for `lifetime` from now.
    pub fn login_nonce(&self, lifetime: Duration) -> String {
        let expires = unix_now().saturating_add(lifetime.as_secs());
        let mut random = [0u8; 16];
        rand::rng().fill_bytes(&mut random);
        let body = format!("{expires}.{}", hex(&random));
        let signature = hex(&mac(&self.secret, format!("login:{body}").as_bytes()));
        format!("{body}.{signature}")
    }

    /// Accepts a login link's `once` value once: signed with this token, not expired, not seen.
    pub fn redeem_login_nonce(&self, once: &str) -> Result<(), LoginLinkError> {
        let (body, signature) = once.rsplit_once('.').ok_or(LoginLinkError::Forged)?;
        let (expires, random) = body.split_once('.').ok_or(LoginLinkError::Forged)?;
        let expected = hex(&mac(&self.secret, format!("login:{body}").as_bytes()));
        if random.len() != 32 || !constant_time_eq(signature.as_bytes(), expected.as_bytes()) {
            return Err(LoginLinkError::Forged);
        }
        let expires: u64 = expires.parse().map_err(|_| LoginLinkError::Forged)?;
        let now = unix_now();
        if expires < now {
            return Err(LoginLinkError::Expired);
        }
        let mut used = self.used_links.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        used.retain(|_, until| *until >= now);
        if used.contains_key(random) {
            return Err(LoginLinkError::Used);
        }
        if used.len() >= MAX_REMEMBERED_LINKS {
            return Err(LoginLinkError::Busy);
        }
        used.insert(random.to_owned(), expires);
        Ok(())
    }
}

fn mac(key: &str, message: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length; the error case cannot occur.
    match HmacSha256::new_from_slice(key.as_bytes()) {
        Ok(mut mac) => {
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Equal in time that depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Writes a file that must not exist yet, readable by the user only from its first byte.
fn write_new(path: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(format!("{contents}\n").as_bytes())?;
    file.sync_all()
}

/// Narrows a token file others can read to the user.
fn restrict_to_user(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(file = %path.display(), "the admin token file was readable by others; made it 0600");
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_token_passes_as_bearer_header_or_cookie_and_nothing_else_does() {
        let token = AdminToken::generate();
        assert!(token.secret().starts_with("sya_") && token.secret().len() == 68);
        assert_eq!(token.check(&HeaderMap::new()), Err(AdminRefusal::Missing));
        assert_eq!(token.check(&headers("authorization", &format!("Bearer {}", token.secret()))), Ok(()));
        assert_eq!(token.check(&headers(ADMIN_TOKEN_HEADER, token.secret())), Ok(()));
        let cookie = format!("theme=dark; {SESSION_COOKIE}={}", token.session_value());
        assert_eq!(token.check(&headers("cookie", &cookie)), Ok(()));
        // The cookie is not the token, and the token is not a cookie.
        assert_ne!(token.session_value(), token.secret());
        assert_eq!(
            token.check(&headers("cookie", &format!("{SESSION_COOKIE}={}", token.secret()))),
            Err(AdminRefusal::Wrong)
        );
        assert_eq!(token.check(&headers("authorization", "Bearer sya_nope")), Err(AdminRefusal::Wrong));
        let other = AdminToken::generate();
        assert_eq!(token.check(&headers(ADMIN_TOKEN_HEADER, other.secret())), Err(AdminRefusal::Wrong));
        assert!(AdminAuth::Open.check(&HeaderMap::new()).is_ok());
    }

    #[test]
    fn a_login_link_works_once_and_only_for_its_token() {
        let token = AdminToken::generate();
        let once = token.login_nonce(Duration::from_secs(60));
        assert_eq!(AdminToken::generate().redeem_login_nonce(&once), Err(LoginLinkError::Forged));
        assert_eq!(token.redeem_login_nonce(&once), Ok(()));
        assert_eq!(token.redeem_login_nonce(&once), Err(LoginLinkError::Used));
        // A changed expiry breaks the signature.
        let fresh = token.login_nonce(Duration::from_secs(60));
        let (expires, rest) = fresh.split_once('.').unwrap();
        let later: u64 = expires.parse::<u64>().unwrap() + 3600;
        assert_eq!(token.redeem_login_nonce(&format!("{later}.{rest}")), Err(LoginLinkError::Forged));
        assert_eq!(token.redeem_login_nonce("garbage"), Err(LoginLinkError::Forged));
        assert_eq!(token.redeem_login_nonce(""), Err(LoginLinkError::Forged));
        let expired = token.login_nonce(Duration::ZERO);
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(token.redeem_login_nonce(&expired), Err(LoginLinkError::Expired));
    }

    #[cfg(unix)]
    #[test]
    fn the_token_file_is_made_once_for_the_user_only_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fresh").join("admin-token");
        let made = AdminToken::load_or_create(&path).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        let again = AdminToken::load_or_create(&path).unwrap();
        assert_eq!(made.secret(), again.secret());
        // Loosened by hand: narrowed again on the next start.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        AdminToken::load_or_create(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        std::fs::write(&path, "short\n").unwrap();
        assert!(matches!(AdminToken::load_or_create(&path), Err(AdminTokenError::Invalid { .. })));
    }
}
