//! Property tests: arbitrary descriptors and reports never panic, and every
//! call is bounded (the parser's limits cap fields, depth and report size).

use alloc::vec::Vec;
use proptest::prelude::*;

use crate::descriptor::{self, MAX_FIELDS, ReportKind};
use crate::device::{DeviceError, HidDevice, UsbIdentity};
use crate::session::{Session, Settings};
use crate::{commands, report};

/// A device answering every request from fuzzed bytes.
struct FuzzDevice {
    vendor_id: u16,
    descriptor: Vec<u8>,
    report: Vec<u8>,
}

impl HidDevice for FuzzDevice {
    fn identity(&self) -> UsbIdentity {
        UsbIdentity { vendor_id: self.vendor_id, product_id: 1, ..UsbIdentity::default() }
    }
    fn report_descriptor(&mut self) -> Result<Vec<u8>, DeviceError> {
        Ok(self.descriptor.clone())
    }
    fn get_feature_report(&mut self, report_id: u8) -> Result<Vec<u8>, DeviceError> {
        let mut r = self.report.clone();
        if let Some(first) = r.first_mut() {
            *first = report_id;
        }
        Ok(r)
    }
    fn set_feature_report(&mut self, _: u8, data: &[u8]) -> Result<(), DeviceError> {
        self.report = data.to_vec();
        Ok(())
    }
    fn interrupt_read(&mut self, _: u32) -> Result<Option<Vec<u8>>, DeviceError> {
        Ok(Some(self.report.clone()))
    }
    fn string_descriptor(&mut self, _: u8) -> Result<Option<alloc::string::String>, DeviceError> {
        Ok(None)
    }
    fn pause(&mut self, _: u32) {}
}

/// Descriptors built from plausible items (so the parser goes deep rather
/// than failing on the first byte), mixed with raw bytes.
fn descriptor_bytes() -> impl Strategy<Value = Vec<u8>> {
    let item = prop_oneof![
        (any::<u8>(), any::<u8>()).prop_map(|(p, d)| alloc::vec![(p & 0xFC) | 1, d]),
        (any::<u8>(), any::<u16>()).prop_map(|(p, d)| alloc::vec![(p & 0xFC) | 2, d as u8, (d >> 8) as u8]),
        (any::<u8>(), any::<u32>()).prop_map(|(p, d)| {
            let mut v = alloc::vec![(p & 0xFC) | 3];
            v.extend_from_slice(&d.to_le_bytes());
            v
        }),
        Just(alloc::vec![0xA1, 0x00]),
        Just(alloc::vec![0xA1, 0x81]),
        Just(alloc::vec![0xC0]),
        Just(alloc::vec![0x09, 0x30, 0x75, 0x08, 0x95, 0x02, 0xB1, 0x02]),
        proptest::collection::vec(any::<u8>(), 0..6),
    ];
    proptest::collection::vec(item, 0..120).prop_map(|items| items.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parser_never_panics_and_stays_bounded(bytes in descriptor_bytes()) {
        if let Ok(d) = descriptor::parse(&bytes) {
            prop_assert!(d.fields.len() <= MAX_FIELDS);
            prop_assert!(d.items <= bytes.len());
            for f in &d.fields {
                prop_assert!(f.offset + f.size <= descriptor::MAX_REPORT_BYTES * 8);
            }
        }
    }

    #[test]
    fn field_reads_and_writes_never_panic(bytes in descriptor_bytes(), payload in proptest::collection::vec(any::<u8>(), 0..64), v in any::<f64>()) {
        if let Ok(d) = descriptor::parse(&bytes) {
            for f in &d.fields {
                let _ = report::read(&payload, f);
                let mut p = payload.clone();
                let _ = report::write(&mut p, f, v);
                prop_assert_eq!(p.len(), payload.len());
            }
        }
    }

    #[test]
    fn a_whole_session_on_fuzzed_data_never_panics(
        bytes in descriptor_bytes(),
        report in proptest::collection::vec(any::<u8>(), 0..64),
        vendor in prop_oneof![Just(0x051Du16), Just(0x0463), Just(0x0764), Just(0x09AE), Just(0x10AF)],
    ) {
        let mut dev = FuzzDevice { vendor_id: vendor, descriptor: bytes, report: report.clone() };
        if let Ok(mut s) = Session::open(&mut dev, Settings::default()) {
            s.full_update(&mut dev);
            s.quick_update(&mut dev);
            s.interrupt_report(&mut dev, &report);
            for name in s.command_names() {
                let _ = commands::instcmd(&mut s, &mut dev, name, None);
            }
            let _ = commands::kill_power(&mut s, &mut dev);
            let _ = commands::set_var(&mut s, &mut dev, "battery.charge.low", "1e308");
            prop_assert!(s.variables().contains_key("ups.status"));
        }
    }
}

#[test]
fn report_lengths_never_exceed_the_bound() {
    // Count 255 of 32 bits = 1020 bytes: accepted; one more byte is refused.
    let ok = [0x75, 0x20, 0x95, 0xFF, 0x09, 0x30, 0xB1, 0x02];
    let d = descriptor::parse(&ok).unwrap();
    assert_eq!(d.report_len(0, ReportKind::Feature), Some(1020));
    let too_long = [0x75, 0x20, 0x95, 0xFF, 0x09, 0x30, 0xB1, 0x02, 0x75, 0x08, 0x95, 0x05, 0xB1, 0x02];
    assert!(descriptor::parse(&too_long).is_err());
}
