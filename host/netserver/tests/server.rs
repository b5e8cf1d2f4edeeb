//! The TCP server end to end: real sockets on 127.0.0.1, several clients at
//! once, hostile ones included.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hazel_netserver::{
    Completion, ControlError, DeviceControl, HandoffError, ListenAddr, Server, ServerContext, UpsdConf, Users,
};
use hazel_state::{DeviceState, Edit, StateStore, VarMeta};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const USERS: &str = "[admin]\npassword = adminpass\nactions = SET FSD\ninstcmds = ALL\n\
                     [monuser]\npassword = secret\nupsmon primary\n";

/// Writes complete after a short delay, so PENDING is observable.
struct SlowDevices;

impl DeviceControl for SlowDevices {
    fn instcmd(&self, _device: &str, _command: &str, _argument: Option<&str>) -> Result<Completion, HandoffError> {
        Ok(Box::pin(async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Err(ControlError::Failed)
        }))
    }

    fn set_var(&self, _device: &str, _variable: &str, _value: &str) -> Result<Completion, HandoffError> {
        Ok(Box::pin(async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(())
        }))
    }
}

struct Running {
    addr: SocketAddr,
    context: Arc<ServerContext>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("server stops in time")
            .expect("server task");
    }
}

async fn start(conf: UpsdConf, idle: Option<Duration>) -> Running {
    let store = Arc::new(StateStore::new());
    let device = DeviceState::new("ups1", Some("Test \"UPS\"".into()));
    device.apply_update([
        Edit::SetValue("ups.status".into(), "OL".into()),
        Edit::SetValue("battery.charge".into(), "100".into()),
        Edit::SetValue("ups.id".into(), "rack1".into()),
        Edit::SetMeta("ups.id".into(), VarMeta { writable: true, string_max_len: Some(16) }),
        Edit::AddCommand("load.off".into()),
    ]);
    store.insert(device);
    let users = Users::parse("upsd.users", USERS).expect("users");
    let context = Arc::new(ServerContext::new(store, Arc::new(SlowDevices), users, &conf));
    let mut server = Server::bind(&conf, context.clone()).await.expect("bind");
    if let Some(idle) = idle {
        server = server.with_idle_timeout(idle);
    }
    let addr = server.local_addrs()[0];
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    Running { addr, context, stop: Some(stop), task }
}

fn local_conf() -> UpsdConf {
    UpsdConf { listen: vec![ListenAddr::new("127.0.0.1", 0)], ..UpsdConf::default() }
}

struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (reader, writer) = stream.into_split();
        Client { reader: BufReader::new(reader), writer }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.expect("send");
    }

    /// The next reply line without its newline; `None` at EOF.
    async fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(10), self.reader.read_line(&mut line))
            .await
            .expect("reply in time")
            .ok()?;
        if read == 0 {
            return None;
        }
        assert!(line.ends_with('\n'), "reply line without newline: {line:?}");
        line.pop();
        Some(line)
    }

    async fn ask(&mut self, request: &str) -> String {
        self.send(format!("{request}\n").as_bytes()).await;
        self.line().await.expect("a reply")
    }

    async fn list(&mut self, request: &str) -> Vec<String> {
        self.send(format!("{request}\n").as_bytes()).await;
        let mut lines = Vec::new();
        loop {
            let line = self.line().await.expect("list line");
            let done = line.starts_with("END LIST") || line.starts_with("ERR");
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    async fn expect_eof(&mut self) {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), self.reader.read_to_end(&mut rest))
            .await
            .expect("server closes in time");
        assert!(read.is_err() || rest.is_empty(), "unexpected data before EOF: {rest:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_including_hostile_ones() {
    let server = start(local_conf(), None).await;
    let addr = server.addr;

    // a client that starts a line and vanishes
    let mid_line = tokio::spawn(async move {
        let mut client = Client::connect(addr).await;
        client.send(b"GET VAR ups1 ups.sta").await;
    });
    // a client that sends binary garbage and leaves
    let garbage = tokio::spawn(async move {
        let mut client = Client::connect(addr).await;
        let junk: Vec<u8> = (0..200_000u32).map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        client.send(&junk).await;
    });
    // a client sending a one-megabyte line, then a normal request
    let huge = tokio::spawn(async move {
        let mut client = Client::connect(addr).await;
        let mut line = b"GET VAR ups1 ".to_vec();
        line.extend(std::iter::repeat_n(b'a', 1_000_000));
        line.push(b'\n');
        client.send(&line).await;
        assert_eq!(client.line().await.as_deref(), Some("ERR VAR-NOT-SUPPORTED"));
        assert_eq!(client.ask("VER").await, "Network UPS Tools upsd 2.8.0 - http://www.networkupstools.org/");
    });
    // ordinary readers, in parallel
    let mut readers = Vec::new();
    for _ in 0..8 {
        readers.push(tokio::spawn(async move {
            let mut client = Client::connect(addr).await;
            for _ in 0..20 {
                assert_eq!(client.ask("GET VAR ups1 ups.status").await, "VAR ups1 ups.status \"OL\"");
                let list = client.list("LIST VAR ups1").await;
                assert_eq!(list.first().map(String::as_str), Some("BEGIN LIST VAR ups1"));
                assert_eq!(list.len(), 5, "{list:?}");
            }
            assert_eq!(client.list("LIST UPS").await[1], "UPS ups1 \"Test \\\"UPS\\\"\"");
        }));
    }
    for task in [mid_line, garbage, huge].into_iter().chain(readers) {
        task.await.expect("client task");
    }

    // pipelined requests are answered in order, CRLF accepted
    let mut client = Client::connect(addr).await;
    client.send(b"VER\r\nNETVER\nget var UPS1 battery.charge\n").await;
    assert_eq!(client.line().await.as_deref(), Some("Network UPS Tools upsd 2.8.0 - http://www.networkupstools.org/"));
    assert_eq!(client.line().await.as_deref(), Some("1.3"));
    assert_eq!(client.line().await.as_deref(), Some("VAR UPS1 battery.charge \"100\""));
    // the server is still healthy after all that
    assert_eq!(client.ask("LOGOUT").await, "OK Goodbye");
    client.expect_eof().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_count_until_disconnect() {
    let server = start(local_conf(), None).await;
    let mut monitor = Client::connect(server.addr).await;
    assert_eq!(monitor.ask("USERNAME monuser").await, "OK");
    assert_eq!(monitor.ask("PASSWORD secret").await, "OK");
    assert_eq!(monitor.ask("LOGIN ups1").await, "OK");
    assert_eq!(monitor.ask("PRIMARY ups1").await, "OK PRIMARY-GRANTED");

    let mut observer = Client::connect(server.addr).await;
    assert_eq!(observer.ask("GET NUMLOGINS ups1").await, "NUMLOGINS ups1 1");
    assert_eq!(
        observer.list("LIST CLIENT ups1").await,
        ["BEGIN LIST CLIENT ups1", "CLIENT ups1 127.0.0.1", "END LIST CLIENT ups1"]
    );
    drop(monitor);
    let mut count = String::new();
    for _ in 0..100 {
        count = observer.ask("GET NUMLOGINS ups1").await;
        if count == "NUMLOGINS ups1 0" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(count, "NUMLOGINS ups1 0");
    assert_eq!(server.context.login_count("ups1"), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_tracked_until_the_device_answers() {
    let server = start(local_conf(), None).await;
    let mut admin = Client::connect(server.addr).await;
    admin.ask("USERNAME admin").await;
    admin.ask("PASSWORD adminpass").await;
    assert_eq!(admin.ask("SET VAR ups1 ups.id 12345678901234567").await, "ERR TOO-LONG");
    assert_eq!(admin.ask("SET TRACKING ON").await, "OK");
    let set = admin.ask("SET VAR ups1 ups.id newid").await;
    let set_id = set.strip_prefix("OK TRACKING ").expect("tracking id").to_string();
    let cmd = admin.ask("INSTCMD ups1 load.off").await;
    let cmd_id = cmd.strip_prefix("OK TRACKING ").expect("tracking id").to_string();
    assert_eq!(admin.ask(&format!("GET TRACKING {set_id}")).await, "PENDING");
    // the client may leave; the device's answer is still recorded
    drop(admin);
    let mut other = Client::connect(server.addr).await;
    other.ask("USERNAME x").await;
    other.ask("PASSWORD y").await;
    other.ask("SET TRACKING ON").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(other.ask(&format!("GET TRACKING {set_id}")).await, "SUCCESS");
    assert_eq!(other.ask(&format!("GET TRACKING {cmd_id}")).await, "ERR FAILED");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maxconn_refuses_extra_clients() {
    let conf = UpsdConf { max_connections: 2, ..local_conf() };
    let server = start(conf, None).await;
    let mut first = Client::connect(server.addr).await;
    let mut second = Client::connect(server.addr).await;
    assert_eq!(first.ask("NETVER").await, "1.3");
    assert_eq!(second.ask("NETVER").await, "1.3");
    let mut third = Client::connect(server.addr).await;
    third.send(b"NETVER\n").await;
    assert_eq!(third.line().await, None, "over MAXCONN: closed without a reply");
    // a freed slot is reused
    drop(first);
    let mut fourth = None;
    for _ in 0..100 {
        let mut client = Client::connect(server.addr).await;
        client.send(b"NETVER\n").await;
        if client.line().await.as_deref() == Some("1.3") {
            fourth = Some(client);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(fourth.is_some(), "a slot frees up when a client leaves");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_clients_are_dropped() {
    let server = start(local_conf(), Some(Duration::from_millis(300))).await;
    let mut idle = Client::connect(server.addr).await;
    assert_eq!(idle.ask("NETVER").await, "1.3");
    // bytes without a complete request do not count as activity
    idle.send(b"GET VAR").await;
    idle.expect_eof().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_keep_a_client_past_the_idle_limit() {
    // The idle timer is only moved on when it fires: each request must still
    // count, however long the connection has been open.
    let idle_limit = Duration::from_millis(800);
    let server = start(local_conf(), Some(idle_limit)).await;
    let mut busy = Client::connect(server.addr).await;
    for _ in 0..12 {
        assert_eq!(busy.ask("NETVER").await, "1.3");
        tokio::time::sleep(idle_limit / 4).await;
    }
    // ...and once the requests stop, the limit applies again.
    busy.expect_eof().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_connections() {
    let server = start(local_conf(), None).await;
    let mut client = Client::connect(server.addr).await;
    assert_eq!(client.ask("NETVER").await, "1.3");
    let addr = server.addr;
    server.stop().await;
    client.expect_eof().await;
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
}

#[tokio::test]
async fn bind_reports_unusable_addresses() {
    let store = Arc::new(StateStore::new());
    let context = || {
        Arc::new(ServerContext::new(
            store.clone(),
            Arc::new(hazel_netserver::ReadOnlyControl),
            Users::empty(),
            &UpsdConf::default(),
        ))
    };
    // an address this host does not have
    let conf = UpsdConf { listen: vec![ListenAddr::new("192.0.2.1", 0)], ..UpsdConf::default() };
    let error = Server::bind(&conf, context()).await.unwrap_err();
    assert!(error.to_string().contains("192.0.2.1"), "{error}");

    // one good listener and one bad non-loopback one: refused unless allowed
    let mixed = vec![ListenAddr::new("127.0.0.1", 0), ListenAddr::new("192.0.2.1", 0)];
    let conf = UpsdConf { listen: mixed.clone(), ..UpsdConf::default() };
    let error = Server::bind(&conf, context()).await.unwrap_err();
    assert!(error.to_string().starts_with("cannot listen on 192.0.2.1:0"), "{error}");
    let conf = UpsdConf { listen: mixed, allow_not_all_listeners: true, ..UpsdConf::default() };
    let server = Server::bind(&conf, context()).await.expect("allowed");
    assert_eq!(server.local_addrs().len(), 1);

    // a failing loopback listener is tolerated when another works
    let taken = server.local_addrs()[0];
    let conf = UpsdConf {
        listen: vec![ListenAddr::new("127.0.0.1", taken.port()), ListenAddr::new("127.0.0.1", 0)],
        ..UpsdConf::default()
    };
    let other = Server::bind(&conf, context()).await.expect("loopback failure tolerated");
    assert_eq!(other.local_addrs().len(), 1);
}
