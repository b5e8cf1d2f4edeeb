//! Drives the NUT server with a fixed number of requests so callgrind can
//! count the instructions each request costs (`bench/request-cost.sh`).
//!
//! `request_cost <core|loopback> <get|list> <count>`:
//! - `core`: the protocol path without I/O, as a connection task runs it:
//!   the request bytes through the tokenizer, `handle_request`, the reply;
//! - `loopback`: the whole server on a current-thread runtime (this thread),
//!   one blocking client on a second thread over 127.0.0.1; run callgrind
//!   with `--separate-threads=yes` and read the first thread's total.
//!
//! The store holds the four devices `cargo xtask bench net` serves, replayed
//! from NUT's device library. Subtracting two runs with different counts
//! cancels start-up, so the difference divided by the count difference is
//! the cost of one request.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::path::Path;
use std::sync::Arc;

use hazel_netserver::{
    ListenAddr, ReadOnlyControl, Server, ServerContext, Session, UpsdConf, Users, handle_request_into,
};
use hazel_nutconf::parseconf::{MAX_TOKENS, Tokenizer};
use hazel_state::{DeviceState, Edit, StateStore};

/// The bench's devices (`bench/src/net/mod.rs`).
const DEVICES: [(&str, &str); 4] = [
    ("apc", "APC__Back-UPS_BK650M2-CH__usbhid-ups__2.8.0__01.dev"),
    ("cyberpower", "Cyber_Power_Systems__CP1500EPFCLCD__usbhid-ups__2.7.3__01.dev"),
    ("pulsar", "MGE_UPS_SYSTEMS__Pulsar_1500__mge-shut__2.6.5__01.dev"),
    ("eaton", "Eaton__93PS__snmp-ups__2.7.3-167-g0a00ddb__01.dev"),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, kind, count] = args.as_slice() else {
        return Err("usage: request_cost <core|loopback> <get|list> <count>".into());
    };
    let count: usize = count.parse()?;
    let request: &[u8] = match kind.as_str() {
        "get" => b"GET VAR apc ups.status\n",
        "list" => b"LIST VAR apc\n",
        _ => return Err(format!("unknown request kind {kind}").into()),
    };
    let store = populated_store()?;
    match mode.as_str() {
        "core" => core(store, request, count),
        "loopback" => loopback(store, request, kind == "list", count),
        _ => Err(format!("unknown mode {mode}").into()),
    }
}

fn populated_store() -> Result<Arc<StateStore>, Box<dyn std::error::Error>> {
    let library = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/nut-ddl");
    let store = Arc::new(StateStore::new());
    for (name, file) in DEVICES {
        let text = std::fs::read_to_string(library.join(file))?;
        let edits = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split_once(": "))
            .map(|(variable, value)| Edit::SetValue(variable.into(), value.into()));
        let device = DeviceState::new(name, None);
        device.apply_update(edits);
        store.insert(device);
    }
    Ok(store)
}

fn context(store: Arc<StateStore>, conf: &UpsdConf) -> Arc<ServerContext> {
    Arc::new(ServerContext::new(store, Arc::new(ReadOnlyControl), Users::default(), conf))
}

/// What a connection task does per request (`listener.rs`), minus the socket.
fn core(store: Arc<StateStore>, request: &[u8], count: usize) -> Result<(), Box<dyn std::error::Error>> {
    let context = context(store, &UpsdConf::default());
    let mut session = Session::new(&context, IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mut tokenizer = Tokenizer::new();
    let mut reply = Vec::new();
    let mut total = 0usize;
    for _ in 0..count {
        let mut rest = request;
        while !rest.is_empty() {
            let (used, event) = tokenizer.push(rest);
            rest = rest.get(used..).unwrap_or(&[]);
            if let Some(Ok(line)) = event {
                let mut tokens = [""; MAX_TOKENS];
                let mut used_tokens = 0;
                for (slot, token) in tokens.iter_mut().zip(line.tokens()) {
                    *slot = token;
                    used_tokens += 1;
                }
                let tokens = tokens.get(..used_tokens).unwrap_or(&[]);
                let response = handle_request_into(&context, &mut session, tokens, std::mem::take(&mut reply));
                total += std::hint::black_box(response.reply.len());
                reply = response.reply;
            }
        }
    }
    if total == 0 {
        return Err("no reply".into());
    }
    Ok(())
}

fn loopback(
    store: Arc<StateStore>,
    request: &[u8],
    list: bool,
    count: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let conf = UpsdConf { listen: vec![ListenAddr::new("127.0.0.1", 0)], ..UpsdConf::default() };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let server = Server::bind(&conf, context(store, &conf)).await?;
        let addr = server.local_addrs().first().copied().ok_or("no address")?;
        let request = request.to_vec();
        let client = tokio::task::spawn_blocking(move || -> std::io::Result<usize> {
            let stream = TcpStream::connect(addr)?;
            stream.set_nodelay(true)?;
            let mut writer = stream.try_clone()?;
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            let mut lines = 0;
            for _ in 0..count {
                writer.write_all(&request)?;
                loop {
                    line.clear();
                    reader.read_line(&mut line)?;
                    lines += 1;
                    if !list || line.starts_with("END LIST") || line.starts_with("ERR") {
                        break;
                    }
                }
            }
            Ok(lines)
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        let lines = client.await??;
        let _ = stop.send(());
        serving.await?;
        if lines < count {
            return Err("too few replies".into());
        }
        Ok(())
    })
}
