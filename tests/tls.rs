//! STARTTLS with a real peer: Debian's `upsc` (libupsclient built with NSS,
//! which sends `STARTTLS` first and, without a certificate database, switches
//! to TLS without verifying the server) against `hazel serve` with upsd.conf's
//! `CERTFILE`. A relay between them records the bytes, proving the session
//! really went to TLS; and `[tls]` in hazel.toml, bad certificate files.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hazel_e2e::*;

const DEVICE: &str = "APC__Back-UPS_BK650M2-CH__usbhid-ups__2.8.0__01.dev";

fn dev_file() -> PathBuf {
    repo_root().join("../shared/data/nut-ddl").join(DEVICE)
}

fn ups_conf() -> String {
    format!("[apc]\n\tdriver = dummy-ups\n\tport = {DEVICE}\n")
}

/// A self-signed certificate for `localhost` and its key, as PEM.
struct Certificate {
    cert: String,
    key: String,
}

fn certificate() -> Certificate {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    Certificate { cert: certified.cert.pem(), key: certified.signing_key.serialize_pem() }
}

/// Start `hazel serve` with the device and `extra` configuration, after
/// `prepare` wrote its files; waits until the device has data.
fn serve(extra: ExtraConfig<'_>, prepare: impl FnOnce(&Path)) -> HazelServe {
    let server = HazelServe::start_with(&ups_conf(), E2E_USERS, extra, |dir| {
        std::fs::copy(dev_file(), dir.join(DEVICE)).expect("copy the device file");
        prepare(dir);
    });
    eventually("device data", || nut_tool("upsc", &[&server.ups("apc"), "ups.status"]).status.success());
    server
}

/// Bytes one connection carried, each way.
#[derive(Default)]
struct Capture {
    from_client: Vec<u8>,
    from_server: Vec<u8>,
}

/// A TCP relay on a free loopback port to `target`, recording every
/// connection's bytes. Stops accepting on drop.
struct Relay {
    port: u16,
    captures: Arc<Mutex<Vec<Arc<Mutex<Capture>>>>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl Relay {
    fn to(target: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("relay listener");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let port = listener.local_addr().expect("relay address").port();
        let captures: Arc<Mutex<Vec<Arc<Mutex<Capture>>>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (all, stopping) = (captures.clone(), stop.clone());
        let acceptor = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                let client = match listener.accept() {
                    Ok((client, _)) => client,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                };
                client.set_nonblocking(false).expect("blocking relay socket");
                let server = TcpStream::connect(("127.0.0.1", target)).expect("relay connects to hazel");
                let capture = Arc::new(Mutex::new(Capture::default()));
                all.lock().unwrap().push(capture.clone());
                let (client2, server2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let upstream = capture.clone();
                std::thread::spawn(move || pump(client, server, &upstream, |c| &mut c.from_client));
                std::thread::spawn(move || pump(server2, client2, &capture, |c| &mut c.from_server));
            }
        });
        Relay { port, captures, stop, acceptor: Some(acceptor) }
    }

    /// The connections so far, once each has been closed by both sides.
    fn finished_captures(&self, count: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        eventually("relayed connections", || self.captures.lock().unwrap().len() >= count);
        let captures = self.captures.lock().unwrap().clone();
        // Each pump holds its capture until its direction closes.
        eventually("relayed connections to close", || captures.iter().all(|c| Arc::strong_count(c) == 2));
        captures
            .iter()
            .map(|c| {
                let c = c.lock().unwrap();
                (c.from_client.clone(), c.from_server.clone())
            })
            .collect()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Copy `from` to `to`, recording the bytes, until either side closes.
fn pump(mut from: TcpStream, mut to: TcpStream, capture: &Arc<Mutex<Capture>>, side: fn(&mut Capture) -> &mut Vec<u8>) {
    let mut buffer = [0u8; 4096];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(count) => {
                side(&mut capture.lock().unwrap()).extend_from_slice(&buffer[..count]);
                if to.write_all(&buffer[..count]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Whether `bytes` start with a TLS handshake record header (type 22, version 3.x).
fn is_tls_handshake(bytes: &[u8]) -> bool {
    bytes.len() > 5 && bytes[0] == 0x16 && bytes[1] == 0x03
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

#[test]
fn upsc_switches_to_tls_with_certfile() {
    let pem = certificate();
    let extra = ExtraConfig { upsd_conf: "CERTFILE upsd.pem\n", ..ExtraConfig::default() };
    let tls_server =
        serve(extra, |dir| std::fs::write(dir.join("upsd.pem"), format!("{}{}", pem.cert, pem.key)).unwrap());
    let plain_server = serve(ExtraConfig::default(), |_| {});
    let relay = Relay::to(tls_server.port);

    let over_tls = nut_tool("upsc", &[&format!("apc@127.0.0.1:{}", relay.port)]);
    assert!(over_tls.status.success(), "upsc over TLS failed: {}", said(&over_tls));
    let in_plain_text = nut_tool("upsc", &[&plain_server.ups("apc")]);
    assert_eq!(stdout(&over_tls), stdout(&in_plain_text), "same listing over TLS and in plain text");
    // The client's own account of the connection.
    let client_said = String::from_utf8_lossy(&over_tls.stderr);
    assert!(client_said.contains("in SSL"), "upsc did not report a TLS connection: {client_said}");

    // On the wire: STARTTLS in plain text, then only TLS records both ways.
    let captures = relay.finished_captures(1);
    let (from_client, from_server) = &captures[0];
    let client_rest = from_client.strip_prefix(b"STARTTLS\n").expect("upsc starts with STARTTLS");
    let server_rest = from_server.strip_prefix(b"OK STARTTLS\n").expect("hazel accepts STARTTLS");
    assert!(
        is_tls_handshake(client_rest),
        "no ClientHello after STARTTLS: {:?}",
        &client_rest[..8.min(client_rest.len())]
    );
    assert!(is_tls_handshake(server_rest), "no ServerHello after OK STARTTLS");
    for plain in [&b"LIST VAR"[..], b"BEGIN LIST", b"ups.status", b"VAR apc"] {
        assert!(!contains(from_client, plain) && !contains(from_server, plain), "{plain:?} sent in plain text");
    }
    assert!(tls_server.log().contains("TLS session established"), "server log:\n{}", tls_server.log());

    // Without a certificate, the same client falls back to plain text.
    let relay = Relay::to(plain_server.port);
    let fallback = nut_tool("upsc", &[&format!("apc@127.0.0.1:{}", relay.port), "ups.status"]);
    assert!(fallback.status.success(), "{}", said(&fallback));
    let captures = relay.finished_captures(1);
    let (from_client, from_server) = &captures[0];
    assert!(
        from_client.starts_with(b"STARTTLS\nGET VAR apc ups.status\n"),
        "{:?}",
        String::from_utf8_lossy(from_client)
    );
    assert!(from_server.starts_with(b"ERR FEATURE-NOT-CONFIGURED\nVAR apc ups.status "));
}

#[test]
fn hazel_toml_tls_wins_over_certfile() {
    let pem = certificate();
    // CERTFILE names a missing file: starting at all proves it was not used.
    let extra = ExtraConfig {
        upsd_conf: "CERTFILE missing.pem\n",
        hazel_toml: "[tls]\ncert = \"tls/cert.pem\"\nkey = \"tls/key.pem\"\n",
    };
    let server = serve(extra, |dir| {
        std::fs::create_dir(dir.join("tls")).unwrap();
        std::fs::write(dir.join("tls/cert.pem"), &pem.cert).unwrap();
        std::fs::write(dir.join("tls/key.pem"), &pem.key).unwrap();
    });
    let output = nut_tool("upsc", &[&server.ups("apc"), "ups.status"]);
    assert!(output.status.success(), "{}", said(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("in SSL"), "{}", said(&output));
    let log = server.log();
    assert!(log.contains("tls/cert.pem") && log.contains("TLS session established"), "server log:\n{log}");
}

/// `hazel serve` in a config dir that `prepare` fills; its exit status and
/// standard error, or a panic if it keeps running.
fn serve_expecting_failure(upsd_conf: &str, hazel_toml: &str, prepare: impl FnOnce(&Path)) -> (bool, String) {
    let confdir = tempfile::tempdir().expect("tempdir");
    let dir = confdir.path();
    std::fs::copy(dev_file(), dir.join(DEVICE)).unwrap();
    std::fs::write(dir.join("ups.conf"), ups_conf()).unwrap();
    std::fs::write(dir.join("upsd.conf"), format!("LISTEN 127.0.0.1 {}\n{upsd_conf}", free_port())).unwrap();
    let plugins = plugin_dir().display().to_string();
    std::fs::write(dir.join("hazel.toml"), format!("plugin_dirs = [{plugins:?}]\ncache_dir = \"cache\"\n{hazel_toml}"))
        .unwrap();
    prepare(dir);
    let mut child = Command::new(hazel_binary())
        .args(["serve", "-c"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hazel serve");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for hazel") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hazel serve kept running with a bad certificate");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).unwrap();
    (status.success(), stderr)
}

#[test]
fn bad_certificates_stop_the_start_naming_the_file() {
    let pem = certificate();
    let other = certificate();
    let (ok, stderr) = serve_expecting_failure("CERTFILE nowhere.pem\n", "", |_| {});
    assert!(!ok && stderr.contains("nowhere.pem") && stderr.contains("cannot read"), "{stderr}");

    let (ok, stderr) = serve_expecting_failure("CERTFILE garbage.pem\n", "", |dir| {
        std::fs::write(dir.join("garbage.pem"), "not a certificate at all\n").unwrap();
    });
    assert!(!ok && stderr.contains("garbage.pem: no certificate found"), "{stderr}");

    let (ok, stderr) = serve_expecting_failure("", "[tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n", |dir| {
        std::fs::write(dir.join("cert.pem"), &pem.cert).unwrap();
        std::fs::write(dir.join("key.pem"), &other.key).unwrap();
    });
    assert!(!ok && stderr.contains("key.pem: the private key does not match the certificate in"), "{stderr}");
}
