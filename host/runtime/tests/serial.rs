//! The `serial` capability through the real runtime, against pseudo-terminals
//! standing in for a UPS on a serial line: the `serial-probe` plugin sends
//! `Q1\r` on every update and publishes the reply. The device's `port=` is a
//! symlink, so a test can unplug the "UPS" (close the pty) and plug a new one
//! in at the same path.

mod support;

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use hazel_runtime::Grants;
use hazel_state::{Availability, Snapshot};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use support::*;

/// What the simulated UPS answers to `Q1\r`.
const Q1_REPLY: &[u8] = b"(230.0 230.0 229.0 013 50.0 13.6 25.0 00001001\r";

/// A simulated Megatec UPS on the master side of a pseudo-terminal. Its slave
/// is the "serial port" the host opens. Dropping it closes the pty: the port
/// vanishes.
struct FakeUps {
    slave_path: PathBuf,
    /// Every byte the host sent.
    received: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    responder: Option<JoinHandle<()>>,
}

impl FakeUps {
    fn start() -> FakeUps {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let slave_path = nix::unistd::ttyname(&pty.slave).expect("ttyname of the pty slave");
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let responder = {
            let (received, stop) = (received.clone(), stop.clone());
            std::thread::spawn(move || respond(pty.master, pty.slave, &received, &stop))
        };
        FakeUps { slave_path, received, stop, responder: Some(responder) }
    }

    fn received(&self) -> Vec<u8> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for FakeUps {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(responder) = self.responder.take() {
            responder.join().expect("responder thread");
        }
    }
}

/// Answer every `Q1\r` on `master` until `stop`; keeps the test's own `slave`
/// descriptor open meanwhile, so the pty lives until the responder ends.
fn respond(master: OwnedFd, slave: OwnedFd, received: &Mutex<Vec<u8>>, stop: &AtomicBool) {
    let mut master = std::fs::File::from(master);
    let mut pending = Vec::new();
    let mut buf = [0u8; 256];
    while !stop.load(Ordering::SeqCst) {
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        if poll(&mut fds, PollTimeout::from(20u16)).expect("poll") == 0 {
            continue;
        }
        let n = match master.read(&mut buf) {
            Ok(n) => n,
            // EIO: no slave side open at the moment.
            Err(_) => {
                std::thread::sleep(std::time::Duration::from_millis(10));
                continue;
            }
        };
        received.lock().unwrap().extend_from_slice(&buf[..n]);
        pending.extend_from_slice(&buf[..n]);
        while let Some(end) = pending.iter().position(|&b| b == b'\r') {
            let command: Vec<u8> = pending.drain(..=end).collect();
            if command == b"Q1\r" {
                master.write_all(Q1_REPLY).expect("write the reply");
            }
        }
    }
    drop(slave);
}

/// Point the symlink `link` at `target`, replacing what it pointed at.
fn point(link: &Path, target: &Path) {
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(target, link).expect("symlink");
}

fn reply(s: &Snapshot) -> Option<&str> {
    s.var("test.reply").map(|v| v.value.as_str())
}

fn expected_reply() -> &'static str {
    std::str::from_utf8(Q1_REPLY.strip_suffix(b"\r").unwrap()).unwrap()
}

/// A device running serial-probe on the port at `link`.
async fn probe_device(name: &str, link: &Path) -> (hazel_runtime::DeviceHandle, Arc<hazel_state::DeviceState>) {
    let rt = runtime();
    let plugin = load(&rt, "serial_probe").await;
    let port = link.to_str().expect("a UTF-8 temp path");
    // A reply timeout well inside the test limits' 300 ms call budget.
    let grants = Grants::none().with_serial(port, link);
    spawn(&rt, device(name, plugin, grants, &[("port", port), ("timeout_ms", "200")]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_reaches_the_port_and_the_reply_is_published() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyUPS");
    let ups = FakeUps::start();
    point(&link, &ups.slave_path);

    let (_handle, state) = probe_device("ups", &link).await;
    let s = wait_for(&state, "the Q1 reply published", |s| reply(s) == Some(expected_reply())).await;
    assert_eq!(s.availability, Availability::Fresh);
    assert_eq!(s.var("ups.status").map(|v| v.value.as_str()), Some("OL"));
    let received = ups.received();
    assert!(received.starts_with(b"Q1\r"), "the UPS got {:?}", String::from_utf8_lossy(&received));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unplugged_port_goes_stale_naming_it_and_a_new_one_brings_data_back() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyUPS");
    let ups = FakeUps::start();
    point(&link, &ups.slave_path);
    let (_handle, state) = probe_device("ups", &link).await;
    wait_for(&state, "data from the first UPS", |s| reply(s).is_some()).await;

    // Unplug: the pty closes and its slave disappears.
    drop(ups);
    let port = link.display().to_string();
    let s = wait_for(&state, "stale naming the port", |s| stale_reason(s).is_some_and(|r| r.contains(&port))).await;
    let reason = stale_reason(&s).unwrap().to_string();
    assert!(reason.contains("unreachable"), "{reason}");
    let counter_before = counter(&state.snapshot());

    // Plug a new UPS in at the same path.
    let ups = FakeUps::start();
    point(&link, &ups.slave_path);
    let s = wait_for(&state, "data from the new UPS", |s| {
        s.availability == Availability::Fresh && counter(s) > counter_before
    })
    .await;
    assert_eq!(reply(&s), Some(expected_reply()));
    assert!(ups.received().starts_with(b"Q1\r"));
    // The same instance carried on (a restart would have reset the counter to 1):
    // nothing but the port was reopened.
    assert!(counter(&s) > 1, "counter restarted: {}", counter(&s));
    println!("stale while unplugged: {reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_missing_at_start_is_opened_once_it_appears() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyUPS");
    let (_handle, state) = probe_device("late", &link).await;
    let port = link.display().to_string();
    let s = wait_for(&state, "stale: port missing", |s| stale_reason(s).is_some_and(|r| r.contains(&port))).await;
    let reason = stale_reason(&s).unwrap().to_string();
    assert!(reason.contains("cannot open serial port"), "{reason}");

    let ups = FakeUps::start();
    point(&link, &ups.slave_path);
    wait_for(&state, "data once the port appears", |s| reply(s) == Some(expected_reply())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ungranted_serial_import_refuses_to_start() {
    let rt = runtime();
    let plugin = load(&rt, "serial_probe").await;
    // A file grant is not a serial grant.
    let grants = Grants::none().with_file("null.dev", "/dev/null");
    let (_handle, state) = spawn(&rt, device("noport", plugin, grants, &[("port", "/dev/ttyS0")]));
    let s = wait_for(&state, "refusal", |s| stale_reason(s).is_some()).await;
    let reason = stale_reason(&s).unwrap();
    for needle in
        ["device 'noport'", "plugin 'serial_probe'", "capability 'serial'", "hazel:plugin/serial@", "not granted"]
    {
        assert!(reason.contains(needle), "reason lacks {needle:?}: {reason}");
    }
}
