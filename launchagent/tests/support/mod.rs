//! Fake `launchctl` and `systemctl`: small shell scripts that log every call and keep the
//! service manager's state in files, so the backends run their real code paths (spawn, parse,
//! poll) against something that behaves like the real tool, including its failure modes.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use launchagent::{CommandRunner, LaunchdBackend, SystemRunner, SystemdBackend};

pub const UID: u32 = 501;

pub fn write_exe(path: &Path, body: &str) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, body).expect("write script");
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn read_calls(state: &Path) -> Vec<String> {
    fs::read_to_string(state.join("calls")).unwrap_or_default().lines().map(str::to_owned).collect()
}

pub fn runner() -> Arc<dyn CommandRunner> {
    Arc::new(SystemRunner::with_timeout(Duration::from_secs(20)))
}

/// A fake launchctl. State files in `state/`: `loaded.<label>` (the plist it loaded),
/// `running.<label>` (pid), `disabled.<label>`, `lingering.<label>` (prints left before a
/// booted-out job is really gone), `runs.<label>`.
pub struct FakeLaunchctl {
    pub program: PathBuf,
    pub state: PathBuf,
}

const LAUNCHCTL_SCRIPT: &str = r#"#!/bin/sh
S='@STATE@'
echo "$*" >> "$S/calls"
label_of() { echo "${1##*/}"; }
pid_for() { cat "$S/pid.$1" 2>/dev/null || cat "$S/pid" 2>/dev/null || echo 4242; }
start_job() {
  echo "$(pid_for "$1")" > "$S/running.$1"
  runs=$(cat "$S/runs.$1" 2>/dev/null || echo 0); echo $((runs + 1)) > "$S/runs.$1"
}
case "$1" in
  enable) rm -f "$S/disabled.$(label_of "$2")"; exit 0 ;;
  disable) touch "$S/disabled.$(label_of "$2")"; exit 0 ;;
  bootstrap)
    plist="$3"; l=$(basename "$plist" .plist)
    if [ "$2" != "gui/@UID@" ]; then echo "Bootstrap failed: 125: Domain does not support specified action" >&2; exit 125; fi
    if [ -f "$S/bootstrap_error" ]; then cat "$S/bootstrap_error" >&2; exit 5; fi
    if [ -f "$S/loaded.$l" ]; then echo "Bootstrap failed: 5: Input/output error" >&2; exit 5; fi
    if [ -f "$S/disabled.$l" ]; then echo "Bootstrap failed: 119: Service is disabled" >&2; exit 119; fi
    if [ ! -f "$plist" ]; then echo "Bootstrap failed: 2: No such file or directory" >&2; exit 2; fi
    cp "$plist" "$S/loaded.$l"
    if grep -A1 '<key>RunAtLoad</key>' "$plist" | grep -q '<true/>'; then start_job "$l"; fi
    exit 0 ;;
  bootout)
    l=$(label_of "$2")
    if [ ! -f "$S/loaded.$l" ]; then echo "Boot-out failed: 3: No such process" >&2; exit 3; fi
    rm -f "$S/running.$l"
    linger=$(cat "$S/linger" 2>/dev/null || echo 0)
    if [ "$linger" -gt 0 ]; then echo "$linger" > "$S/lingering.$l"; else rm -f "$S/loaded.$l"; fi
    exit 0 ;;
  print)
    l=$(label_of "$2")
    if [ -f "$S/lingering.$l" ]; then
      n=$(($(cat "$S/lingering.$l") - 1))
      if [ "$n" -le 0 ]; then rm -f "$S/lingering.$l" "$S/loaded.$l"; else echo "$n" > "$S/lingering.$l"; fi
    fi
    if [ ! -f "$S/loaded.$l" ]; then
      echo "Could not find service \"$l\" in domain for user gui: @UID@" >&2; exit 113
    fi
    printf '%s = {\n\tactive count = 1\n\tpath = /Users/ada/Library/LaunchAgents/%s.plist\n\ttype = LaunchAgent\n' "$2" "$l"
    if [ -f "$S/running.$l" ]; then printf '\tstate = running\n'; else printf '\tstate = not running\n'; fi
    printf '\n\tprogram = /usr/local/bin/server\n\targuments = {\n\t\t/usr/local/bin/server\n\t\tserve\n\t}\n\n'
    printf '\tdomain = gui/@UID@ [100005]\n\tminimum runtime = 10\n\texit timeout = 5\n'
    printf '\truns = %s\n' "$(cat "$S/runs.$l" 2>/dev/null || echo 0)"
    if [ -f "$S/running.$l" ]; then printf '\tpid = %s\n' "$(cat "$S/running.$l")"; fi
    if [ -f "$S/exit.$l" ]; then printf '\tlast exit code = %s\n' "$(cat "$S/exit.$l")"; else printf '\tlast exit code = (never exited)\n'; fi
    printf '\n\tendpoints = {\n\t}\n\n\tproperties = keepalive | runatload | inferred program\n}\n'
    exit 0 ;;
  kickstart)
    if [ "$2" = "-k" ]; then t="$3"; else t="$2"; fi
    l=$(label_of "$t")
    if [ ! -f "$S/loaded.$l" ]; then echo "Could not find service \"$l\" in domain for user gui: @UID@" >&2; exit 113; fi
    if [ "$2" = "-k" ] || [ ! -f "$S/running.$l" ]; then start_job "$l"; fi
    exit 0 ;;
  *) echo "Unrecognized subcommand: $1" >&2; exit 64 ;;
esac
"#;

impl FakeLaunchctl {
    pub fn new(dir: &Path) -> Self {
        let state = dir.join("launchctl-state");
        fs::create_dir_all(&state).expect("state dir");
        let program = dir.join("bin/launchctl");
        let script = LAUNCHCTL_SCRIPT.replace("@STATE@", &state.to_string_lossy()).replace("@UID@", &UID.to_string());
        write_exe(&program, &script);
        Self { program, state }
    }

    pub fn backend(&self, agents_dir: &Path) -> LaunchdBackend {
        LaunchdBackend::new(agents_dir, UID, runner())
            .with_launchctl(&self.program)
            .with_unload_wait(Duration::from_secs(5), Duration::from_millis(10))
    }

    pub fn calls(&self) -> Vec<String> {
        read_calls(&self.state)
    }

    pub fn clear_calls(&self) {
        let _ = fs::remove_file(self.state.join("calls"));
    }

    /// After a bootout, `print` still shows the job this many times (launchd tearing it down).
    pub fn set_linger(&self, prints: u32) {
        fs::write(self.state.join("linger"), prints.to_string()).expect("write");
    }

    pub fn fail_bootstrap_with(&self, stderr: &str) {
        fs::write(self.state.join("bootstrap_error"), stderr).expect("write");
    }

    /// The pid the next start of `label` reports.
    pub fn set_pid(&self, label: &str, pid: u32) {
        fs::write(self.state.join(format!("pid.{label}")), pid.to_string()).expect("write");
    }

    /// Pretends another tool loaded and started `label` (e.g. Homebrew's Ollama).
    pub fn load_foreign(&self, label: &str, pid: u32) {
        fs::write(self.state.join(format!("loaded.{label}")), "").expect("write");
        fs::write(self.state.join(format!("running.{label}")), pid.to_string()).expect("write");
    }

    pub fn is_loaded(&self, label: &str) -> bool {
        self.state.join(format!("loaded.{label}")).exists()
    }

    pub fn is_disabled(&self, label: &str) -> bool {
        self.state.join(format!("disabled.{label}")).exists()
    }
}

/// A fake systemctl. `--user` calls act on units that the last `daemon-reload` saw in the unit
/// directory (`known.<unit>`), so forgetting the reload fails like the real thing. Without
/// `--user` it answers `is-active` for the system manager from `system-active.<unit>`.
pub struct FakeSystemctl {
    pub program: PathBuf,
    pub state: PathBuf,
}

const SYSTEMCTL_SCRIPT: &str = r#"#!/bin/sh
S='@STATE@'
UNITS='@UNITS@'
echo "$*" >> "$S/calls"
if [ "$1" != "--user" ]; then
  if [ "$1" = "is-active" ]; then
    if [ -f "$S/system-active.$2" ]; then echo active; exit 0; fi
    echo inactive; exit 3
  fi
  echo "fake systemctl: only is-active in system scope" >&2; exit 1
fi
shift
if [ -f "$S/no_bus" ]; then echo "Failed to connect to bus: No medium found" >&2; exit 1; fi
known() { [ -f "$S/known.$1" ]; }
start_unit() {
  pid=$(cat "$S/pid" 2>/dev/null || echo 23817)
  runs=$(cat "$S/runs.$1" 2>/dev/null || echo 0); runs=$((runs + 1)); echo "$runs" > "$S/runs.$1"
  echo $((pid + runs - 1)) > "$S/active.$1"; rm -f "$S/failed.$1"
}
case "$1" in
  daemon-reload)
    rm -f "$S"/known.*
    for f in "$UNITS"/*.service; do [ -f "$f" ] && touch "$S/known.$(basename "$f")"; done
    exit 0 ;;
  enable|disable)
    verb="$1"; shift; now=0
    if [ "$1" = "--now" ]; then now=1; shift; fi
    u="$1"
    if ! known "$u"; then echo "Failed to $verb unit: Unit file $u does not exist." >&2; exit 1; fi
    if [ "$verb" = enable ]; then
      touch "$S/enabled.$u"; if [ $now = 1 ] && [ ! -f "$S/active.$u" ]; then start_unit "$u"; fi
    else
      rm -f "$S/enabled.$u"; if [ $now = 1 ]; then rm -f "$S/active.$u"; fi
    fi
    exit 0 ;;
  start|restart)
    u="$2"
    if ! known "$u"; then echo "Failed to $1 $u: Unit $u not found." >&2; exit 5; fi
    if [ "$1" = restart ] || [ ! -f "$S/active.$u" ]; then start_unit "$u"; fi
    exit 0 ;;
  stop) rm -f "$S/active.$2"; exit 0 ;;
  reset-failed) rm -f "$S/failed.$2"; exit 0 ;;
  show)
    u="$2"
    if [ -f "$S/active.$u" ]; then pid=$(cat "$S/active.$u"); else pid=0; fi
    echo "MainPID=$pid"
    echo "ExecMainStartTimestampMonotonic=91234567890"
    if [ -f "$S/failed.$u" ]; then
      echo "ExecMainCode=1"; echo "ExecMainStatus=$(cat "$S/failed.$u")"
    else
      echo "ExecMainCode=0"; echo "ExecMainStatus=0"
    fi
    if known "$u"; then echo "LoadState=loaded"; else echo "LoadState=not-found"; fi
    if [ -f "$S/active.$u" ]; then echo "ActiveState=active"; echo "SubState=running"
    elif [ -f "$S/failed.$u" ]; then echo "ActiveState=failed"; echo "SubState=failed"
    else echo "ActiveState=inactive"; echo "SubState=dead"; fi
    if [ -f "$S/enabled.$u" ]; then echo "UnitFileState=enabled"; elif known "$u"; then echo "UnitFileState=disabled"; else echo "UnitFileState="; fi
    exit 0 ;;
  *) echo "Unknown command verb $1." >&2; exit 1 ;;
esac
"#;

impl FakeSystemctl {
    pub fn new(dir: &Path, unit_dir: &Path) -> Self {
        let state = dir.join("systemctl-state");
        fs::create_dir_all(&state).expect("state dir");
        let program = dir.join("bin/systemctl");
        let script = SYSTEMCTL_SCRIPT
            .replace("@STATE@", &state.to_string_lossy())
            .replace("@UNITS@", &unit_dir.to_string_lossy());
        write_exe(&program, &script);
        Self { program, state }
    }

    pub fn backend(&self, unit_dir: &Path) -> SystemdBackend {
        SystemdBackend::new(unit_dir, runner()).with_systemctl(&self.program)
    }

    pub fn calls(&self) -> Vec<String> {
        read_calls(&self.state)
    }

    pub fn clear_calls(&self) {
        let _ = fs::remove_file(self.state.join("calls"));
    }

    /// The unit's main process exits with `code` (systemd marks it failed).
    pub fn fail_unit(&self, unit: &str, code: i32) {
        let _ = fs::remove_file(self.state.join(format!("active.{unit}")));
        fs::write(self.state.join(format!("failed.{unit}")), code.to_string()).expect("write");
    }

    pub fn set_no_bus(&self) {
        fs::write(self.state.join("no_bus"), "").expect("write");
    }

    pub fn set_system_active(&self, unit: &str) {
        fs::write(self.state.join(format!("system-active.{unit}")), "").expect("write");
    }

    pub fn is_enabled(&self, unit: &str) -> bool {
        self.state.join(format!("enabled.{unit}")).exists()
    }

    pub fn is_active(&self, unit: &str) -> bool {
        self.state.join(format!("active.{unit}")).exists()
    }
}
