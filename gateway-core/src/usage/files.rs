//! The usage log's files are the user's alone: prompts, answers and what each tool asked are in
//! them. The directory is created 0700, the database 0600 before SQLite opens it (SQLite gives
//! its `-wal` and `-shm` files the database's mode), and files left looser by an older build
//! are tightened.

use std::path::{Path, PathBuf};

use super::UsageError;

/// Creates the directory (0700, when it is created here) and the database file (0600), and
/// tightens existing files to 0600.
pub fn prepare(path: &Path) -> Result<(), UsageError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(|source| UsageError::Io { path: dir.to_owned(), source })?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(|source| UsageError::Io { path: path.to_owned(), source })?;
    tighten(path)
}

/// Sets the database and its `-wal` and `-shm` files (those that exist) to 0600.
pub fn tighten(path: &Path) -> Result<(), UsageError> {
    #[cfg(unix)]
    for file in [path.to_owned(), suffixed(path, "-wal"), suffixed(path, "-shm")] {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = std::fs::metadata(&file) else { continue };
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                .map_err(|source| UsageError::Io { path: file.clone(), source })?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}
