//! Every external command (launchctl, systemctl, id, ioreg) goes through [`CommandRunner`], so the
//! backends can be driven against fake programs in tests and their exact calls checked.

use std::{
    io::Read,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use crate::error::ServerError;

/// What a finished command said. `code` is `None` when it was killed by a signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CommandOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

pub trait CommandRunner: Send + Sync {
    /// Runs `program` with `args`, no stdin, and waits for it. A non-zero exit is an `Ok`
    /// output: the caller knows which codes mean what.
    fn run(&self, program: &Path, args: &[&str]) -> Result<CommandOutput, ServerError>;
}

/// Runs commands with `std::process`, killing any that outlive the timeout: launchctl can hang
/// when launchd is busy, and a hung status call must not hang the gateway's admin API.
#[derive(Debug, Clone)]
pub struct SystemRunner {
    timeout: Duration,
}

impl SystemRunner {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    pub fn new() -> Self {
        Self { timeout: Self::DEFAULT_TIMEOUT }
    }

    pub fn with_timeout(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl Default for SystemRunner {
    fn default() -> Self {
        Self::new()
    }
}

impl CommandRunner for SystemRunner {
    fn run(&self, program: &Path, args: &[&str]) -> Result<CommandOutput, ServerError> {
        let spawn_err = |source| ServerError::Spawn { program: program.to_path_buf(), source };
        tracing::debug!(program = %program.display(), ?args, "running");
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_err)?;

        // Drain both pipes on their own threads so a chatty child cannot block on a full pipe
        // while we wait for it to exit.
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);

        let deadline = Instant::now() + self.timeout;
        let mut pause = Duration::from_millis(1);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    // The reader threads are left to finish on their own: a grandchild may still
                    // hold the pipes open.
                    return Err(ServerError::CommandTimedOut { program: program.to_path_buf(), after: self.timeout });
                }
                Ok(None) => {
                    thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Err(e) => return Err(spawn_err(e)),
            }
        };
        Ok(CommandOutput {
            code: status.code(),
            stdout: stdout.map(join).unwrap_or_default(),
            stderr: stderr.map(join).unwrap_or_default(),
        })
    }
}

fn drain<R: Read + Send + 'static>(mut pipe: R) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

fn join(handle: thread::JoinHandle<Vec<u8>>) -> String {
    handle.join().map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
}

/// The user id for launchd's `gui/<uid>` domain, without libc: `id -u` through the runner, and
/// the owner of the home directory if `id` cannot be run.
pub fn current_uid(runner: &dyn CommandRunner, home: &Path) -> Result<u32, ServerError> {
    let id = PathBuf::from("/usr/bin/id");
    match runner.run(&id, &["-u"]) {
        Ok(out) if out.success() => out.stdout.trim().parse().map_err(|_| ServerError::UnexpectedOutput {
            program: "id -u".into(),
            reason: format!("not a user id: {:?}", out.stdout.trim()),
        }),
        other => {
            tracing::debug!(?other, "`id -u` failed; using the home directory's owner");
            home_owner(home)
        }
    }
}

#[cfg(unix)]
fn home_owner(home: &Path) -> Result<u32, ServerError> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(home).map(|m| m.uid()).map_err(|e| ServerError::io("read the owner of", home, e))
}

#[cfg(not(unix))]
fn home_owner(_home: &Path) -> Result<u32, ServerError> {
    Err(ServerError::UnexpectedOutput { program: "id -u".into(), reason: "user ids exist only on unix".into() })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn captures_code_stdout_and_stderr() {
        let out =
            SystemRunner::new().run(Path::new("/bin/sh"), &["-c", "echo out; echo err >&2; exit 5"]).expect("sh runs");
        assert_eq!(out, CommandOutput { code: Some(5), stdout: "out\n".into(), stderr: "err\n".into() });
        assert!(!out.success());
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let err = SystemRunner::new().run(Path::new("/nonexistent/launchctl"), &[]).unwrap_err();
        assert!(matches!(err, ServerError::Spawn { .. }), "{err}");
    }

    #[test]
    fn hung_command_is_killed_at_the_timeout() {
        let started = Instant::now();
        let err =
            SystemRunner::with_timeout(Duration::from_millis(200)).run(Path::new("/bin/sleep"), &["10"]).unwrap_err();
        assert!(matches!(err, ServerError::CommandTimedOut { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn uid_comes_from_id() {
        let uid = current_uid(&SystemRunner::new(), Path::new("/")).expect("uid");
        let expected = SystemRunner::new().run(Path::new("/usr/bin/id"), &["-u"]).expect("id");
        assert_eq!(uid.to_string(), expected.stdout.trim());
    }
}
