//! Explore mode on every capture with NUT's `path` lines: each line NUT
//! printed appears with the same path, type, report id, offset and size, and,
//! where the capture holds the report as read, the same value.

extern crate std;

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::*;
use crate::capture::Capture;
use crate::capture_tests::{ReplayDevice, captures};
use crate::driver::{self, Change, Clock, Driver};

struct Zero;

impl Clock for Zero {
    fn monotonic_ms(&mut self) -> u64 {
        0
    }
}

/// The driver's explore lines for a capture, replaying only the reads the
/// capture holds (no report rebuilt from NUT's values, which would be circular).
fn explore_lines(c: &Capture) -> Vec<String> {
    let mut settings = alloc::vec![("explore", None)];
    // NUT printed vendor names unless it ran with `-x explore`.
    let vendor = crate::mapping::subdriver_for(c.vendor_id.unwrap()).map(|s| s.name);
    if !c.notes.iter().any(|n| n.contains("-x explore")) {
        settings.push(("subdriver", vendor));
    }
    let mut drv = Driver::new(driver::parse_options(settings).unwrap());
    let mut dev = ReplayDevice::new(c);
    drv.init(&mut dev, &mut Zero).unwrap();
    let changes = drv.update(&mut dev, &mut Zero).unwrap();
    let mut lines: Vec<(String, String)> = changes
        .into_iter()
        .filter_map(|ch| match ch {
            Change::SetValue(name, value) if name.starts_with(PREFIX) => Some((name, value)),
            _ => None,
        })
        .collect();
    lines.sort();
    lines.into_iter().map(|(_, v)| v).collect()
}

#[test]
fn explore_prints_nut_paths_and_values_of_every_capture() {
    let mut checked = 0;
    for (name, c) in captures().iter().filter(|(_, c)| !c.paths.is_empty()) {
        let lines = explore_lines(c);
        assert_eq!(lines.len(), crate::descriptor::parse(&c.descriptor).unwrap().fields.len(), "{name}");
        // The intermediary's vectors may round scaled values to integers (INDEX.md).
        let rounded = c.notes.iter().any(|n| n.contains("vectors/"));
        let mut values = 0;
        for p in &c.paths {
            let head = format!(
                "Path: {}, Type: {}, ReportID: 0x{:02x}, Offset: {}, Size: {}",
                p.path, p.kind, p.report_id, p.offset, p.size
            );
            let line = lines
                .iter()
                .find(|l| l.as_str() == head || l.starts_with(&format!("{head}, Value: ")))
                .unwrap_or_else(|| panic!("{name}: no explore line for {head}"));
            if c.read_of(p.report_id).is_none() {
                continue; // the capture lacks this report: no value to compare
            }
            let ours = line.strip_prefix(&format!("{head}, Value: ")).unwrap_or_else(|| panic!("{name}: {line}"));
            let same = ours == p.value
                || (rounded && (ours.parse::<f64>().unwrap() - p.value.parse::<f64>().unwrap()).abs() < 0.5);
            assert!(same, "{name}: {} ours {ours} NUT {}", p.path, p.value);
            values += 1;
        }
        std::println!("{name}: {} paths listed, {values} values equal NUT's", c.paths.len());
        checked += values;
    }
    assert!(checked > 0);
}

#[test]
fn explore_claims_any_vendor_and_tolerates_missing_reports() {
    // A vendor id no subdriver claims still explores (NUT's explore subdriver).
    let (_, mut c) = captures().into_iter().find(|(n, _)| n.starts_with("APC__Back-UPS_BK650M2")).unwrap();
    c.vendor_id = Some(0x1234);
    c.reads.clear();
    let lines = explore_lines(&c);
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| !l.contains("Value:")), "no reads, no values");
}

#[test]
fn values_print_like_c_percent_g() {
    // C's %g rules (6 significant digits, exponent outside 1e-4..1e6).
    for (v, text) in [
        (100.0, "100"),
        (13.5, "13.5"),
        (-1.0, "-1"),
        (0.001214, "0.001214"),
        (0.00001, "1e-05"),
        (1234567.0, "1.23457e+06"),
        (999999.5, "1e+06"),
        (2.0 / 3.0, "0.666667"),
        (0.0, "0"),
    ] {
        assert_eq!(format_g(v), text.to_string(), "{v}");
    }
}
