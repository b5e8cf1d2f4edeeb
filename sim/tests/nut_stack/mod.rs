//! Real NUT 2.8.0 pointed at a simulator: a serial driver (`nutdrv_qx` or
//! `blazer_ser`) and `upsd`, started by the end-to-end tests' launcher
//! ([`hazel_e2e::RealNut`]), and NUT's clients to ask them.

use std::path::Path;

use hazel_e2e::{NutDevice, RealNut, admin_upscmd, wait_for_upsc};
pub use hazel_e2e::{nut_tool, said, upsc_value as value};

/// The UPS name in ups.conf.
pub const UPS: &str = "sim";

/// A serial driver and upsd serving it.
pub struct NutStack {
    nut: RealNut,
}

impl NutStack {
    /// Start `driver` (a program in /lib/nut) on the serial port `tty`, polled
    /// every second, with extra ups.conf lines `options`, then upsd.
    pub fn start(driver: &str, tty: &Path, options: &str) -> NutStack {
        let options = format!("pollinterval = 1\n{options}");
        let port = tty.display().to_string();
        let device = NutDevice { name: UPS, driver, port: &port, options: &options };
        NutStack { nut: RealNut::start_drivers(&[device]) }
    }

    /// `sim@127.0.0.1:port`.
    pub fn ups(&self) -> String {
        self.nut.ups(UPS)
    }

    /// Run `upscmd` as the admin user; panics unless NUT says OK.
    pub fn instcmd(&self, command: &[&str]) {
        admin_upscmd(&self.ups(), command);
    }

    /// Wait (up to a minute) until `check` holds for `upsc`'s output.
    pub fn wait_until(&self, what: &str, check: impl FnMut(&str) -> bool) -> String {
        let ups = self.ups();
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wait_for_upsc(&ups, what, check)));
        found.unwrap_or_else(|_| panic!("timed out waiting for {what}; NUT's logs:\n{}", self.nut.log()))
    }
}
