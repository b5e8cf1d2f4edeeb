//! The device as the protocol logic sees it.
//!
//! Both the future WIT glue (over the host's `usb-hid` capability) and the
//! recorded-capture replay (module `capture`, feature `capture`) implement [`HidDevice`]. Report
//! buffers always start with the report id byte when the descriptor uses
//! report ids, as on the wire.

use alloc::string::String;
use alloc::vec::Vec;

/// What the USB device descriptor says about the device (read by the host
/// when it opens the device).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsbIdentity {
    /// idVendor.
    pub vendor_id: u16,
    /// idProduct.
    pub product_id: u16,
    /// iManufacturer string, when the device has one.
    pub manufacturer: Option<String>,
    /// iProduct string.
    pub product: Option<String>,
    /// iSerialNumber string.
    pub serial: Option<String>,
}

/// A failed device operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceError {
    /// The device did not answer (or stalled) this request.
    NotAnswered,
    /// The device is gone or unusable: reconnect.
    Disconnected,
    /// Any other failure, described.
    Other(String),
}

/// A USB HID device.
pub trait HidDevice {
    /// Vendor/product ids and USB strings.
    fn identity(&self) -> UsbIdentity;
    /// The HID report descriptor, every byte.
    fn report_descriptor(&mut self) -> Result<Vec<u8>, DeviceError>;
    /// GET_REPORT(Feature, id): the report as read, id byte first when the
    /// descriptor uses report ids.
    fn get_feature_report(&mut self, report_id: u8) -> Result<Vec<u8>, DeviceError>;
    /// SET_REPORT(Feature) with `data` (id byte first when ids are used).
    fn set_feature_report(&mut self, report_id: u8, data: &[u8]) -> Result<(), DeviceError>;
    /// One report from the interrupt IN pipe, waiting at most `timeout_ms`;
    /// `Ok(None)` when none arrived in time.
    fn interrupt_read(&mut self, timeout_ms: u32) -> Result<Option<Vec<u8>>, DeviceError>;
    /// A string descriptor by index (`Ok(None)` if the device has none).
    fn string_descriptor(&mut self, index: u8) -> Result<Option<String>, DeviceError>;
    /// Wait `ms` milliseconds between two writes of one command sequence
    /// (NUT waits 125 ms between the two delays of `shutdown.return`).
    fn pause(&mut self, ms: u32);
}
