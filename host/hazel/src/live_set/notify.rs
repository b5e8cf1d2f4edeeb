//! systemd's readiness protocol (`sd_notify`): one datagram to `$NOTIFY_SOCKET`.
//! A few lines instead of a crate; without the variable (not under a
//! `Type=notify` unit) every call does nothing.

use std::os::unix::net::UnixDatagram;

/// Send `state` (e.g. `READY=1`) to the service manager, if there is one.
/// Failures are logged, never fatal: readiness is a courtesy to systemd.
pub fn notify(state: &str) {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else { return };
    if let Err(error) = send(&socket, state) {
        tracing::warn!(socket = %socket.to_string_lossy(), %error, "cannot notify the service manager");
    }
}

fn send(socket: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let datagram = UnixDatagram::unbound()?;
    let bytes = socket.as_bytes();
    // `@name` is a Linux abstract socket address.
    if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        let address = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        datagram.send_to_addr(state.as_bytes(), &address)?;
    } else {
        datagram.send_to(state.as_bytes(), socket)?;
    }
    Ok(())
}

/// The config is loaded and the server is up.
pub fn ready() {
    notify("READY=1");
}

/// A reload begins; [`ready`] ends it. systemd wants the monotonic time with it.
pub fn reloading() {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime only writes the struct passed.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) } == 0;
    let micros = if ok { now.tv_sec as u64 * 1_000_000 + now.tv_nsec as u64 / 1_000 } else { 0 };
    notify(&format!("RELOADING=1\nMONOTONIC_USEC={micros}"));
}

/// Shutting down.
pub fn stopping() {
    notify("STOPPING=1");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datagram_reaches_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let receiver = UnixDatagram::bind(&path).unwrap();
        send(path.as_os_str(), "READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
    }
}
