//! NUT's explore mode (`usbhid-ups -x explore`): every field of the device
//! with its path, type, report id, bit offset, size and current value, for
//! users reporting a model no table knows yet.
//!
//! The driver publishes each field as a variable `explore.NNNN` (field order,
//! zero-padded so names sort like the descriptor) whose value is the line NUT
//! prints, e.g. `Path: UPS.PowerSummary.RemainingCapacity, Type: Feature,
//! ReportID: 0x0c, Offset: 0, Size: 8, Value: 100`. The parsing stays in
//! the sandboxed plugin; `hazel usb explore` only prints what it publishes,
//! and the same entries show up in `upsc` when ups.conf sets `explore`.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::device::HidDevice;
use crate::report;
use crate::session::Session;

/// Prefix of the variables explore mode publishes.
pub const PREFIX: &str = "explore.";

/// The explore entries of an open device: (variable name, NUT's line).
/// Each report is read once per call; a report the device refuses prints its
/// fields without a value, as NUT does.
pub fn entries(session: &Session, dev: &mut dyn HidDevice) -> Vec<(String, String)> {
    let mut reports: BTreeMap<u8, Option<Vec<u8>>> = BTreeMap::new();
    let d = &session.descriptor;
    let mut out = Vec::with_capacity(d.fields.len());
    for (i, (f, path)) in d.fields.iter().zip(&session.paths).enumerate() {
        let rep = reports.entry(f.report_id).or_insert_with(|| dev.get_feature_report(f.report_id).ok());
        let value = rep.as_deref().and_then(|r| report::read(report::payload(r, d.uses_report_ids), f));
        let mut line = format!(
            "Path: {path}, Type: {}, ReportID: 0x{:02x}, Offset: {}, Size: {}",
            f.kind.name(),
            f.report_id,
            f.offset,
            f.size
        );
        if let Some(v) = value {
            line.push_str(", Value: ");
            line.push_str(&format_g(v));
        }
        out.push((format!("{PREFIX}{i:04}"), line));
    }
    out
}

/// Format like C's `printf("%g")` (6 significant digits, trailing zeros
/// dropped, exponent form below 1e-4 and from 1e6), which NUT uses for values.
pub fn format_g(v: f64) -> String {
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    if !v.is_finite() {
        return if v.is_nan() {
            "nan".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    // The exponent after rounding to 6 significant digits decides the form.
    let sci = format!("{v:.5e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{}e{sign}{:02}", trim_zeros(mantissa), exp.unsigned_abs());
    }
    let decimals = usize::try_from(5 - exp).unwrap_or(0);
    trim_zeros(&format!("{v:.decimals$}")).into()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { s }
}

#[cfg(test)]
#[path = "explore_tests.rs"]
mod tests;
