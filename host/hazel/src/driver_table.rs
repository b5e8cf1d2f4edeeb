//! NUT driver names Hazel knows, the plugin that runs each, and what their
//! `port=` names.
//!
//! The host — not the plugin — decides what a device may reach: a plugin says
//! which drivers it stands in for, but the meaning of `port=` (a file, a serial
//! line, ...) and so the capability granted comes from this table or from the
//! operator's `[drivers.NAME]` in hazel.toml.

use serde::Deserialize;

/// What a driver's `port=` names, which decides the capability its device gets.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PortKind {
    /// A file to read (dummy-ups `.dev`/`.seq`): grants `file` for exactly that path.
    File,
    /// A serial device node (`/dev/ttyUSB0`): grants `serial` for exactly that port.
    Serial,
    /// Another device of the same config (NUT's `<driver>-<section>` socket
    /// name, or just the section name): grants `upstream`, reading that device.
    Upstream,
    /// Like [`PortKind::Upstream`], and also grants `upstream-control`:
    /// instant commands and variable writes on that device.
    UpstreamControl,
    /// A USB HID device (`auto`, narrowed by NUT's `vendorid`, `productid`,
    /// `vendor`, `product`, `serial`, `bus`, `device` options), or a capture
    /// replayed as one (`replay:PATH`): grants `usb-hid` for exactly the matched device.
    UsbHid,
    /// Nothing the host resolves; only `log` and `clock` are granted.
    #[default]
    None,
}

/// A NUT driver Hazel runs with one of its own plugins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuiltinDriver {
    /// The NUT driver name, as in ups.conf's `driver =`.
    pub driver: &'static str,
    /// The plugin that runs it, by name (its file stem), when no plugin in the
    /// search path declares the driver itself.
    pub plugin: &'static str,
    /// What its `port=` names.
    pub port: PortKind,
}

const BUILTIN_DRIVERS: &[BuiltinDriver] = &[
    BuiltinDriver { driver: "dummy-ups", plugin: "dummy", port: PortKind::File },
    // NUT's Megatec/Q1 serial drivers: the current one and its deprecated predecessor.
    BuiltinDriver { driver: "nutdrv_qx", plugin: "megatec", port: PortKind::Serial },
    BuiltinDriver { driver: "blazer_ser", plugin: "megatec", port: PortKind::Serial },
    // NUT's virtual drivers over another driver: clone acts on the outlet, clone-outlet only reads.
    BuiltinDriver { driver: "clone", plugin: "clone", port: PortKind::UpstreamControl },
    BuiltinDriver { driver: "clone-outlet", plugin: "clone_outlet", port: PortKind::Upstream },
    // NUT's USB HID Power Device driver.
    BuiltinDriver { driver: "usbhid-ups", plugin: "usbhid", port: PortKind::UsbHid },
];

/// What Hazel knows about NUT driver `driver`, if anything.
pub fn builtin_driver(driver: &str) -> Option<&'static BuiltinDriver> {
    BUILTIN_DRIVERS.iter().find(|b| b.driver == driver)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dummy_ups_reads_a_file() {
        let dummy = builtin_driver("dummy-ups").unwrap();
        assert_eq!((dummy.plugin, dummy.port), ("dummy", PortKind::File));
        assert_eq!(builtin_driver("unknown-driver"), None);
    }

    #[test]
    fn megatec_serial_drivers_get_a_serial_port() {
        for driver in ["nutdrv_qx", "blazer_ser"] {
            let entry = builtin_driver(driver).unwrap();
            assert_eq!((entry.plugin, entry.port), ("megatec", PortKind::Serial), "{driver}");
        }
        // USB variants of the same protocol are not serial.
        assert_eq!(builtin_driver("blazer_usb"), None);
    }

    #[test]
    fn only_clone_may_command_its_upstream() {
        assert_eq!(builtin_driver("clone").map(|b| (b.plugin, b.port)), Some(("clone", PortKind::UpstreamControl)));
        let outlet = builtin_driver("clone-outlet").unwrap();
        assert_eq!((outlet.plugin, outlet.port), ("clone_outlet", PortKind::Upstream));
    }

    #[test]
    fn usbhid_ups_gets_a_usb_hid_device() {
        let entry = builtin_driver("usbhid-ups").unwrap();
        assert_eq!((entry.plugin, entry.port), ("usbhid", PortKind::UsbHid));
    }
}
