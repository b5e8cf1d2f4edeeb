//! The `serial` capability: the one serial port a device's `port=` names.
//!
//! The host owns the port. It opens it lazily on the first call, with the
//! settings of the last `configure` (2400 8N1 until then), and when the port
//! vanished or failed (an `unavailable` or `io` error) it closes it and tries
//! again on the next call, so a replugged USB adapter needs no restart. The
//! plugin names no path: every call works on the granted port.
//!
//! Hardware sits behind two small traits, so the logic (lazy open, reopen,
//! reads up to a terminator, time budgets) is tested with a fake line:
//! [`PortOpener`] opens a path, a [`SerialLink`] is an open port.
//! [`SystemPorts`] is the real one, on the `serialport` crate. Blocking I/O
//! runs on tokio's blocking pool, never on the executor, and no read or write
//! waits longer than what is left of the plugin call's time budget.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use wasmtime::component::HasData;

use crate::bindings::hazel::plugin::serial::{self as wit, Host, SerialError};
use crate::grants::SerialGrant;
use crate::limits::CallDeadline;

/// Largest `max-bytes` one `read` honours; larger requests are capped.
pub const MAX_READ_BYTES: usize = 64 << 10;

/// Bytes asked of the port per read system call.
const READ_CHUNK: usize = 4096;

/// Parity bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parity {
    /// No parity bit.
    None,
    /// Odd parity.
    Odd,
    /// Even parity.
    Even,
}

/// How the line is framed and clocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineSettings {
    /// Bits per second.
    pub baud_rate: u32,
    /// Data bits per character, 5 to 8.
    pub data_bits: u8,
    /// Parity bit.
    pub parity: Parity,
    /// Stop bits, 1 or 2.
    pub stop_bits: u8,
}

impl Default for LineSettings {
    /// 2400 8N1, what most serial UPSes speak.
    fn default() -> Self {
        LineSettings { baud_rate: 2400, data_bits: 8, parity: Parity::None, stop_bits: 1 }
    }
}

impl LineSettings {
    /// Check the values a port can possibly take; the port may still refuse a
    /// baud rate its hardware lacks.
    pub fn validate(&self) -> Result<(), String> {
        if self.baud_rate == 0 {
            return Err("baud rate 0".into());
        }
        if !(5..=8).contains(&self.data_bits) {
            return Err(format!("{} data bits (must be 5 to 8)", self.data_bits));
        }
        if !(1..=2).contains(&self.stop_bits) {
            return Err(format!("{} stop bits (must be 1 or 2)", self.stop_bits));
        }
        Ok(())
    }
}

impl From<wit::LineSettings> for LineSettings {
    fn from(s: wit::LineSettings) -> Self {
        let parity = match s.parity {
            wit::Parity::None => Parity::None,
            wit::Parity::Odd => Parity::Odd,
            wit::Parity::Even => Parity::Even,
        };
        LineSettings { baud_rate: s.baud_rate, data_bits: s.data_bits, parity, stop_bits: s.stop_bits }
    }
}

/// Why a port operation failed, as the hardware layer reports it (without
/// the port's path, which the capability adds).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The port cannot be opened now: missing, vanished, busy, not permitted.
    #[error("{0}")]
    Unavailable(String),
    /// The port refused the line settings.
    #[error("{0}")]
    InvalidSettings(String),
    /// Any other failure of an open port.
    #[error("{0}")]
    Io(String),
}

/// Opens serial ports by path.
pub trait PortOpener: Send + Sync {
    /// Open `path` with `settings`.
    fn open(&self, path: &Path, settings: &LineSettings) -> Result<Box<dyn SerialLink>, LinkError>;
}

/// An open serial port. Calls may block, at most for the timeout they are given.
pub trait SerialLink: Send {
    /// Change the line settings.
    fn apply(&mut self, settings: &LineSettings) -> Result<(), LinkError>;
    /// Write all of `data`, waiting at most `timeout` for the port to take it.
    fn write_all(&mut self, data: &[u8], timeout: Duration) -> Result<(), LinkError>;
    /// Read what arrives into `buf`, waiting at most `timeout` for the first
    /// byte; `Ok(0)` means nothing arrived in time.
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LinkError>;
    /// Drop whatever was received and not read yet.
    fn discard_input(&mut self) -> Result<(), LinkError>;
    /// Set the DTR and RTS lines.
    fn set_modem_lines(&mut self, dtr: bool, rts: bool) -> Result<(), LinkError>;
}

/// The machine's serial ports, through the `serialport` crate (no libudev:
/// ports are opened by path, never enumerated).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemPorts;

impl PortOpener for SystemPorts {
    fn open(&self, path: &Path, settings: &LineSettings) -> Result<Box<dyn SerialLink>, LinkError> {
        let name = path.to_str().ok_or_else(|| LinkError::Unavailable("the path is not valid UTF-8".into()))?;
        let (data_bits, parity, stop_bits) = port_framing(settings)?;
        // Exclusive (the builder's default): like NUT's drivers, one user per port.
        let port = serialport::new(name, settings.baud_rate)
            .data_bits(data_bits)
            .parity(parity)
            .stop_bits(stop_bits)
            .flow_control(serialport::FlowControl::None)
            .timeout(Duration::ZERO)
            .open_native()
            .map_err(|e| match e.kind() {
                serialport::ErrorKind::InvalidInput => LinkError::InvalidSettings(e.to_string()),
                _ => LinkError::Unavailable(e.to_string()),
            })?;
        // A pseudo-terminal (a simulator, a test) has no modem lines to set.
        let pseudo_terminal = std::fs::canonicalize(path).is_ok_and(|p| p.starts_with("/dev/pts"));
        Ok(Box::new(SystemLink { port, pseudo_terminal }))
    }
}

fn port_framing(
    settings: &LineSettings,
) -> Result<(serialport::DataBits, serialport::Parity, serialport::StopBits), LinkError> {
    use serialport::{DataBits, StopBits};
    settings.validate().map_err(LinkError::InvalidSettings)?;
    let data_bits = match settings.data_bits {
        5 => DataBits::Five,
        6 => DataBits::Six,
        7 => DataBits::Seven,
        _ => DataBits::Eight,
    };
    let parity = match settings.parity {
        Parity::None => serialport::Parity::None,
        Parity::Odd => serialport::Parity::Odd,
        Parity::Even => serialport::Parity::Even,
    };
    let stop_bits = if settings.stop_bits == 2 { StopBits::Two } else { StopBits::One };
    Ok((data_bits, parity, stop_bits))
}

/// A port opened by [`SystemPorts`].
struct SystemLink {
    port: serialport::TTYPort,
    pseudo_terminal: bool,
}

fn io_failure(what: &str, e: impl std::fmt::Display) -> LinkError {
    LinkError::Io(format!("{what}: {e}"))
}

impl SerialLink for SystemLink {
    fn apply(&mut self, settings: &LineSettings) -> Result<(), LinkError> {
        use serialport::SerialPort;
        let (data_bits, parity, stop_bits) = port_framing(settings)?;
        let refused = |e: serialport::Error| LinkError::InvalidSettings(e.to_string());
        self.port.set_baud_rate(settings.baud_rate).map_err(refused)?;
        self.port.set_data_bits(data_bits).map_err(refused)?;
        self.port.set_parity(parity).map_err(refused)?;
        self.port.set_stop_bits(stop_bits).map_err(refused)
    }

    fn write_all(&mut self, mut data: &[u8], timeout: Duration) -> Result<(), LinkError> {
        use serialport::SerialPort;
        use std::io::Write;
        let until = Instant::now() + timeout;
        while !data.is_empty() {
            let left = until.saturating_duration_since(Instant::now());
            self.port.set_timeout(left).map_err(|e| io_failure("write", e))?;
            match self.port.write(data) {
                Ok(0) => return Err(LinkError::Io("write: the port accepted no data".into())),
                Ok(n) => data = &data[n..],
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                    return Err(LinkError::Io(format!(
                        "write: timed out after {timeout:?} with {} bytes left",
                        data.len()
                    )));
                }
                Err(e) => return Err(io_failure("write", e)),
            }
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LinkError> {
        use serialport::SerialPort;
        use std::io::Read;
        let until = Instant::now() + timeout;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            self.port.set_timeout(left).map_err(|e| io_failure("read", e))?;
            return match self.port.read(buf) {
                // A terminal reads 0 bytes only once the other side hung up.
                Ok(0) => Err(LinkError::Io("read: the port hung up".into())),
                Ok(n) => Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Ok(0),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => Err(io_failure("read", e)),
            };
        }
    }

    fn discard_input(&mut self) -> Result<(), LinkError> {
        use serialport::SerialPort;
        self.port.clear(serialport::ClearBuffer::Input).map_err(|e| io_failure("discard input", e))
    }

    fn set_modem_lines(&mut self, dtr: bool, rts: bool) -> Result<(), LinkError> {
        use serialport::SerialPort;
        if self.pseudo_terminal {
            return Ok(());
        }
        self.port.write_data_terminal_ready(dtr).map_err(|e| io_failure("set DTR", e))?;
        self.port.write_request_to_send(rts).map_err(|e| io_failure("set RTS", e))
    }
}

/// The port of one device and what the host remembers about it between
/// calls. Synchronous: the capability runs it on the blocking pool.
struct PortSession {
    device: String,
    path: PathBuf,
    opener: Arc<dyn PortOpener>,
    settings: LineSettings,
    /// The last `set-modem-lines`, re-applied on every open.
    modem_lines: Option<(bool, bool)>,
    link: Option<Box<dyn SerialLink>>,
    /// Bytes read from the port past a terminator, handed out by the next `read`.
    pending: Vec<u8>,
    /// The port is known to be down (logged once, not on every retry).
    down: bool,
}

impl PortSession {
    fn port(&self) -> String {
        self.path.display().to_string()
    }

    /// The open link, opening the port first if needed.
    fn link(&mut self) -> Result<&mut Box<dyn SerialLink>, SerialError> {
        if self.link.is_none() {
            let opened = self.opener.open(&self.path, &self.settings).and_then(|mut link| {
                if let Some((dtr, rts)) = self.modem_lines {
                    link.set_modem_lines(dtr, rts)?;
                }
                Ok(link)
            });
            match opened {
                Ok(link) => {
                    if self.down {
                        tracing::info!(device = %self.device, port = %self.port(), "serial port is back");
                        self.down = false;
                    }
                    self.pending.clear();
                    self.link = Some(link);
                }
                Err(LinkError::InvalidSettings(e)) => {
                    return Err(SerialError::InvalidSettings(format!("serial port {}: {e}", self.port())));
                }
                Err(LinkError::Unavailable(e) | LinkError::Io(e)) => {
                    let message = format!("cannot open serial port {}: {e}", self.port());
                    if !self.down {
                        tracing::warn!(device = %self.device, "{message}; retrying on the next call");
                        self.down = true;
                    }
                    return Err(SerialError::Unavailable(message));
                }
            }
        }
        Ok(self.link.as_mut().expect("opened above"))
    }

    /// Turn a failure of the open link into the plugin's error; an I/O failure
    /// closes the port, to be reopened on the next call.
    fn failed(&mut self, error: LinkError) -> SerialError {
        let port = self.port();
        match error {
            LinkError::InvalidSettings(e) => SerialError::InvalidSettings(format!("serial port {port}: {e}")),
            LinkError::Unavailable(e) | LinkError::Io(e) => {
                let message = format!("serial port {port}: {e}");
                if !self.down {
                    tracing::warn!(device = %self.device, "{message}; closing it, reopening on the next call");
                    self.down = true;
                }
                self.link = None;
                self.pending.clear();
                SerialError::Io(message)
            }
        }
    }

    fn configure(&mut self, settings: LineSettings) -> Result<(), SerialError> {
        settings.validate().map_err(|e| SerialError::InvalidSettings(format!("serial port {}: {e}", self.port())))?;
        if let Some(link) = self.link.as_mut()
            && let Err(e) = link.apply(&settings)
        {
            // The port may be half-configured: close it; the next open uses the previous settings.
            self.link = None;
            self.pending.clear();
            return Err(match e {
                LinkError::InvalidSettings(e) => {
                    SerialError::InvalidSettings(format!("serial port {}: {e}", self.port()))
                }
                other => self.failed(other),
            });
        }
        self.settings = settings;
        Ok(())
    }

    fn write(&mut self, data: &[u8], budget: Duration) -> Result<(), SerialError> {
        let result = self.link()?.write_all(data, budget);
        result.map_err(|e| self.failed(e))
    }

    /// Up to `max` bytes, ending at `terminator` (included) if it comes
    /// first, or whatever arrived within `timeout`.
    fn read(&mut self, max: usize, terminator: Option<u8>, timeout: Duration) -> Result<Vec<u8>, SerialError> {
        let max = max.min(MAX_READ_BYTES);
        let until = Instant::now() + timeout;
        loop {
            if let Some(answer) = self.take_complete(max, terminator) {
                return Ok(answer);
            }
            let mut chunk = vec![0; READ_CHUNK.min(max - self.pending.len())];
            let left = until.saturating_duration_since(Instant::now());
            let result = self.link()?.read(&mut chunk, left);
            match result {
                Ok(0) => return Ok(std::mem::take(&mut self.pending)),
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(self.failed(e)),
            }
        }
    }

    /// A complete answer from the pending bytes: through the terminator, or
    /// `max` bytes (a request for nothing is complete at once).
    fn take_complete(&mut self, max: usize, terminator: Option<u8>) -> Option<Vec<u8>> {
        let window = self.pending.len().min(max);
        let end = match terminator.and_then(|t| self.pending[..window].iter().position(|&b| b == t)) {
            Some(at) => at + 1,
            None if self.pending.len() >= max => max,
            None => return None,
        };
        Some(self.pending.drain(..end).collect())
    }

    fn discard_input(&mut self) -> Result<(), SerialError> {
        self.pending.clear();
        let result = self.link()?.discard_input();
        result.map_err(|e| self.failed(e))
    }

    fn set_modem_lines(&mut self, dtr: bool, rts: bool) -> Result<(), SerialError> {
        self.modem_lines = Some((dtr, rts));
        let result = self.link()?.set_modem_lines(dtr, rts);
        result.map_err(|e| self.failed(e))
    }
}

/// The serial port one device may use; grants nothing when its configuration names none.
pub struct SerialCapability {
    session: Option<Arc<Mutex<PortSession>>>,
}

impl SerialCapability {
    /// The capability of device `device`, opening `grant`'s port (if any) with `opener`.
    pub fn new(device: &str, grant: Option<&SerialGrant>, opener: Arc<dyn PortOpener>) -> Self {
        let session = grant.map(|grant| {
            Arc::new(Mutex::new(PortSession {
                device: device.to_string(),
                path: grant.path.clone(),
                opener,
                settings: LineSettings::default(),
                modem_lines: None,
                link: None,
                pending: Vec::new(),
                down: false,
            }))
        });
        SerialCapability { session }
    }

    /// Run `op` on the port, on the blocking pool.
    async fn run<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut PortSession) -> Result<T, SerialError> + Send + 'static,
    ) -> wasmtime::Result<Result<T, SerialError>> {
        let Some(session) = self.session.clone() else {
            // The import check refuses such plugins; only a describe-only instance gets here.
            return Ok(Err(SerialError::Unavailable("this device was granted no serial port".into())));
        };
        let task = tokio::task::spawn_blocking(move || op(&mut session.lock().unwrap_or_else(PoisonError::into_inner)));
        match task.await {
            Ok(result) => Ok(result),
            Err(e) => Err(wasmtime::Error::msg(format!("serial port task failed: {e}"))),
        }
    }
}

/// The serial capability as the linker sees it: the port, plus the deadline
/// of the plugin call in progress, which bounds every wait.
pub struct SerialHost<'a> {
    /// The device's port.
    pub port: &'a mut SerialCapability,
    /// The deadline of the call in progress.
    pub deadline: &'a CallDeadline,
}

impl SerialHost<'_> {
    /// What is left of the call's budget (nothing when no call is running).
    fn budget(&self) -> Duration {
        self.deadline.remaining().unwrap_or(Duration::ZERO)
    }
}

/// Marker type projecting a store's data onto a [`SerialHost`] for the linker.
pub struct SerialAccess;

impl HasData for SerialAccess {
    type Data<'a> = SerialHost<'a>;
}

impl Host for SerialHost<'_> {
    async fn configure(&mut self, settings: wit::LineSettings) -> wasmtime::Result<Result<(), SerialError>> {
        let settings = LineSettings::from(settings);
        self.port.run(move |s| s.configure(settings)).await
    }

    async fn write(&mut self, data: Vec<u8>) -> wasmtime::Result<Result<(), SerialError>> {
        let budget = self.budget();
        self.port.run(move |s| s.write(&data, budget)).await
    }

    async fn read(
        &mut self,
        max_bytes: u32,
        terminator: Option<u8>,
        timeout_ms: u32,
    ) -> wasmtime::Result<Result<Vec<u8>, SerialError>> {
        let timeout = Duration::from_millis(u64::from(timeout_ms)).min(self.budget());
        let max = usize::try_from(max_bytes).unwrap_or(MAX_READ_BYTES);
        self.port.run(move |s| s.read(max, terminator, timeout)).await
    }

    async fn discard_input(&mut self) -> wasmtime::Result<Result<(), SerialError>> {
        self.port.run(|s| s.discard_input()).await
    }

    async fn set_modem_lines(&mut self, dtr: bool, rts: bool) -> wasmtime::Result<Result<(), SerialError>> {
        self.port.run(move |s| s.set_modem_lines(dtr, rts)).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// The far end of a fake serial line, shared by the test and the links it opens.
    #[derive(Default)]
    struct Line {
        present: bool,
        opens: usize,
        /// Chunks the next reads return, in order; an empty queue times out.
        incoming: VecDeque<Vec<u8>>,
        written: Vec<u8>,
        settings: Option<LineSettings>,
        modem_lines: Option<(bool, bool)>,
        /// The longest wait any read or write was allowed.
        longest_wait: Duration,
        refuse_baud: Option<u32>,
    }

    #[derive(Clone, Default)]
    struct FakePorts(Arc<Mutex<Line>>);

    impl FakePorts {
        fn present() -> Self {
            let ports = FakePorts::default();
            ports.line().present = true;
            ports
        }

        fn line(&self) -> std::sync::MutexGuard<'_, Line> {
            self.0.lock().unwrap()
        }

        fn session(&self) -> PortSession {
            PortSession {
                device: "ups".into(),
                path: "/dev/ttyFAKE0".into(),
                opener: Arc::new(self.clone()),
                settings: LineSettings::default(),
                modem_lines: None,
                link: None,
                pending: Vec::new(),
                down: false,
            }
        }
    }

    impl PortOpener for FakePorts {
        fn open(&self, _path: &Path, settings: &LineSettings) -> Result<Box<dyn SerialLink>, LinkError> {
            let mut line = self.line();
            if !line.present {
                return Err(LinkError::Unavailable("No such file or directory".into()));
            }
            line.opens += 1;
            line.settings = Some(*settings);
            Ok(Box::new(FakeLink(self.clone())))
        }
    }

    struct FakeLink(FakePorts);

    impl FakeLink {
        fn line(&self) -> Result<std::sync::MutexGuard<'_, Line>, LinkError> {
            let line = self.0.line();
            if line.present { Ok(line) } else { Err(LinkError::Io("Broken pipe".into())) }
        }
    }

    impl SerialLink for FakeLink {
        fn apply(&mut self, settings: &LineSettings) -> Result<(), LinkError> {
            let mut line = self.line()?;
            if line.refuse_baud == Some(settings.baud_rate) {
                return Err(LinkError::InvalidSettings("Invalid argument".into()));
            }
            line.settings = Some(*settings);
            Ok(())
        }

        fn write_all(&mut self, data: &[u8], timeout: Duration) -> Result<(), LinkError> {
            let mut line = self.line()?;
            line.longest_wait = line.longest_wait.max(timeout);
            line.written.extend_from_slice(data);
            Ok(())
        }

        fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LinkError> {
            let mut line = self.line()?;
            line.longest_wait = line.longest_wait.max(timeout);
            let Some(mut chunk) = line.incoming.pop_front() else { return Ok(0) };
            let n = chunk.len().min(buf.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            if n < chunk.len() {
                line.incoming.push_front(chunk.split_off(n));
            }
            Ok(n)
        }

        fn discard_input(&mut self) -> Result<(), LinkError> {
            self.line()?.incoming.clear();
            Ok(())
        }

        fn set_modem_lines(&mut self, dtr: bool, rts: bool) -> Result<(), LinkError> {
            self.line()?.modem_lines = Some((dtr, rts));
            Ok(())
        }
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn opens_lazily_with_2400_8n1_and_writes() {
        let ports = FakePorts::present();
        let mut session = ports.session();
        assert_eq!(ports.line().opens, 0);
        session.write(b"Q1\r", SECOND).unwrap();
        let line = ports.line();
        assert_eq!((line.opens, line.written.as_slice()), (1, &b"Q1\r"[..]));
        assert_eq!(line.settings, Some(LineSettings::default()));
    }

    #[test]
    fn read_stops_after_the_terminator_and_keeps_the_rest() {
        let ports = FakePorts::present();
        ports.line().incoming.extend([b"(230.0 22".to_vec(), b"9.0\r#next\r".to_vec()]);
        let mut session = ports.session();
        assert_eq!(session.read(100, Some(b'\r'), SECOND).unwrap(), b"(230.0 229.0\r");
        assert_eq!(session.read(100, Some(b'\r'), SECOND).unwrap(), b"#next\r");
    }

    #[test]
    fn read_stops_at_max_bytes_or_returns_what_came_before_the_timeout() {
        let ports = FakePorts::present();
        ports.line().incoming.push_back(b"abcdef".to_vec());
        let mut session = ports.session();
        assert_eq!(session.read(4, Some(b'\r'), SECOND).unwrap(), b"abcd");
        // Nothing more arrives: the rest, without a terminator.
        assert_eq!(session.read(100, Some(b'\r'), SECOND).unwrap(), b"ef");
        assert_eq!(session.read(100, None, SECOND).unwrap(), b"");
    }

    #[test]
    fn max_bytes_is_capped() {
        let ports = FakePorts::present();
        ports.line().incoming.push_back(vec![b'x'; MAX_READ_BYTES + 10]);
        let mut session = ports.session();
        assert_eq!(session.read(u32::MAX as usize, None, SECOND).unwrap().len(), MAX_READ_BYTES);
        assert_eq!(session.read(100, None, SECOND).unwrap().len(), 10);
    }

    #[test]
    fn missing_port_is_unavailable_naming_it_and_opens_once_it_appears() {
        let ports = FakePorts::default();
        let mut session = ports.session();
        let Err(SerialError::Unavailable(message)) = session.write(b"Q1\r", SECOND) else {
            panic!("expected unavailable")
        };
        assert!(message.contains("/dev/ttyFAKE0") && message.contains("No such file"), "{message}");
        ports.line().present = true;
        session.write(b"Q1\r", SECOND).unwrap();
        assert_eq!(ports.line().opens, 1);
    }

    #[test]
    fn vanished_port_is_an_io_error_then_reopened_with_the_configured_settings() {
        let ports = FakePorts::present();
        let mut session = ports.session();
        let settings = LineSettings { baud_rate: 9600, data_bits: 7, parity: Parity::Even, stop_bits: 2 };
        session.configure(settings).unwrap();
        session.set_modem_lines(true, false).unwrap();
        // A reply, and the start of another the host keeps for the next read.
        ports.line().incoming.push_back(b"old\rstale".to_vec());
        assert_eq!(session.read(100, Some(b'\r'), SECOND).unwrap(), b"old\r");

        ports.line().present = false;
        let Err(SerialError::Io(message)) = session.read(10, None, SECOND) else { panic!("expected io") };
        assert!(message.contains("/dev/ttyFAKE0") && message.contains("Broken pipe"), "{message}");
        assert!(matches!(session.write(b"x", SECOND), Err(SerialError::Unavailable(_))));

        {
            let mut line = ports.line();
            line.present = true;
            line.modem_lines = None;
            line.incoming.push_back(b"fresh\r".to_vec());
        }
        // Reopened with the last settings and modem lines; the old port's leftovers are gone.
        assert_eq!(session.read(100, Some(b'\r'), SECOND).unwrap(), b"fresh\r");
        let line = ports.line();
        assert_eq!((line.opens, line.settings, line.modem_lines), (2, Some(settings), Some((true, false))));
    }

    #[test]
    fn configure_validates_and_applies_to_an_open_port() {
        let ports = FakePorts::present();
        let mut session = ports.session();
        let bad = LineSettings { data_bits: 9, ..LineSettings::default() };
        assert!(matches!(session.configure(bad), Err(SerialError::InvalidSettings(m)) if m.contains("9 data bits")));
        session.write(b"", SECOND).unwrap();
        let fast = LineSettings { baud_rate: 19200, ..LineSettings::default() };
        session.configure(fast).unwrap();
        assert_eq!(ports.line().settings, Some(fast));

        // A rate the port refuses: an error, and the previous settings stay in force.
        ports.line().refuse_baud = Some(12345);
        let odd = LineSettings { baud_rate: 12345, ..LineSettings::default() };
        assert!(matches!(session.configure(odd), Err(SerialError::InvalidSettings(_))));
        session.write(b"", SECOND).unwrap();
        assert_eq!(ports.line().settings, Some(fast));
    }

    #[test]
    fn discard_input_drops_pending_and_received_bytes() {
        let ports = FakePorts::present();
        ports.line().incoming.extend([b"old\rolder".to_vec(), b" still".to_vec()]);
        let mut session = ports.session();
        assert_eq!(session.read(100, Some(b'\r'), SECOND).unwrap(), b"old\r");
        session.discard_input().unwrap();
        assert_eq!(session.read(100, None, SECOND).unwrap(), b"");
    }

    fn host_call<T>(
        ports: &FakePorts,
        budget: Option<Duration>,
        call: impl AsyncFnOnce(&mut SerialHost<'_>) -> T,
    ) -> T {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let grant = SerialGrant { name: "/dev/ttyFAKE0".into(), path: "/dev/ttyFAKE0".into() };
        let mut capability = SerialCapability::new("ups", Some(&grant), Arc::new(ports.clone()));
        let mut deadline = CallDeadline::default();
        if let Some(budget) = budget {
            deadline.start(budget);
        }
        runtime.block_on(call(&mut SerialHost { port: &mut capability, deadline: &deadline }))
    }

    #[test]
    fn waits_are_capped_to_the_call_budget() {
        let ports = FakePorts::present();
        let budget = Duration::from_millis(300);
        host_call(&ports, Some(budget), async |host| {
            host.read(10, Some(b'\r'), 60_000).await.unwrap().unwrap();
            host.write(b"Q1\r".to_vec()).await.unwrap().unwrap();
        });
        let wait = ports.line().longest_wait;
        assert!(wait <= budget, "waited up to {wait:?} in a {budget:?} call");
        // No call in progress: no waiting at all.
        host_call(&ports, None, async |host| host.read(10, None, 60_000).await.unwrap().unwrap());
        assert!(ports.line().longest_wait <= budget);
    }

    #[test]
    fn host_calls_reach_the_port() {
        let ports = FakePorts::present();
        ports.line().incoming.push_back(b"(reply\r".to_vec());
        let reply = host_call(&ports, Some(SECOND), async |host| {
            let settings = wit::LineSettings { baud_rate: 2400, data_bits: 8, parity: wit::Parity::None, stop_bits: 1 };
            host.configure(settings).await.unwrap().unwrap();
            host.set_modem_lines(true, false).await.unwrap().unwrap();
            host.write(b"Q1\r".to_vec()).await.unwrap().unwrap();
            host.read(64, Some(b'\r'), 1000).await.unwrap().unwrap()
        });
        assert_eq!(reply, b"(reply\r");
        let line = ports.line();
        assert_eq!((line.written.as_slice(), line.modem_lines), (&b"Q1\r"[..], Some((true, false))));
    }

    #[test]
    fn ungranted_device_reaches_no_port() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut capability = SerialCapability::new("ups", None, Arc::new(FakePorts::present()));
        let deadline = CallDeadline::default();
        let mut host = SerialHost { port: &mut capability, deadline: &deadline };
        let result = runtime.block_on(host.write(b"x".to_vec())).unwrap();
        assert!(matches!(result, Err(SerialError::Unavailable(m)) if m.contains("no serial port")));
    }
}
