//! The reference server: answers every request line with one fixed `GET VAR`
//! reply and does nothing else, on one tokio thread in a child process.
//!
//! No server can answer a closed-loop client for less, so its throughput is
//! the most this machine, its loopback TCP and this load generator can show
//! for any server: the ceiling that puts the hazel/upsd ratios in proportion.

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::servers::Target;

/// The subcommand `hazel-bench` runs itself with to become the reference server.
pub const SUBCOMMAND: &str = "noop-server";

/// The fixed reply, as long as upsd's and Hazel's answer to the benchmark's `GET VAR`.
const REPLY: &[u8] = b"VAR apc ups.status \"OL\"\n";

/// The reference server in a child process, killed on drop.
pub struct NoopServer {
    child: Child,
    addr: SocketAddr,
}

impl NoopServer {
    /// Start `hazel-bench noop-server` and read the address it listens on.
    pub fn start() -> anyhow::Result<NoopServer> {
        let exe = std::env::current_exe().context("locating hazel-bench")?;
        let mut child = Command::new(exe)
            .arg(SUBCOMMAND)
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the reference server")?;
        let mut line = String::new();
        let stdout = child.stdout.take().context("reference server stdout")?;
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
            .context("reading the reference server's address")?;
        let addr = line.trim().parse().with_context(|| format!("reference server said {line:?}"))?;
        Ok(NoopServer { child, addr })
    }

    /// The server to measure.
    pub fn target(&self) -> Target {
        Target { name: "no-op", addr: self.addr, pid: self.child.id() }
    }
}

impl Drop for NoopServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Body of the `noop-server` subcommand: listen on a free 127.0.0.1 port,
/// print it, and serve until killed.
pub fn serve() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.context("binding the reference server")?;
        let mut stdout = std::io::stdout();
        writeln!(stdout, "{}", listener.local_addr()?)?;
        stdout.flush()?;
        loop {
            let (mut stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            tokio::spawn(async move {
                let mut buffer = [0u8; 16 * 1024];
                let mut reply = Vec::new();
                loop {
                    let count = match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(count) => count,
                    };
                    let lines = buffer.get(..count).unwrap_or(&[]).iter().filter(|&&b| b == b'\n').count();
                    reply.clear();
                    for _ in 0..lines {
                        reply.extend_from_slice(REPLY);
                    }
                    if !reply.is_empty() && stream.write_all(&reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    })
}
