use super::*;

fn config_with_state(path: &std::path::Path) -> Config {
    let mut config = Config::default();
    config.routing.state_file = Some(path.to_owned());
    config
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn a_truncated_state_file_starts_in_local_only_and_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let truncated = br#"{"local_only": false, "task_classes": {"coding": {"chain": ["openai/gp"#;
    std::fs::write(&path, truncated).unwrap();
    let state = RoutingState::new(&config_with_state(&path));
    assert!(state.local_only(), "an unreadable state file must not turn local-only off");
    let problem = state.state_file_problem().unwrap();
    assert!(problem.contains("state.json") && problem.contains("local-only"), "{problem}");
    assert_eq!(std::fs::read(&path).unwrap(), truncated, "the bad file is not overwritten at start");
    let copies: Vec<String> =
        files_in(dir.path()).into_iter().filter(|n| n.starts_with("state.json.corrupt-")).collect();
    assert_eq!(copies.len(), 1, "{:?}", files_in(dir.path()));
    assert_eq!(std::fs::read(dir.path().join(&copies[0])).unwrap(), truncated);

    // The first change rewrites it, still in local-only mode, and the bad file is no backup.
    state.set_class("mine", TaskClassConfig::default()).unwrap();
    let again = RoutingState::new(&config_with_state(&path));
    assert!(again.local_only());
    assert!(again.state_file_problem().is_none());
    assert!(again.classes().contains_key("mine"));
    assert!(!dir.path().join("state.json.bak").exists());
}

#[test]
fn an_unreadable_file_falls_back_to_the_last_good_copy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let state = RoutingState::new(&config_with_state(&path));
    state.set_class("first", TaskClassConfig::default()).unwrap();
    state.set_class("second", TaskClassConfig::default()).unwrap();
    let names = files_in(dir.path());
    assert_eq!(names, ["state.json", "state.json.bak"], "no temporary file is left");
    std::fs::write(&path, b"").unwrap();
    let state = RoutingState::new(&config_with_state(&path));
    assert!(state.local_only());
    assert!(state.classes().contains_key("first"), "the backup's classes are restored");
    assert!(state.state_file_problem().unwrap().contains("state.json.bak"));
}

#[test]
fn a_missing_file_is_a_first_start() {
    let dir = tempfile::tempdir().unwrap();
    let state = RoutingState::new(&config_with_state(&dir.path().join("state.json")));
    assert!(!state.local_only());
    assert!(state.state_file_problem().is_none());
}
