//! The log's durability and bounds: private files, retried writes, a body budget.

use std::time::{Duration, Instant};

use super::*;

const DAY: Duration = Duration::from_secs(86_400);

fn row(model: &str) -> LogEntry {
    LogEntry {
        family: "openai".into(),
        endpoint: "/v1/chat/completions".into(),
        model: Some(model.into()),
        ..LogEntry::default()
    }
}

fn row_with_bodies(model: &str, bytes: usize) -> LogEntry {
    let mut bodies = StoredBodies::new(bytes);
    bodies.add_request(&vec![b'q'; bytes / 2]);
    bodies.add_response(&vec![b'a'; bytes / 2]);
    LogEntry { bodies: Some(Box::new(bodies)), bodies_stored: true, ..row(model) }
}

fn count(log: &UsageLog, sql: &str) -> i64 {
    log.reader().lock().unwrap().query_row(sql, [], |r| r.get(0)).unwrap()
}

#[cfg(unix)]
#[test]
fn the_files_are_the_users_alone() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new-dir").join("usage.sqlite3");
    let log = UsageLog::open(&path, DAY).unwrap();
    log.push(row("m"));
    log.flush().unwrap();
    assert_eq!(mode(&dir.path().join("new-dir")), 0o700);
    for name in ["usage.sqlite3", "usage.sqlite3-wal", "usage.sqlite3-shm"] {
        assert_eq!(mode(&dir.path().join("new-dir").join(name)), 0o600, "{name}");
    }
    log.close();

    // Files an older build left readable to others are tightened at the next open.
    for name in ["usage.sqlite3", "usage.sqlite3-wal", "usage.sqlite3-shm"] {
        let file = dir.path().join("new-dir").join(name);
        if file.exists() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let log = UsageLog::open(&path, DAY).unwrap();
    assert_eq!(mode(&path), 0o600);
    log.close();
}

#[test]
fn a_failed_batch_is_retried_not_dropped() {
    let log = UsageLog::open(Path::new(":memory:"), DAY).unwrap();
    // A trigger makes every insert fail while `block` has a row: a database that is locked or
    // full for a moment.
    log.reader()
        .lock()
        .unwrap()
        .execute_batch(
            "CREATE TABLE block (x); INSERT INTO block VALUES (1);
             CREATE TRIGGER refuse BEFORE INSERT ON requests WHEN EXISTS (SELECT 1 FROM block)
             BEGIN SELECT RAISE(ABORT, 'blocked'); END;",
        )
        .unwrap();
    log.push(row("kept"));
    let started = Instant::now();
    while log.write_failures() == 0 {
        assert!(started.elapsed() < Duration::from_secs(5), "the write never failed");
        std::thread::sleep(Duration::from_millis(5));
    }
    log.reader().lock().unwrap().execute_batch("DELETE FROM block;").unwrap();
    log.flush().unwrap();
    assert_eq!(count(&log, "SELECT count(*) FROM requests WHERE model = 'kept'"), 1);
    assert_eq!(log.dropped(), 0);
    log.close();
}

#[test]
fn a_batch_that_keeps_failing_is_lost_after_the_last_try_and_counted() {
    let log = UsageLog::open(Path::new(":memory:"), DAY).unwrap();
    log.reader()
        .lock()
        .unwrap()
        .execute_batch("CREATE TRIGGER refuse BEFORE INSERT ON requests BEGIN SELECT RAISE(ABORT, 'full'); END;")
        .unwrap();
    log.push(row("lost"));
    log.flush().unwrap();
    assert_eq!(log.write_failures(), u64::from(super::writer::WRITE_ATTEMPTS));
    assert_eq!(log.dropped(), 1);
    log.close();
}

#[test]
fn queued_bodies_are_bounded_in_bytes_and_dropped_first() {
    let log = UsageLog::open(Path::new(":memory:"), DAY).unwrap().with_body_queue_limit(1000);
    // Holding the connection stalls the writer: nothing queued is written meanwhile.
    let reader = log.reader();
    let held = reader.lock().unwrap();
    let started = Instant::now();
    for model in ["first", "second", "third"] {
        assert!(log.push(row_with_bodies(model, 600)), "the row itself is queued");
    }
    assert!(started.elapsed() < Duration::from_millis(500), "push never waits");
    assert_eq!(log.bodies_dropped(), 2, "600 + 600 > 1000: the later bodies are dropped");
    drop(held);
    log.flush().unwrap();
    assert_eq!(count(&log, "SELECT count(*) FROM requests"), 3);
    assert_eq!(count(&log, "SELECT count(*) FROM bodies"), 1);
    // The budget is freed once written: bodies are queued again.
    assert!(log.push(row_with_bodies("fourth", 600)));
    log.flush().unwrap();
    assert_eq!(log.bodies_dropped(), 2);
    assert_eq!(count(&log, "SELECT count(*) FROM bodies"), 2);
    log.close();
}
