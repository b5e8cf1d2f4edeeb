//! STARTTLS end to end: a rustls client on 127.0.0.1 against the server
//! with a self-signed certificate (verified by the client, as a careful NUT
//! client with CERTVERIFY would), compared byte for byte with plain text.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hazel_netserver::{ListenAddr, ReadOnlyControl, Server, ServerContext, ServerTls, UpsdConf, Users};
use hazel_state::{DeviceState, Edit, StateStore};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

const USERS: &str = "[mon]\npassword = monpass\nupsmon primary\n";

/// A server on a free loopback port; `tls` holds the certificate clients trust.
struct Running {
    addr: SocketAddr,
    certificate: Option<CertificateDer<'static>>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Running {
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("server stops in time")
            .expect("server task");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Options {
    tls: bool,
    max_connections: usize,
    idle: Option<Duration>,
}

const WITH_TLS: Options = Options { tls: true, max_connections: 16, idle: None };

async fn start(options: Options) -> Running {
    let store = Arc::new(StateStore::new());
    let device = DeviceState::new("ups1", Some("Rack \"A\" UPS".into()));
    device.apply_update([
        Edit::SetValue("ups.status".into(), "OL CHRG".into()),
        Edit::SetValue("battery.charge".into(), "87".into()),
        Edit::SetValue("ups.id".into(), r#"quote " backslash \ hash #"#.into()),
        Edit::SetValue("ups.mfr".into(), "x".repeat(700)),
        Edit::AddCommand("load.off".into()),
    ]);
    store.insert(device);
    let conf = UpsdConf {
        listen: vec![ListenAddr::new("127.0.0.1", 0)],
        max_connections: options.max_connections,
        ..UpsdConf::default()
    };
    let users = Users::parse("upsd.users", USERS).expect("users");
    let mut context = ServerContext::new(store, Arc::new(ReadOnlyControl), users, &conf);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut certificate = None;
    if options.tls {
        // upsd's CERTFILE layout: chain and key in one file.
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
        let certfile = dir.path().join("upsd.pem");
        std::fs::write(&certfile, format!("{}{}", certified.cert.pem(), certified.signing_key.serialize_pem()))
            .expect("write certfile");
        context = context.with_tls(ServerTls::from_combined_pem(&certfile).expect("load certfile"));
        certificate = Some(certified.cert.der().clone());
    }
    let mut server = Server::bind(&conf, Arc::new(context)).await.expect("bind");
    if let Some(idle) = options.idle {
        server = server.with_idle_timeout(idle);
    }
    let addr = server.local_addrs()[0];
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    Running { addr, certificate, stop: Some(stop), task, _dir: dir }
}

/// A NUT client over any stream, reading whole replies as bytes.
struct Client<S> {
    reader: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    async fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).await.expect("send");
        self.reader.get_mut().flush().await.expect("flush");
    }

    /// One line with its newline; empty at EOF (or a connection reset).
    async fn line(&mut self) -> Vec<u8> {
        let mut line = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), self.reader.read_until(b'\n', &mut line))
            .await
            .expect("reply in time");
        if read.is_err() {
            line.clear();
        }
        line
    }

    /// The reply to `request`: one line, or `BEGIN LIST` through `END LIST`.
    async fn reply(&mut self, request: &str) -> Vec<u8> {
        self.send(format!("{request}\n").as_bytes()).await;
        let mut reply = self.line().await;
        assert!(reply.ends_with(b"\n"), "{request}: incomplete reply {:?}", String::from_utf8_lossy(&reply));
        if reply.starts_with(b"BEGIN LIST") {
            loop {
                let line = self.line().await;
                assert!(!line.is_empty(), "{request}: list cut short");
                reply.extend_from_slice(&line);
                if line.starts_with(b"END LIST") {
                    break;
                }
            }
        }
        reply
    }

    async fn ask(&mut self, request: &str) -> String {
        String::from_utf8(self.reply(request).await).expect("ASCII reply")
    }

    /// The server closes the connection (TLS close_notify or not) without
    /// sending anything more.
    async fn expect_eof(&mut self) {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), self.reader.read_to_end(&mut rest))
            .await
            .expect("server closes in time");
        assert!(read.is_err() || rest.is_empty(), "unexpected data before EOF: {rest:?}");
    }
}

async fn plain(addr: SocketAddr) -> Client<TcpStream> {
    Client { reader: BufReader::new(TcpStream::connect(addr).await.expect("connect")) }
}

fn connector(certificate: &CertificateDer<'static>) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certificate.clone()).expect("trust the test certificate");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

impl Client<TcpStream> {
    /// `STARTTLS`, then the handshake on the same socket.
    async fn start_tls(mut self, server: &Running) -> Client<TlsStream<TcpStream>> {
        assert_eq!(self.ask("STARTTLS").await, "OK STARTTLS\n");
        // Nothing may follow `OK STARTTLS` in plain text.
        assert!(self.reader.buffer().is_empty(), "plain text after OK STARTTLS");
        let stream = self.reader.into_inner();
        let certificate = server.certificate.as_ref().expect("a TLS server");
        let name = ServerName::try_from("localhost").expect("server name");
        let tls = tokio::time::timeout(Duration::from_secs(10), connector(certificate).connect(name, stream))
            .await
            .expect("handshake in time")
            .expect("handshake");
        Client { reader: BufReader::new(tls) }
    }
}

/// What a client asks, covering one-line replies, lists, escaping, a reply
/// cut at upsd's 511 bytes, and errors.
const REQUESTS: &[&str] = &[
    "VER",
    "HELP",
    "GET VAR ups1 ups.status",
    "GET VAR ups1 ups.id",
    "GET VAR ups1 ups.mfr",
    "GET VAR ups1 nothing.here",
    "GET UPSDESC ups1",
    "GET TYPE ups1 battery.charge",
    "LIST UPS",
    "LIST VAR ups1",
    "LIST CMD ups1",
    "LIST VAR nosuch",
    "FROB",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_over_tls_are_byte_identical_to_plain_text() {
    let server = start(WITH_TLS).await;
    let mut clear = plain(server.addr).await;
    let mut expected = Vec::new();
    for request in REQUESTS {
        expected.push(clear.reply(request).await);
    }
    assert!(String::from_utf8_lossy(&expected[9]).starts_with("BEGIN LIST VAR ups1\nVAR ups1 battery.charge \"87\"\n"));

    let mut tls = plain(server.addr).await.start_tls(&server).await;
    for (request, expected) in REQUESTS.iter().zip(&expected) {
        let reply = tls.reply(request).await;
        assert_eq!(String::from_utf8_lossy(&reply), String::from_utf8_lossy(expected), "{request}");
    }
    assert_eq!(tls.ask("LOGOUT").await, "OK Goodbye\n");
    tls.expect_eof().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_state_carries_over_and_second_starttls_is_refused() {
    let server = start(WITH_TLS).await;
    let mut client = plain(server.addr).await;
    assert_eq!(client.ask("USERNAME mon").await, "OK\n");
    // upsd ignores STARTTLS's arguments.
    client.send(b"STARTTLS please\n").await;
    assert_eq!(client.line().await, b"OK STARTTLS\n");
    let certificate = server.certificate.as_ref().unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let tls = connector(certificate).connect(name, client.reader.into_inner()).await.expect("handshake");
    let mut client = Client { reader: BufReader::new(tls) };

    assert_eq!(client.ask("STARTTLS").await, "ERR ALREADY-SSL-MODE\n");
    assert_eq!(client.ask("STARTTLS").await, "ERR ALREADY-SSL-MODE\n");
    assert_eq!(client.ask("USERNAME other").await, "ERR ALREADY-SET-USERNAME\n");
    assert_eq!(client.ask("PASSWORD monpass").await, "OK\n");
    assert_eq!(client.ask("LOGIN ups1").await, "OK\n");
    assert_eq!(client.ask("GET NUMLOGINS ups1").await, "NUMLOGINS ups1 1\n");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_without_a_certificate_stays_in_plain_text() {
    let server = start(Options { tls: false, ..WITH_TLS }).await;
    let mut client = plain(server.addr).await;
    assert_eq!(client.ask("STARTTLS").await, "ERR FEATURE-NOT-CONFIGURED\n");
    assert_eq!(client.ask("STARTTLS").await, "ERR FEATURE-NOT-CONFIGURED\n");
    assert_eq!(client.ask("GET VAR ups1 ups.status").await, "VAR ups1 ups.status \"OL CHRG\"\n");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_text_pipelined_after_starttls_is_never_executed() {
    let server = start(WITH_TLS).await;
    let mut client = plain(server.addr).await;
    client.send(b"STARTTLS\nUSERNAME admin\nVER\n").await;
    assert_eq!(client.line().await, b"OK STARTTLS\n");
    client.expect_eof().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_handshake_affects_nobody_else() {
    let server = start(WITH_TLS).await;
    let mut bystander = plain(server.addr).await.start_tls(&server).await;
    assert_eq!(bystander.ask("GET VAR ups1 battery.charge").await, "VAR ups1 battery.charge \"87\"\n");

    // Plain text where a ClientHello belongs.
    let mut confused = plain(server.addr).await;
    assert_eq!(confused.ask("STARTTLS").await, "OK STARTTLS\n");
    confused.send(b"GET VAR ups1 ups.status\n").await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), confused.reader.read_to_end(&mut answer))
        .await
        .expect("server closes in time");
    // At most a TLS alert record (content type 21), never a plain-text reply.
    assert!(answer.is_empty() || answer[0] == 21, "{answer:?}");

    // A TLS client that does not trust the certificate aborts the handshake.
    let stranger = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let mut untrusting = plain(server.addr).await;
    assert_eq!(untrusting.ask("STARTTLS").await, "OK STARTTLS\n");
    let name = ServerName::try_from("localhost").unwrap();
    let refused = connector(stranger.cert.der()).connect(name, untrusting.reader.into_inner()).await;
    assert!(refused.is_err(), "the client refuses an unknown certificate");

    assert_eq!(bystander.ask("GET VAR ups1 battery.charge").await, "VAR ups1 battery.charge \"87\"\n");
    let mut newcomer = plain(server.addr).await.start_tls(&server).await;
    assert_eq!(newcomer.ask("NETVER").await, "1.3\n");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_holds_before_and_after_the_handshake() {
    let server = start(Options { idle: Some(Duration::from_millis(300)), ..WITH_TLS }).await;
    // Idle over TLS.
    let mut idle = plain(server.addr).await.start_tls(&server).await;
    assert_eq!(idle.ask("NETVER").await, "1.3\n");
    idle.send(b"GET VAR").await;
    idle.expect_eof().await;
    // OK STARTTLS, then no handshake at all.
    let mut silent = plain(server.addr).await;
    assert_eq!(silent.ask("STARTTLS").await, "OK STARTTLS\n");
    silent.expect_eof().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_connections_count_toward_maxconn() {
    let server = start(Options { max_connections: 1, ..WITH_TLS }).await;
    let mut holder = plain(server.addr).await.start_tls(&server).await;
    assert_eq!(holder.ask("NETVER").await, "1.3\n");
    let mut refused = plain(server.addr).await;
    refused.send(b"NETVER\n").await;
    assert_eq!(refused.line().await, b"", "over MAXCONN: closed without a reply");
    assert_eq!(holder.ask("LOGOUT").await, "OK Goodbye\n");
    holder.expect_eof().await;
    // The slot is free again once the TLS client is gone.
    let mut next = None;
    for _ in 0..100 {
        let mut client = plain(server.addr).await;
        client.send(b"NETVER\n").await;
        if client.line().await == b"1.3\n" {
            next = Some(client);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(next.is_some(), "a slot frees up when the TLS client leaves");
    server.stop().await;
}
