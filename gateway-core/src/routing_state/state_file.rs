//! Reading and writing `state.json` so that neither a crash nor a bad file loses the user's
//! changes silently. A write goes to a temporary file with a name no other writer uses, is
//! fsynced, keeps the previous file as `<name>.bak`, is renamed into place, and the directory is
//! fsynced so the rename itself survives a power cut. A file that exists but cannot be read is
//! copied aside (`<name>.corrupt-<unix time>`) and reported; the last good copy (`.bak`) is used
//! when there is one.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::StateFile;

/// What was found at start.
pub(super) enum Loaded {
    /// No file yet: a first start.
    Missing,
    Read(StateFile),
    /// The file exists but could not be read; `saved` is the `.bak` copy's content when that
    /// one reads, else the defaults.
    Unreadable {
        saved: StateFile,
        problem: String,
    },
}

pub(super) fn load(path: &Path) -> Loaded {
    let error = match read(path) {
        Ok(Some(file)) => return Loaded::Read(file),
        Ok(None) => return Loaded::Missing,
        Err(error) => error,
    };
    let kept = keep_bad_copy(path);
    let backup = sibling(path, ".bak");
    let (saved, recovered) = match read(&backup) {
        Ok(Some(file)) => {
            (file, format!("restored the classes and providers of the last good copy {}", backup.display()))
        }
        _ => (StateFile::default(), "classes and providers added through the API are not loaded".to_owned()),
    };
    let kept = match kept {
        Ok(copy) => format!("a copy is kept at {}", copy.display()),
        Err(err) => format!("it could not be copied aside ({err})"),
    };
    let problem = format!(
        "the state file {} could not be read ({error}); {kept}; {recovered}; local-only mode is on until you change it; \
         the file is rewritten at the next change",
        path.display()
    );
    tracing::error!(problem = %problem, "STATE FILE UNREADABLE: starting in local-only mode");
    Loaded::Unreadable { saved, problem }
}

/// `Ok(None)`: no file.
fn read(path: &Path) -> Result<Option<StateFile>, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err.to_string()),
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|err| format!("invalid JSON: {err}"))
}

fn keep_bad_copy(path: &Path) -> std::io::Result<PathBuf> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let copy = sibling(path, &format!(".corrupt-{now}"));
    std::fs::copy(path, &copy)?;
    Ok(copy)
}

/// `state.json` + `suffix`, in the same directory.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

/// Temporary names differ between writers in this process (the counter) and between processes
/// (the pid), so two writers never write into the same temporary file.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

pub(super) fn write(path: &Path, file: &StateFile) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let text = serde_json::to_vec_pretty(file).map_err(std::io::Error::other)?;
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let temp = sibling(path, &format!(".tmp-{}-{n}", std::process::id()));
    let written = write_synced(&temp, &text).and_then(|()| {
        // The previous copy, for a start that finds the new one damaged; never a damaged one
        // over the last good backup. Best effort: the new file matters more than its backup.
        if matches!(read(path), Ok(Some(_)))
            && let Err(err) = std::fs::copy(path, sibling(path, ".bak")).and_then(|_| sync(&sibling(path, ".bak")))
        {
            tracing::warn!(path = %path.display(), %err, "could not keep a backup of the state file");
        }
        std::fs::rename(&temp, path)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written?;
    sync_dir(dir)
}

fn write_synced(path: &Path, text: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options.open(path)?;
    out.write_all(text)?;
    out.sync_all()
}

fn sync(path: &Path) -> std::io::Result<()> {
    File::open(path)?.sync_all()
}

/// Makes a rename in `dir` durable. Unix only: other systems cannot open a directory.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}
