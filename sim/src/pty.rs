//! The pseudo-terminal pair the simulated UPS sits behind: the simulator holds
//! the master side; a serial client opens the slave path like a serial port.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
use nix::sys::termios::{BaudRate, SetArg, cfmakeraw, cfsetspeed, tcgetattr, tcsetattr};

/// A pseudo-terminal whose slave starts raw at 2400 baud, as a Megatec UPS's port.
#[derive(Debug)]
pub struct Pty {
    /// The simulator's side, non-blocking.
    pub master: File,
    /// The slave side, kept open so the master never sees a hang-up between
    /// clients (and the line settings persist).
    pub slave: OwnedFd,
    /// The slave's path, e.g. `/dev/pts/7`.
    pub slave_path: PathBuf,
}

/// Why a pseudo-terminal could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up a pseudo-terminal: {step}: {source}")]
pub struct PtyError {
    /// What was being done.
    pub step: &'static str,
    /// The system's error.
    pub source: nix::Error,
}

impl Pty {
    /// Open a new pair.
    pub fn open() -> Result<Pty, PtyError> {
        let err = |step| move |source| PtyError { step, source };
        let pair = nix::pty::openpty(None, None).map_err(err("openpty"))?;
        let slave_path = nix::unistd::ttyname(&pair.slave).map_err(err("ttyname of the slave"))?;
        // Raw until the client sets its own mode: without this, the line
        // discipline would echo our replies back to us and turn `\r` into `\n`.
        let mut termios = tcgetattr(&pair.slave).map_err(err("tcgetattr"))?;
        cfmakeraw(&mut termios);
        cfsetspeed(&mut termios, BaudRate::B2400).map_err(err("cfsetspeed"))?;
        tcsetattr(&pair.slave, SetArg::TCSANOW, &termios).map_err(err("tcsetattr"))?;
        // Not inherited by programs started later (a driver under test): a copy of
        // the master there would keep the pty up after the simulator stops.
        for fd in [&pair.master, &pair.slave] {
            fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(err("fcntl F_SETFD"))?;
        }
        // Non-blocking, so a client that never reads cannot stall the simulator.
        let flags = fcntl(&pair.master, FcntlArg::F_GETFL).map_err(err("fcntl F_GETFL"))?;
        let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
        fcntl(&pair.master, FcntlArg::F_SETFL(flags)).map_err(err("fcntl F_SETFL"))?;
        Ok(Pty { master: File::from(pair.master), slave: pair.slave, slave_path })
    }
}
