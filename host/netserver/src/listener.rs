//! The TCP side: listeners on every `LISTEN` address, one task per
//! connection, feeding the protocol core line by line.
//!
//! Per connection, memory is bounded by the read buffer and the tokenizer's
//! limits (32 tokens of 512 characters), so a megabyte-long line is answered
//! like any other. A connection that completes no request for 60 s is closed
//! (upsd's fixed idle limit), and so is one whose client stops reading our
//! replies. Nothing one client sends can affect another.
//!
//! After `OK STARTTLS` the same loop runs over TLS (rustls, whose buffers
//! are bounded too), with the same session, deadlines and MAXCONN slot.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hazel_nutconf::parseconf::{MAX_TOKENS, Tokenizer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::server::TlsStream;

use crate::context::ServerContext;
use crate::protocol::{Session, handle_request_into};
use crate::upsd_conf::{ListenAddr, UpsdConf};

/// upsd drops clients that complete no request for this long.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Pending connections the kernel queues per listener. upsd uses 16; many
/// upsmon clients reconnecting at once after a server restart overflow that.
const LISTEN_BACKLOG: i32 = 1024;

/// Bytes read from a socket at a time, to begin with: requests are short
/// and most connections are idle, so each starts small (memory per held
/// connection). A read that fills the buffer doubles it, up to
/// [`READ_BUFFER_MAX`], so a long line or a burst of requests takes few
/// reads; a short read shrinks it back. Lines of any length are answered
/// either way: the tokenizer keeps its state between reads.
const READ_BUFFER_MIN: usize = 512;

/// Largest read buffer a connection grows to.
const READ_BUFFER_MAX: usize = 16 * 1024;

/// Largest reply buffer a connection keeps between requests (a `LIST VAR` of
/// a large device fits); a larger one is freed after its reply is written.
const REPLY_BUFFER_KEEP: usize = 8 * 1024;

/// A client that does not take a reply within this long is dropped, so a
/// stalled reader cannot pin its connection slot forever.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// Replies to pipelined requests are gathered up to this many bytes before
/// they are written, which bounds what one connection holds.
const COALESCE_LIMIT: usize = 64 * 1024;

/// How long connections get to finish after shutdown is requested.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Refused connections (over `MAXCONN`) are logged at most this often.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Why the server could not start listening.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// A `LISTEN` address could not be resolved or bound, and upsd's rules
    /// do not allow starting without it (see [`Server::bind`]).
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address as configured.
        addr: String,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// Not a single listener could be set up.
    #[error("no listening address available ({failures})")]
    NoListener {
        /// Every address tried and its error.
        failures: String,
    },
}

/// A bound NUT network server, ready to [`run`](Server::run).
#[derive(Debug)]
pub struct Server {
    listeners: Vec<TcpListener>,
    context: Arc<ServerContext>,
    max_connections: usize,
    idle_timeout: Duration,
}

impl Server {
    /// Listen on every address of `conf` (its `LISTEN` lines, else `::1` and
    /// `127.0.0.1` on port 3493) with at most `MAXCONN` simultaneous clients.
    ///
    /// `*` means every IPv4 and every IPv6 address (two sockets; IPv6 ones
    /// are IPv6-only, as in upsd). A host name is resolved and its first
    /// address used. As in upsd, starting needs at least one listener, and
    /// every listener unless the ones that failed are all loopback (several
    /// names of the local host often resolve to one socket) or
    /// `ALLOW_NOT_ALL_LISTENERS` is set.
    pub async fn bind(conf: &UpsdConf, context: Arc<ServerContext>) -> Result<Server, BindError> {
        let mut listeners = Vec::new();
        let mut failures: Vec<(ListenAddr, io::Error)> = Vec::new();
        for addr in conf.listen_addrs() {
            match bind_listen_addr(&addr).await {
                Ok(bound) => listeners.extend(bound),
                Err(error) => failures.push((addr, error)),
            }
        }
        let summary = || failures.iter().map(|(addr, error)| format!("{addr}: {error}")).collect::<Vec<_>>().join("; ");
        if listeners.is_empty() {
            return Err(BindError::NoListener { failures: summary() });
        }
        if !failures.is_empty() {
            let only_loopback = failures.iter().all(|(addr, _)| addr.is_loopback());
            if !only_loopback && !conf.allow_not_all_listeners {
                let (addr, source) = failures.swap_remove(0);
                return Err(BindError::Listen { addr: addr.to_string(), source });
            }
            tracing::warn!(failures = %summary(), "some listening addresses are not available");
        }
        for listener in &listeners {
            if let Ok(local) = listener.local_addr() {
                tracing::info!(address = %local, "listening for NUT clients");
            }
        }
        Ok(Server {
            listeners,
            context,
            max_connections: conf.max_connections.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize)),
            idle_timeout: IDLE_TIMEOUT,
        })
    }

    /// Change the idle limit (upsd's is fixed at [`IDLE_TIMEOUT`]; tests
    /// shorten it).
    pub fn with_idle_timeout(mut self, idle_timeout: Duration) -> Self {
        self.idle_timeout = idle_timeout;
        self
    }

    /// The addresses actually bound (useful with port 0).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners.iter().filter_map(|listener| listener.local_addr().ok()).collect()
    }

    /// The shared state, e.g. to reload users or to ask about FSD latches.
    pub fn context(&self) -> &Arc<ServerContext> {
        &self.context
    }

    /// Serve clients until `shutdown` completes, then stop accepting, close
    /// every connection (waiting a few seconds for replies in progress) and
    /// return.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let (stop_sender, stop) = watch::channel(false);
        let slots = Arc::new(Semaphore::new(self.max_connections));
        let mut acceptors = JoinSet::new();
        for listener in self.listeners {
            let acceptor = Acceptor {
                listener,
                context: self.context.clone(),
                slots: slots.clone(),
                idle_timeout: self.idle_timeout,
            };
            acceptors.spawn(acceptor.run(stop.clone()));
        }
        shutdown.await;
        tracing::info!("NUT server shutting down");
        // Only fails if every receiver is gone, i.e. everything already stopped.
        let _ = stop_sender.send(true);
        while acceptors.join_next().await.is_some() {}
    }
}

/// Resolve and bind one `LISTEN` address; `*` yields up to two listeners.
async fn bind_listen_addr(addr: &ListenAddr) -> io::Result<Vec<TcpListener>> {
    if addr.host == "*" {
        let any = [IpAddr::V6(Ipv6Addr::UNSPECIFIED), IpAddr::V4(Ipv4Addr::UNSPECIFIED)];
        let mut bound = Vec::new();
        let mut last_error = None;
        for ip in any {
            match bind_socket(SocketAddr::new(ip, addr.port)) {
                Ok(listener) => bound.push(listener),
                Err(error) => {
                    tracing::debug!(address = %ip, %error, "LISTEN *: one address family unavailable");
                    last_error = Some(error);
                }
            }
        }
        return match (bound.is_empty(), last_error) {
            (true, Some(error)) => Err(error),
            _ => Ok(bound),
        };
    }
    let socket_addr = match addr.host.parse::<IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, addr.port),
        Err(_) => tokio::net::lookup_host((addr.host.as_str(), addr.port))
            .await?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the name resolves to no address"))?,
    };
    Ok(vec![bind_socket(socket_addr)?])
}

/// A non-blocking listening socket with a deep backlog; IPv6 sockets are
/// IPv6-only so `*` can also bind IPv4.
fn bind_socket(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket.into())
}

/// Resolves once shutdown is requested (or the server is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns must not live across an await (not Send).
    let _ = stop.wait_for(|stopping| *stopping).await.map(|_| ());
}

/// One listener's accept loop; owns the tasks of the connections it accepted.
struct Acceptor {
    listener: TcpListener,
    context: Arc<ServerContext>,
    slots: Arc<Semaphore>,
    idle_timeout: Duration,
}

impl Acceptor {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let connection_stop = stop.clone();
        let mut connections = JoinSet::new();
        let mut refused_since_log: u64 = 0;
        let mut last_refusal_log: Option<Instant> = None;
        loop {
            tokio::select! {
                () = stopped(&mut stop) => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                accepted = self.listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(accepted) => accepted,
                        Err(error) => {
                            // Typically out of file descriptors: back off instead of spinning.
                            tracing::warn!(%error, "accepting a connection failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    let Ok(slot) = self.slots.clone().try_acquire_owned() else {
                        // Over MAXCONN: close at once so the client retries later.
                        refused_since_log += 1;
                        if last_refusal_log.is_none_or(|at| at.elapsed() >= REFUSAL_LOG_INTERVAL) {
                            tracing::warn!(refused = refused_since_log, "too many clients (MAXCONN); refusing connections");
                            refused_since_log = 0;
                            last_refusal_log = Some(Instant::now());
                        }
                        continue;
                    };
                    let connection = Connection {
                        context: self.context.clone(),
                        stream,
                        peer,
                        idle_timeout: self.idle_timeout,
                        _slot: slot,
                    };
                    connections.spawn(connection.serve(connection_stop.clone()));
                }
            }
        }
        drop(self.listener);
        let drained = async { while connections.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_GRACE, drained).await.is_err() {
            tracing::warn!("some client connections did not close in time; aborting them");
        }
        // Dropping the set aborts whatever is left.
    }
}

/// One client connection.
struct Connection {
    context: Arc<ServerContext>,
    stream: TcpStream,
    peer: SocketAddr,
    idle_timeout: Duration,
    /// Held for the connection's lifetime: its place under MAXCONN.
    _slot: OwnedSemaphorePermit,
}

impl Connection {
    async fn serve(self, stop: watch::Receiver<bool>) {
        let Connection { context, mut stream, peer, idle_timeout, _slot } = self;
        // Replies are small and clients wait for each one.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(client = %peer, %error, "cannot set TCP_NODELAY");
        }
        let mut exchange = Exchange::new(context, peer, idle_timeout, stop);
        tracing::debug!(client = %peer, "client connected");

        let reason = match exchange.run(&mut stream).await {
            Ended::Closed(reason) => {
                close(&mut stream).await;
                reason
            }
            Ended::StartTls => match exchange.handshake(stream).await {
                Ok(mut tls) => {
                    let (_, connection) = tls.get_ref();
                    tracing::info!(
                        client = %peer,
                        version = ?connection.protocol_version(),
                        cipher = ?connection.negotiated_cipher_suite().map(|suite| suite.suite()),
                        "TLS session established"
                    );
                    let reason = match exchange.run(&mut tls).await {
                        Ended::Closed(reason) => reason,
                        // The session refuses a second STARTTLS (ALREADY-SSL-MODE).
                        Ended::StartTls => "STARTTLS inside TLS",
                    };
                    close(&mut tls).await;
                    reason
                }
                Err(reason) => reason,
            },
        };
        tracing::debug!(client = %peer, reason, "client disconnected");
    }
}

/// Best effort: a clean end (TLS close_notify, then FIN) after LOGOUT;
/// errors mean the peer is gone anyway.
async fn close<S: AsyncWrite + Unpin>(stream: &mut S) {
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
}

/// Grow a read buffer after a read that filled it, shrink it back after one
/// that would have fit the smallest size.
fn resize_read_buffer(buffer: &mut Vec<u8>, filled: bool, count: usize) {
    let size = buffer.len();
    if filled && size < READ_BUFFER_MAX {
        buffer.resize((size * 2).min(READ_BUFFER_MAX), 0);
    } else if count <= READ_BUFFER_MIN && size > READ_BUFFER_MIN {
        buffer.truncate(READ_BUFFER_MIN);
        buffer.shrink_to_fit();
    }
}

/// Write one reply (or the replies to pipelined requests) and flush it;
/// over TLS the flush pushes out the records it became. Returns why the
/// connection ends when it cannot be written.
async fn write_reply<S: AsyncWrite + Unpin>(stream: &mut S, reply: &[u8]) -> Result<(), &'static str> {
    let written = async {
        stream.write_all(reply).await?;
        stream.flush().await
    };
    match tokio::time::timeout(WRITE_TIMEOUT, written).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err("write error"),
        Err(_) => Err("client stopped reading"),
    }
}

/// Write the gathered replies in `outgoing`, if any, and keep its allocation
/// in `kept` for the next reply (see [`keep_reply_buffer`]).
async fn flush_replies<S: AsyncWrite + Unpin>(
    stream: &mut S,
    outgoing: &mut Vec<u8>,
    kept: &mut Vec<u8>,
) -> Result<(), &'static str> {
    if outgoing.is_empty() {
        return Ok(());
    }
    write_reply(stream, outgoing).await?;
    keep_reply_buffer(kept, std::mem::take(outgoing));
    Ok(())
}

/// Keep `spent`'s allocation for the next reply unless it grew large (a
/// big `LIST`), so an idle connection holds little memory.
fn keep_reply_buffer(kept: &mut Vec<u8>, mut spent: Vec<u8>) {
    if spent.capacity() <= REPLY_BUFFER_KEEP && spent.capacity() > kept.capacity() {
        spent.clear();
        *kept = spent;
    }
}

/// How one stretch of a connection (plain text, or TLS) ended.
enum Ended {
    /// The connection is over, for this reason.
    Closed(&'static str),
    /// `OK STARTTLS` was sent: the client's TLS handshake comes next.
    StartTls,
}

/// The request/reply loop of one connection, kept across the switch to TLS:
/// the session, the idle deadline and the tokenizer carry over.
struct Exchange {
    context: Arc<ServerContext>,
    peer: SocketAddr,
    idle_timeout: Duration,
    session: Session,
    kick: Arc<tokio::sync::Notify>,
    stop: watch::Receiver<bool>,
    tokenizer: Tokenizer,
    /// Read buffer, between [`READ_BUFFER_MIN`] and [`READ_BUFFER_MAX`] bytes.
    buffer: Vec<u8>,
    /// The previous reply's allocation, reused for the next reply.
    reply_buffer: Vec<u8>,
    deadline: Instant,
}

impl Exchange {
    /// A fresh session for the client at `peer`.
    fn new(
        context: Arc<ServerContext>,
        peer: SocketAddr,
        idle_timeout: Duration,
        stop: watch::Receiver<bool>,
    ) -> Exchange {
        let session = Session::new(&context, peer.ip());
        let kick = session.kick_signal();
        Exchange {
            context,
            peer,
            idle_timeout,
            session,
            kick,
            stop,
            tokenizer: Tokenizer::new(),
            buffer: vec![0u8; READ_BUFFER_MIN],
            reply_buffer: Vec::new(),
            deadline: Instant::now() + idle_timeout,
        }
    }

    /// Read requests from `stream` and write each reply with one write until
    /// the connection ends or the client is to start TLS.
    async fn run<S: AsyncRead + AsyncWrite + Unpin>(&mut self, stream: &mut S) -> Ended {
        // Set up once, not per request: registering waiters and a timer for
        // every read cost more than answering a GET. The idle timer is moved
        // on only when it fires early (requests just push `deadline` out).
        let stop = stopped(&mut self.stop);
        let kick = self.kick.notified();
        let idle = tokio::time::sleep_until(self.deadline);
        tokio::pin!(stop, kick, idle);
        loop {
            let read = tokio::select! {
                read = stream.read(&mut self.buffer) => read,
                () = &mut idle => {
                    if Instant::now() >= self.deadline {
                        return Ended::Closed("idle too long");
                    }
                    idle.as_mut().reset(self.deadline);
                    continue;
                }
                () = &mut stop => return Ended::Closed("server shutting down"),
                () = &mut kick => return Ended::Closed("its device was removed"),
            };
            let count = match read {
                Ok(0) => return Ended::Closed("closed by client"),
                Ok(count) => count,
                Err(_) => return Ended::Closed("read error"),
            };
            let filled = count == self.buffer.len();
            let mut rest = self.buffer.get(..count).unwrap_or(&[]);
            let mut outgoing: Vec<u8> = Vec::new();
            while !rest.is_empty() {
                let (used, event) = self.tokenizer.push(rest);
                rest = rest.get(used..).unwrap_or(&[]);
                let response = match event {
                    None => continue,
                    Some(Err(error)) => {
                        // upsd logs "Parse error on sock" and answers nothing.
                        tracing::debug!(client = %self.peer, %error, "request discarded");
                        continue;
                    }
                    Some(Ok(line)) => {
                        // A line has at most MAX_TOKENS tokens: no allocation for them.
                        let mut tokens = [""; MAX_TOKENS];
                        let mut used_tokens = 0;
                        for (slot, token) in tokens.iter_mut().zip(line.tokens()) {
                            *slot = token;
                            used_tokens += 1;
                        }
                        let tokens = tokens.get(..used_tokens).unwrap_or(&[]);
                        let buffer = std::mem::take(&mut self.reply_buffer);
                        handle_request_into(&self.context, &mut self.session, tokens, buffer)
                    }
                };
                self.deadline = Instant::now() + self.idle_timeout;
                if let Some(pending_write) = response.pending_write {
                    // Runs on after this connection ends: the device still
                    // reports, and tracking records it.
                    tokio::spawn(pending_write);
                }
                // Replies to requests that arrived together (a pipelining
                // client) leave in one write after this read's last request,
                // as the reply to one request does; a reply that ends the
                // plain-text stretch is written at once.
                if outgoing.is_empty() {
                    outgoing = response.reply;
                } else {
                    outgoing.extend_from_slice(&response.reply);
                    keep_reply_buffer(&mut self.reply_buffer, response.reply);
                }
                let ends_stretch = response.close || response.start_tls;
                if (ends_stretch || outgoing.len() >= COALESCE_LIMIT)
                    && let Err(reason) = flush_replies(stream, &mut outgoing, &mut self.reply_buffer).await
                {
                    return Ended::Closed(reason);
                }
                if response.close {
                    return Ended::Closed("logged out");
                }
                if response.start_tls {
                    if !rest.is_empty() {
                        // Bytes sent before the client could see `OK STARTTLS`
                        // are not a handshake; treating them as commands or
                        // as TLS would let an attacker inject plain text into
                        // the protected session.
                        tracing::warn!(
                            client = %self.peer,
                            "client sent more data after STARTTLS before the TLS handshake; closing"
                        );
                        return Ended::Closed("data after STARTTLS");
                    }
                    return Ended::StartTls;
                }
            }
            if let Err(reason) = flush_replies(stream, &mut outgoing, &mut self.reply_buffer).await {
                return Ended::Closed(reason);
            }
            resize_read_buffer(&mut self.buffer, filled, count);
        }
    }

    /// The TLS handshake after `OK STARTTLS`, bounded by the idle deadline.
    /// A failure is logged with the client's address and ends only this
    /// connection.
    async fn handshake(&mut self, stream: TcpStream) -> Result<TlsStream<TcpStream>, &'static str> {
        let Some(tls) = self.context.tls.clone() else {
            // The session accepts STARTTLS only with a certificate.
            return Err("STARTTLS without a certificate");
        };
        let accept = tls.acceptor().accept(stream);
        let outcome = tokio::select! {
            outcome = tokio::time::timeout_at(self.deadline, accept) => outcome,
            () = stopped(&mut self.stop) => return Err("server shutting down"),
            () = self.kick.notified() => return Err("its device was removed"),
        };
        match outcome {
            Ok(Ok(tls)) => {
                self.deadline = Instant::now() + self.idle_timeout;
                Ok(tls)
            }
            Ok(Err(error)) => {
                tracing::warn!(client = %self.peer, %error, "TLS handshake failed");
                Err("TLS handshake failed")
            }
            Err(_) => {
                tracing::warn!(client = %self.peer, "TLS handshake not completed in time");
                Err("TLS handshake timed out")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use hazel_state::{DeviceState, Edit, StateStore};
    use tokio::io::ReadBuf;

    use super::*;
    use crate::{ReadOnlyControl, Users};

    /// A connection whose client sent `input` in one segment and then
    /// closed; every write the server makes is recorded on its own.
    struct ScriptedStream {
        input: Vec<u8>,
        writes: Vec<Vec<u8>>,
    }

    impl AsyncRead for ScriptedStream {
        fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
            let n = buf.remaining().min(self.input.len());
            let chunk: Vec<u8> = self.input.drain(..n).collect();
            buf.put_slice(&chunk);
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for ScriptedStream {
        fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
            self.writes.push(data.to_vec());
            Poll::Ready(Ok(data.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn exchange() -> (Exchange, watch::Sender<bool>) {
        let store = Arc::new(StateStore::new());
        let device = DeviceState::new("ups1", None);
        device.apply_update([Edit::SetValue("ups.status".into(), "OL".into())]);
        store.insert(device);
        let users = Users::parse("upsd.users", "").expect("empty users file");
        let context = Arc::new(ServerContext::new(store, Arc::new(ReadOnlyControl), users, &UpsdConf::default()));
        // The caller keeps the sender: a dropped one reads as "stopping".
        let (stop_sender, stop) = watch::channel(false);
        let exchange = Exchange::new(context, SocketAddr::from(([127, 0, 0, 1], 40000)), IDLE_TIMEOUT, stop);
        (exchange, stop_sender)
    }

    async fn run(input: &[u8]) -> (Vec<Vec<u8>>, &'static str) {
        let mut stream = ScriptedStream { input: input.to_vec(), writes: Vec::new() };
        let (mut exchange, _stop) = exchange();
        let reason = match exchange.run(&mut stream).await {
            Ended::Closed(reason) => reason,
            Ended::StartTls => "start TLS",
        };
        (stream.writes, reason)
    }

    #[tokio::test]
    async fn pipelined_requests_are_answered_in_one_write() {
        let (writes, reason) = run(b"GET VAR ups1 ups.status\nGET VAR ups1 nosuch\nVER\n").await;
        assert_eq!(reason, "closed by client");
        assert_eq!(writes.len(), 1, "{writes:?}");
        let text = String::from_utf8(writes[0].clone()).unwrap();
        assert_eq!(
            text,
            "VAR ups1 ups.status \"OL\"\nERR VAR-NOT-SUPPORTED\nNetwork UPS Tools upsd 2.8.0 - http://www.networkupstools.org/\n"
        );
    }

    #[tokio::test]
    async fn a_partial_line_does_not_hold_back_earlier_replies() {
        // The second request is incomplete: the first is answered now.
        let (writes, _) = run(b"GET VAR ups1 ups.status\nGET VAR ups1").await;
        assert_eq!(writes, vec![b"VAR ups1 ups.status \"OL\"\n".to_vec()]);
    }

    #[tokio::test]
    async fn logout_writes_what_came_before_it_and_ends_the_connection() {
        let (writes, reason) = run(b"VER\nLOGOUT\nVER\n").await;
        assert_eq!(reason, "logged out");
        let text: Vec<u8> = writes.concat();
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "Network UPS Tools upsd 2.8.0 - http://www.networkupstools.org/\nOK Goodbye\n"
        );
    }

    #[tokio::test]
    async fn large_pipelined_replies_are_written_in_bounded_pieces() {
        let request = "HELP\n".repeat(4000);
        let (writes, _) = run(request.as_bytes()).await;
        assert!(writes.len() > 1, "{} writes", writes.len());
        assert!(writes.iter().all(|w| w.len() < COALESCE_LIMIT + 512), "a write exceeds the bound");
        let answered = writes.concat().split(|&b| b == b'\n').filter(|l| l.starts_with(b"Commands:")).count();
        assert_eq!(answered, 4000);
    }
}
