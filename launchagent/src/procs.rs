//! Which processes belong to a server, and what they use. The snapshot is plain data so the
//! matching rules are tested without sysinfo.

use std::{collections::HashSet, path::Path, thread};

use serde::{Deserialize, Serialize};
use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

#[derive(Debug, Clone, PartialEq)]
pub struct ProcInfo {
    pub pid: u32,
    pub parent: Option<u32>,
    pub name: String,
    pub cmd: Vec<String>,
    /// Percent of one core since the previous snapshot.
    pub cpu_percent: f32,
    pub rss_bytes: u64,
    pub run_time_secs: u64,
}

/// What a server's processes use together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessUsage {
    pub pids: Vec<u32>,
    /// Percent of one core, summed over the processes (can exceed 100).
    pub cpu_percent: f32,
    pub rss_bytes: u64,
}

/// Keeps one `System` between calls: CPU use is measured between two refreshes, so a sampler
/// that lives as long as the facade gives "CPU since the last status call" for free.
#[derive(Default)]
pub struct ProcessSampler {
    system: Option<System>,
}

impl ProcessSampler {
    pub fn snapshot(&mut self) -> Vec<ProcInfo> {
        let kind = ProcessRefreshKind::nothing().with_cpu().with_memory().with_cmd(UpdateKind::OnlyIfNotSet);
        let system = match &mut self.system {
            Some(system) => system,
            None => {
                let Ok(system) = System::new() else {
                    tracing::warn!("the process table cannot be read on this system");
                    return Vec::new();
                };
                let system = self.system.insert(system);
                // The first refresh has nothing to compare CPU time against.
                system.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
                thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
                system
            }
        };
        system.refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
        system
            .processes()
            .values()
            // Threads are listed as processes on Linux; they would double-count memory.
            .filter(|p| p.thread_kind().is_none())
            .map(|p| ProcInfo {
                pid: p.pid().as_u32(),
                parent: p.parent().map(|pp| pp.as_u32()),
                name: p.name().to_string_lossy().into_owned(),
                cmd: p.cmd().iter().map(|a| a.to_string_lossy().into_owned()).collect(),
                cpu_percent: p.cpu_usage(),
                rss_bytes: p.memory(),
                run_time_secs: p.run_time(),
            })
            .collect()
    }
}

/// `root` and every process below it: `ollama serve` loads models in `ollama runner` children,
/// and that is where the memory is.
pub fn process_tree(procs: &[ProcInfo], root: u32) -> Vec<&ProcInfo> {
    let mut members: HashSet<u32> = HashSet::from([root]);
    // Parents can appear after children in the table; repeat until nothing is added.
    loop {
        let before = members.len();
        for p in procs {
            if p.parent.is_some_and(|pp| members.contains(&pp)) {
                members.insert(p.pid);
            }
        }
        if members.len() == before {
            break;
        }
    }
    procs.iter().filter(|p| members.contains(&p.pid)).collect()
}

/// vllm-mlx runs as the Python interpreter (`python3 /…/bin/vllm-mlx serve …`), so it is found by
/// its command line: an argument whose file name is `vllm-mlx`, followed by `serve`.
pub fn is_vllm_mlx_server(p: &ProcInfo) -> bool {
    let Some(i) = p.cmd.iter().position(|a| file_name(a) == "vllm-mlx") else { return false };
    p.cmd.get(i + 1).is_some_and(|a| a == "serve")
}

/// `ollama serve`, whatever launched it.
pub fn is_ollama_server(p: &ProcInfo) -> bool {
    let program = p.cmd.first().map(|a| file_name(a)).unwrap_or(p.name.as_str());
    (program == "ollama" || p.name == "ollama") && p.cmd.get(1).is_some_and(|a| a == "serve")
}

/// The Ollama menu-bar app's own process (it starts `ollama serve` itself).
pub fn is_ollama_app(p: &ProcInfo) -> bool {
    p.cmd.first().is_some_and(|a| a.contains("/Ollama.app/Contents/MacOS/"))
}

fn file_name(arg: &str) -> &str {
    Path::new(arg).file_name().and_then(|n| n.to_str()).unwrap_or(arg)
}

pub fn usage(procs: &[&ProcInfo]) -> Option<ProcessUsage> {
    if procs.is_empty() {
        return None;
    }
    let mut pids: Vec<u32> = procs.iter().map(|p| p.pid).collect();
    pids.sort_unstable();
    Some(ProcessUsage {
        pids,
        cpu_percent: procs.iter().map(|p| p.cpu_percent).sum(),
        rss_bytes: procs.iter().map(|p| p.rss_bytes).sum(),
    })
}

#[cfg(test)]
pub(crate) fn proc_info(pid: u32, parent: Option<u32>, cmd: &[&str]) -> ProcInfo {
    ProcInfo {
        pid,
        parent,
        name: cmd.first().map(|c| file_name(c).to_owned()).unwrap_or_default(),
        cmd: cmd.iter().map(|s| (*s).to_owned()).collect(),
        cpu_percent: 10.0,
        rss_bytes: 1000,
        run_time_secs: 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_includes_grandchildren_listed_before_parents() {
        let procs = vec![
            proc_info(30, Some(20), &["ollama", "runner"]),
            proc_info(20, Some(10), &["ollama", "serve"]),
            proc_info(10, Some(1), &["launchd"]),
            proc_info(21, Some(1), &["other"]),
        ];
        let tree: Vec<u32> = process_tree(&procs, 20).iter().map(|p| p.pid).collect();
        assert_eq!(tree.len(), 2);
        assert!(tree.contains(&20) && tree.contains(&30));
        let u = usage(&process_tree(&procs, 20)).expect("usage");
        assert_eq!(u.pids, [20, 30]);
        assert_eq!(u.rss_bytes, 2000);
        assert!((u.cpu_percent - 20.0).abs() < f32::EPSILON);
        assert!(usage(&[]).is_none());
    }

    #[test]
    fn recognises_servers_by_command_line() {
        let vllm = proc_info(1, None, &["/usr/bin/python3", "/Users/ada/.local/bin/vllm-mlx", "serve", "m"]);
        assert!(is_vllm_mlx_server(&vllm));
        assert!(!is_vllm_mlx_server(&proc_info(2, None, &["switchyard-local", "logs", "vllm-mlx"])));
        assert!(!is_vllm_mlx_server(&proc_info(3, None, &["vim", "vllm-mlx.log"])));

        assert!(is_ollama_server(&proc_info(4, None, &["/opt/homebrew/bin/ollama", "serve"])));
        assert!(!is_ollama_server(&proc_info(5, None, &["/opt/homebrew/bin/ollama", "run", "llama3"])));
        assert!(is_ollama_app(&proc_info(6, None, &["/Applications/Ollama.app/Contents/MacOS/Ollama"])));
    }

    /// A real process whose command line looks like vllm-mlx under an interpreter is found in a
    /// real snapshot, with its memory and run time.
    #[cfg(unix)]
    #[test]
    fn finds_a_real_vllm_mlx_lookalike() {
        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("vllm-mlx");
        std::fs::write(&script, "sleep 30\n").expect("write");
        let mut child =
            std::process::Command::new("/bin/sh").arg(&script).args(["serve", "some/model"]).spawn().expect("spawn");
        let pid = child.id();
        let mut sampler = ProcessSampler::default();
        let mut found = None;
        for _ in 0..50 {
            let snap = sampler.snapshot();
            found = snap.into_iter().find(|p| p.pid == pid && is_vllm_mlx_server(p));
            if found.is_some() {
                break;
            }
            thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        let found = found.expect("the lookalike is found by its command line");
        assert!(found.rss_bytes > 0);
    }
}
