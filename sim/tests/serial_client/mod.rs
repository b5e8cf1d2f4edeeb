//! A serial client as a UPS driver is one: opens a tty at 2400 8N1 raw, sends
//! `\r`-terminated commands and reads `\r`-terminated replies.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::termios::{BaudRate, ControlFlags, SetArg, cfmakeraw, cfsetspeed, tcgetattr, tcsetattr};

/// An open serial line.
pub struct SerialClient {
    port: File,
}

impl SerialClient {
    /// Open `path` at 2400 baud, 8 data bits, no parity, 1 stop bit, raw.
    pub fn open(path: &Path) -> SerialClient {
        let port = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(nix::libc::O_NOCTTY)
            .open(path)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        let mut termios = tcgetattr(&port).expect("tcgetattr");
        cfmakeraw(&mut termios);
        cfsetspeed(&mut termios, BaudRate::B2400).expect("cfsetspeed");
        termios.control_flags &= !(ControlFlags::CSIZE | ControlFlags::PARENB | ControlFlags::CSTOPB);
        termios.control_flags |= ControlFlags::CS8 | ControlFlags::CREAD | ControlFlags::CLOCAL;
        tcsetattr(&port, SetArg::TCSANOW, &termios).expect("tcsetattr");
        SerialClient { port }
    }

    /// Write raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.port.write_all(bytes).expect("write to the pty");
    }

    /// Read up to and including the next `\r`; `None` if nothing complete arrives within `timeout`.
    pub fn read_reply(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let mut reply = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let millis = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(self.port.as_fd(), PollFlags::POLLIN)];
            if poll(&mut fds, PollTimeout::from(millis)).expect("poll") == 0 {
                return None;
            }
            if self.port.read(&mut byte).expect("read from the pty") == 1 {
                reply.push(byte[0]);
                if byte[0] == b'\r' {
                    return Some(reply);
                }
            }
        }
    }

    /// Send `command` and `\r`, then read the reply (`None`: no reply within 2 s).
    pub fn ask(&mut self, command: &str) -> Option<String> {
        self.send(format!("{command}\r").as_bytes());
        self.read_reply(Duration::from_secs(2)).map(|r| String::from_utf8(r).expect("ASCII reply"))
    }
}
