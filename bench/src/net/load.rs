//! The load generator: NUT clients over TCP that send one request, read the
//! whole reply, and send the next (request after reply, as upsmon and upsc do).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// One client connection to a NUT server.
#[derive(Debug)]
pub struct NutClient {
    stream: TcpStream,
    buffer: Vec<u8>,
}

/// What a reply was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    /// Anything but an error.
    Ok,
    /// `ERR …`.
    Err,
}

impl NutClient {
    /// Connect to `addr` (Nagle off: requests are single small writes).
    pub async fn connect(addr: SocketAddr) -> io::Result<NutClient> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(NutClient { stream, buffer: Vec::with_capacity(8192) })
    }

    /// Send `request` (one line, newline included) and read its complete
    /// reply: one line, or a `BEGIN LIST` … `END LIST` block.
    pub async fn request(&mut self, request: &[u8]) -> io::Result<ReplyKind> {
        self.exchange(request, reply_complete).await?;
        Ok(if self.buffer.starts_with(b"ERR ") { ReplyKind::Err } else { ReplyKind::Ok })
    }

    /// Send `requests` (several request lines in one write, as a pipelining
    /// client does) and read until `replies` one-line replies arrived.
    pub async fn pipelined(&mut self, requests: &[u8], replies: usize) -> io::Result<ReplyKind> {
        self.exchange(requests, |read| read.iter().filter(|&&b| b == b'\n').count() >= replies).await?;
        let any_error = self.buffer.split(|&b| b == b'\n').any(|line| line.starts_with(b"ERR "));
        Ok(if any_error { ReplyKind::Err } else { ReplyKind::Ok })
    }

    /// Write `bytes`, then read into the reply buffer until `complete` says
    /// what was read is whole.
    async fn exchange(&mut self, bytes: &[u8], complete: impl Fn(&[u8]) -> bool) -> io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.buffer.clear();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let count = self.stream.read(&mut chunk).await?;
            if count == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection"));
            }
            self.buffer.extend_from_slice(chunk.get(..count).unwrap_or(&[]));
            if complete(&self.buffer) {
                return Ok(());
            }
        }
    }

    /// The last reply read.
    pub fn last_reply(&self) -> &[u8] {
        &self.buffer
    }
}

/// Whether `reply` is a whole reply: newline-terminated, and if it opens a
/// `BEGIN LIST` block, its last line is the `END LIST`.
fn reply_complete(reply: &[u8]) -> bool {
    let Some((&b'\n', body)) = reply.split_last() else {
        return false;
    };
    if !reply.starts_with(b"BEGIN ") {
        return true;
    }
    let last_line = body.iter().rposition(|&b| b == b'\n').map_or(body, |at| body.get(at + 1..).unwrap_or(&[]));
    last_line.starts_with(b"END ")
}

/// Latencies of completed requests.
#[derive(Debug, Default)]
pub struct Latencies {
    sorted: Vec<Duration>,
}

impl Latencies {
    fn from_samples(mut samples: Vec<Duration>) -> Latencies {
        samples.sort_unstable();
        Latencies { sorted: samples }
    }

    /// The `p`-th percentile (0–100), or zero without samples.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((self.sorted.len() as f64 - 1.0) * p / 100.0).round() as usize;
        self.sorted.get(rank.min(self.sorted.len() - 1)).copied().unwrap_or_default()
    }

    /// How many requests completed.
    pub fn count(&self) -> usize {
        self.sorted.len()
    }
}

/// The outcome of one closed-loop run.
#[derive(Debug)]
pub struct LoadResult {
    /// Requests completed inside the measuring window, with their latency.
    pub latencies: Latencies,
    /// `ERR` replies among them.
    pub errors: u64,
    /// Clients whose connection failed during the run.
    pub failed_clients: usize,
    /// The measuring window.
    pub window: Duration,
    /// The first error reply seen, to show what went wrong.
    pub first_error: Option<String>,
    /// Requests per round trip (1, or the pipeline depth).
    pub per_round: usize,
}

impl LoadResult {
    /// Completed requests per second.
    pub fn rate(&self) -> f64 {
        self.requests() as f64 / self.window.as_secs_f64()
    }

    /// Completed requests (round trips times requests per round trip).
    pub fn requests(&self) -> usize {
        self.latencies.count() * self.per_round
    }
}

/// Every client sends its request (`requests[i % len]`) after each reply for
/// `warmup + window`; only requests that start inside the window count.
/// With `depth` above 1 each round trip sends the request `depth` times in
/// one write and waits for all `depth` (one-line) replies; latencies are
/// per round trip.
pub async fn closed_loop(
    clients: Vec<NutClient>,
    requests: &[Vec<u8>],
    depth: usize,
    warmup: Duration,
    window: Duration,
) -> LoadResult {
    let start = Instant::now() + warmup;
    let end = start + window;
    let mut tasks = JoinSet::new();
    for (index, mut client) in clients.into_iter().enumerate() {
        let request = requests.get(index % requests.len().max(1)).cloned().unwrap_or_default().repeat(depth.max(1));
        tasks.spawn(async move {
            let mut samples = Vec::new();
            let mut errors = 0u64;
            let mut first_error = None;
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let answered =
                    if depth > 1 { client.pipelined(&request, depth).await } else { client.request(&request).await };
                match answered {
                    Ok(kind) => {
                        let done = Instant::now();
                        if sent >= start && done <= end {
                            samples.push(done - sent);
                            if kind == ReplyKind::Err {
                                errors += 1;
                                first_error
                                    .get_or_insert_with(|| String::from_utf8_lossy(client.last_reply()).into_owned());
                            }
                        }
                    }
                    Err(error) => return (samples, errors, first_error.or(Some(error.to_string())), true),
                }
            }
            (samples, errors, first_error, false)
        });
    }
    let mut samples = Vec::new();
    let mut errors = 0;
    let mut failed_clients = 0;
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((client_samples, client_errors, client_first_error, failed)) => {
                samples.extend(client_samples);
                errors += client_errors;
                failed_clients += usize::from(failed);
                first_error = first_error.or(client_first_error);
            }
            Err(_) => failed_clients += 1,
        }
    }
    LoadResult {
        latencies: Latencies::from_samples(samples),
        errors,
        failed_clients,
        window,
        first_error,
        per_round: depth.max(1),
    }
}

/// The outcome of opening many connections.
#[derive(Debug)]
pub struct OpenResult {
    /// The connections that were accepted and answered their first request, still open.
    pub clients: Vec<NutClient>,
    /// Connections that failed or did not answer in time.
    pub failed: usize,
    /// From the first connect to the last first reply.
    pub elapsed: Duration,
    /// From the first connect to each first reply, of the answered connections.
    pub answer_times: Latencies,
    /// The first failure, to show what went wrong.
    pub first_failure: Option<String>,
}

/// Open `count` connections to `addr`, at most `parallel` in flight at once,
/// each proven accepted by an answer to `probe`. A connection gets
/// `per_connection` from its connect to that answer, and nothing starts or
/// finishes after `limit`.
pub async fn open_many(
    addr: SocketAddr,
    count: usize,
    parallel: usize,
    probe: &[u8],
    per_connection: Duration,
    limit: Duration,
) -> OpenResult {
    let began = Instant::now();
    let deadline = began + limit;
    let gate = Arc::new(Semaphore::new(parallel.max(1)));
    let mut tasks = JoinSet::new();
    for _ in 0..count {
        let gate = gate.clone();
        let probe = probe.to_vec();
        tasks.spawn(async move {
            let opened = async {
                let _permit = gate.acquire_owned().await.map_err(io::Error::other)?;
                let attempt = async {
                    let mut client = NutClient::connect(addr).await?;
                    client.request(&probe).await?;
                    io::Result::Ok(client)
                };
                tokio::time::timeout(per_connection, attempt).await.map_err(|_| {
                    io::Error::new(io::ErrorKind::TimedOut, format!("no reply within {per_connection:?}"))
                })?
            };
            match tokio::time::timeout_at(deadline, opened).await {
                Ok(Ok(client)) => Ok((client, began.elapsed())),
                Ok(Err(error)) => Err(error.to_string()),
                Err(_) => Err(format!("not connected and answered within {limit:?} of the start")),
            }
        });
    }
    let mut result = OpenResult {
        clients: Vec::new(),
        failed: 0,
        elapsed: Duration::ZERO,
        answer_times: Latencies::default(),
        first_failure: None,
    };
    let mut answer_times = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined.map_err(|e| e.to_string()).and_then(|outcome| outcome) {
            Ok((client, at)) => {
                result.elapsed = result.elapsed.max(at);
                answer_times.push(at);
                result.clients.push(client);
            }
            Err(failure) => {
                result.failed += 1;
                result.first_failure.get_or_insert(failure);
            }
        }
    }
    result.answer_times = Latencies::from_samples(answer_times);
    result
}

/// Send `request` on every client, `parallel` at a time; returns how many
/// answered without an error, and the first failure.
pub async fn check_all(
    clients: Vec<NutClient>,
    request: &[u8],
    parallel: usize,
    timeout: Duration,
) -> (usize, Vec<NutClient>, Option<String>) {
    let gate = Arc::new(Semaphore::new(parallel.max(1)));
    let mut tasks = JoinSet::new();
    for mut client in clients {
        let gate = gate.clone();
        let request = request.to_vec();
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let answer = tokio::time::timeout(timeout, client.request(&request)).await;
            let outcome = match answer {
                Ok(Ok(ReplyKind::Ok)) => Ok(()),
                Ok(Ok(ReplyKind::Err)) => Err(String::from_utf8_lossy(client.last_reply()).trim_end().to_string()),
                Ok(Err(error)) => Err(error.to_string()),
                Err(_) => Err(format!("no reply within {timeout:?}")),
            };
            (client, outcome)
        });
    }
    let mut answered = 0;
    let mut kept = Vec::new();
    let mut first_failure = None;
    while let Some(joined) = tasks.join_next().await {
        let Ok((client, outcome)) = joined else { continue };
        match outcome {
            Ok(()) => answered += 1,
            Err(failure) => {
                first_failure.get_or_insert(failure);
            }
        }
        kept.push(client);
    }
    (answered, kept, first_failure)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_replies_end_at_the_newline() {
        assert!(!reply_complete(b""));
        assert!(!reply_complete(b"VAR ups ups.status \"OL"));
        assert!(reply_complete(b"VAR ups ups.status \"OL\"\n"));
        assert!(reply_complete(b"ERR UNKNOWN-UPS\n"));
    }

    #[test]
    fn list_replies_end_at_their_end_line() {
        assert!(!reply_complete(b"BEGIN LIST VAR ups\n"));
        assert!(!reply_complete(b"BEGIN LIST VAR ups\nVAR ups a \"1\"\n"));
        assert!(!reply_complete(b"BEGIN LIST VAR ups\nVAR ups a \"1\"\nEND LIST VAR u"));
        assert!(reply_complete(b"BEGIN LIST VAR ups\nVAR ups a \"1\"\nEND LIST VAR ups\n"));
        assert!(reply_complete(b"BEGIN LIST VAR ups\nEND LIST VAR ups\n"));
    }

    #[test]
    fn percentiles_pick_from_sorted_samples() {
        let samples = (1..=100).rev().map(Duration::from_micros).collect();
        let latencies = Latencies::from_samples(samples);
        assert_eq!(latencies.percentile(50.0), Duration::from_micros(51));
        assert_eq!(latencies.percentile(99.0), Duration::from_micros(99));
        assert_eq!(latencies.percentile(100.0), Duration::from_micros(100));
        assert_eq!(Latencies::default().percentile(50.0), Duration::ZERO);
    }

    #[tokio::test]
    async fn a_client_reads_a_whole_list_split_across_writes() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut line = [0u8; 64];
            let _ = stream.read(&mut line).await.unwrap();
            for part in ["BEGIN LIST VAR u\n", "VAR u a \"1\"\n", "END LIST VAR u\n"] {
                stream.write_all(part.as_bytes()).await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let _ = stream.read(&mut line).await.unwrap();
            stream.write_all(b"ERR UNKNOWN-UPS\n").await.unwrap();
        });
        let mut client = NutClient::connect(addr).await.unwrap();
        assert_eq!(client.request(b"LIST VAR u\n").await.unwrap(), ReplyKind::Ok);
        assert_eq!(client.last_reply(), b"BEGIN LIST VAR u\nVAR u a \"1\"\nEND LIST VAR u\n");
        assert_eq!(client.request(b"GET VAR x y\n").await.unwrap(), ReplyKind::Err);
        server.await.unwrap();
    }
}
