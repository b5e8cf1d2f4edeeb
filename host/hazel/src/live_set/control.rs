//! The control socket `hazel drivers` talks to, like NUT's upsdrvctl and
//! upsdrvsvcctl do to drivers and their services.
//!
//! Protocol: the client sends one line (`LIST`, `STATUS <name>`,
//! `START <name>`, `STOP <name>`, `RESTART <name>`, `RELOAD`); the server
//! answers with text lines and a last line `OK` or `ERR <message>`, then
//! closes. Root-only by default: the socket is mode 0600 in a 0700 directory,
//! and peers of another user (unless root) are refused.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::{ReloadCause, Request, Requester};

/// Longest request line accepted.
const MAX_LINE: usize = 1024;
/// How long a client may take to send its line.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Parse one request line.
pub fn parse_request(line: &str) -> Result<Request, String> {
    let mut words = line.split_whitespace();
    let verb = words.next().unwrap_or_default().to_ascii_uppercase();
    let name = words.next().map(str::to_string);
    if words.next().is_some() {
        return Err("too many arguments".into());
    }
    let named =
        |make: fn(String) -> Request| name.clone().map(make).ok_or_else(|| format!("{verb} needs a device name"));
    match verb.as_str() {
        "LIST" if name.is_none() => Ok(Request::List),
        "RELOAD" if name.is_none() => Ok(Request::Reload(ReloadCause::Control)),
        "STATUS" => named(Request::Status),
        "START" => named(Request::Start),
        "STOP" => named(Request::Stop),
        "RESTART" => named(Request::Restart),
        "LIST" | "RELOAD" => Err(format!("{verb} takes no argument")),
        _ => Err(format!("unknown request {verb:?}; expected LIST, STATUS, START, STOP, RESTART or RELOAD")),
    }
}

/// The listening control socket; removes its file when dropped.
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl ControlSocket {
    /// Bind `path`. A socket file nobody answers on is replaced; one a live
    /// server answers on is left alone (`Ok(None)`: another `hazel serve`
    /// owns it, and this one runs without a control socket).
    pub async fn bind(path: &Path) -> anyhow::Result<Option<ControlSocket>> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.exists()
        {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        if path.exists() {
            if UnixStream::connect(path).await.is_ok() {
                return Ok(None);
            }
            std::fs::remove_file(path).with_context(|| format!("cannot remove the stale {}", path.display()))?;
        }
        let listener = UnixListener::bind(path).with_context(|| format!("cannot listen on {}", path.display()))?;
        let socket = ControlSocket { listener, path: path.to_path_buf() };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot make {} private", path.display()))?;
        Ok(Some(socket))
    }

    /// Serve clients until the task is dropped.
    pub fn spawn(self, set: Requester) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                match self.listener.accept().await {
                    Ok((stream, _)) => {
                        tokio::spawn(serve_client(stream, set.clone()));
                    }
                    Err(error) => {
                        tracing::warn!(%error, "control socket accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        })
    }
}

async fn serve_client(stream: UnixStream, set: Requester) {
    // SAFETY: geteuid has no preconditions.
    let own_uid = unsafe { libc::geteuid() };
    let allowed = stream.peer_cred().is_ok_and(|cred| cred.uid() == 0 || cred.uid() == own_uid);
    let (read, mut write) = stream.into_split();
    let reply = if allowed {
        let mut line = String::new();
        let mut reader = BufReader::new(read.take(MAX_LINE as u64));
        match tokio::time::timeout(READ_TIMEOUT, reader.read_line(&mut line)).await {
            Ok(Ok(_)) => match parse_request(line.trim()) {
                Ok(request) => set.request(request).await,
                Err(message) => Err(message),
            },
            Ok(Err(error)) => Err(format!("cannot read the request: {error}")),
            Err(_) => Err("no request received in time".into()),
        }
    } else {
        Err("permission denied".into())
    };
    let mut text = String::new();
    match reply {
        Ok(lines) => {
            for line in lines {
                text.push_str(&line);
                text.push('\n');
            }
            text.push_str("OK\n");
        }
        Err(message) => text.push_str(&format!("ERR {}\n", message.replace('\n', " "))),
    }
    if let Err(error) = write.write_all(text.as_bytes()).await {
        tracing::debug!(%error, "control client went away");
    }
}

/// What a client got back: the lines, and whether the server said `OK`.
#[derive(Debug, PartialEq, Eq)]
pub struct ControlAnswer {
    /// The lines before `OK` / `ERR`.
    pub lines: Vec<String>,
    /// `None` for `OK`, the message of `ERR`.
    pub error: Option<String>,
}

/// Send `request` (one protocol line) to the server at `path`.
pub async fn send(path: &Path, request: &str) -> anyhow::Result<ControlAnswer> {
    let stream = UnixStream::connect(path).await.with_context(|| {
        format!(
            "cannot reach hazel serve at {} (is it running? control_socket in hazel.toml and --socket must agree)",
            path.display()
        )
    })?;
    let (read, mut write) = stream.into_split();
    write.write_all(format!("{request}\n").as_bytes()).await.context("cannot send the request")?;
    let mut lines = Vec::new();
    let mut reader = BufReader::new(read).lines();
    while let Some(line) = reader.next_line().await.context("cannot read the answer")? {
        if line == "OK" {
            return Ok(ControlAnswer { lines, error: None });
        }
        if let Some(message) = line.strip_prefix("ERR ") {
            return Ok(ControlAnswer { lines, error: Some(message.to_string()) });
        }
        lines.push(line);
    }
    anyhow::bail!("hazel serve closed the control connection without an answer")
}

/// `hazel drivers ...`: send `request` to the socket `socket` or hazel.toml
/// names, print the answer; exit 1 with the server's message on `ERR`.
pub async fn drivers(confdir: &Path, socket: Option<PathBuf>, request: &str) -> anyhow::Result<ExitCode> {
    let path = match socket {
        Some(path) => path,
        None => crate::host_settings::HostSettings::load(confdir)?.control_socket(),
    };
    let answer = send(&path, request).await?;
    for line in &answer.lines {
        println!("{line}");
    }
    Ok(match answer.error {
        None => ExitCode::SUCCESS,
        Some(message) => {
            eprintln!("hazel drivers: {message}");
            ExitCode::FAILURE
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse() {
        assert_eq!(parse_request("LIST"), Ok(Request::List));
        assert_eq!(parse_request("status ups1"), Ok(Request::Status("ups1".into())));
        assert_eq!(parse_request("RELOAD"), Ok(Request::Reload(ReloadCause::Control)));
        assert_eq!(parse_request("STOP"), Err("STOP needs a device name".into()));
        assert_eq!(parse_request("LIST x"), Err("LIST takes no argument".into()));
        assert!(parse_request("START a b").is_err());
        assert!(parse_request("FLY").unwrap_err().starts_with("unknown request"));
    }

    #[tokio::test]
    async fn a_socket_is_private_and_answers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/control.sock");
        let socket = ControlSocket::bind(&path).await.unwrap().unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
        // A second server leaves a live socket alone.
        assert!(ControlSocket::bind(&path).await.unwrap().is_none());
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        let set = Requester { requests: tx };
        tokio::spawn(async move {
            while let Some((request, reply)) = rx.recv().await {
                let _ = reply.send(match request {
                    Request::List => Ok(vec!["a line".to_string()]),
                    other => Err(format!("not here: {other:?}")),
                });
            }
        });
        let server = socket.spawn(set);
        let answer = send(&path, "LIST").await.unwrap();
        assert_eq!(answer, ControlAnswer { lines: vec!["a line".into()], error: None });
        let answer = send(&path, "STOP x").await.unwrap();
        assert_eq!(answer.error.as_deref(), Some("not here: Stop(\"x\")"));
        let answer = send(&path, "nonsense").await.unwrap();
        assert!(answer.error.unwrap().starts_with("unknown request"));
        server.abort();
    }
}
