//! Field values inside reports, and their conversion to physical units.
//!
//! A value sits LSB-first at the field's bit offset, counted after the
//! report id byte. It is two's-complement signed only when the logical
//! minimum or maximum is negative; an unsigned raw value above the logical
//! maximum is masked down to the bit width the logical range implies (what
//! NUT does, so out-of-range device bits read the same). Physical values map
//! the logical range linearly onto the physical one when that is set, then
//! scale by `10^(exponent − k)`, where `k` is 7 for the Volt, VA and Watt
//! unit codes (the HID SI unit system counts them in 10^-7 of the SI unit)
//! and 0 otherwise. Writes go the opposite way.

use crate::descriptor::{Field, MAX_FIELD_BITS};

/// HID unit code of the Volt.
pub const UNIT_VOLT: u32 = 0x00F0_D121;
/// HID unit code of the VA and the Watt (same SI dimensions).
pub const UNIT_WATT: u32 = 0x0000_D121;

/// The report payload after the report id byte (all of it without ids).
pub fn payload(report: &[u8], uses_report_ids: bool) -> &[u8] {
    if uses_report_ids { report.get(1..).unwrap_or(&[]) } else { report }
}

/// Mutable [`payload`].
pub fn payload_mut(report: &mut [u8], uses_report_ids: bool) -> &mut [u8] {
    if uses_report_ids { report.get_mut(1..).unwrap_or(&mut []) } else { report }
}

/// The raw bits of a field; `None` if the report is too short or the field
/// too wide to carry.
pub fn raw_bits(payload: &[u8], field: &Field) -> Option<u64> {
    if field.size == 0 || field.size > MAX_FIELD_BITS {
        return None;
    }
    let end = field.offset.checked_add(field.size)?;
    if end.div_ceil(8) as usize > payload.len() {
        return None;
    }
    let mut value = 0u64;
    for i in 0..field.size {
        let bit = field.offset + i;
        if payload[(bit / 8) as usize] >> (bit % 8) & 1 == 1 {
            value |= 1 << i;
        }
    }
    Some(value)
}

/// The logical value of a field (signedness and masking rules above).
pub fn logical_value(payload: &[u8], field: &Field) -> Option<i64> {
    let raw = raw_bits(payload, field)?;
    if field.logical_min < 0 || field.logical_max < 0 {
        let shift = 64 - field.size;
        return Some(((raw << shift) as i64) >> shift);
    }
    let max = field.logical_max as u64;
    if raw > max {
        // Width implied by the logical range: the smallest all-ones mask
        // covering the maximum.
        let mask = if max == 0 { 0 } else { u64::MAX >> max.leading_zeros() };
        return Some((raw & mask) as i64);
    }
    Some(raw as i64)
}

/// `10^n` for small `|n|` as an exact f64 (exact up to 10^22).
fn pow10(n: i32) -> f64 {
    let mut p = 1.0f64;
    for _ in 0..n.unsigned_abs().min(30) {
        p *= 10.0;
    }
    p
}

/// The decimal exponent applied after the physical mapping.
pub fn scale_exponent(field: &Field) -> i32 {
    let k = if field.unit == UNIT_VOLT || field.unit == UNIT_WATT { 7 } else { 0 };
    i32::from(field.unit_exponent) - k
}

fn has_physical_range(field: &Field) -> bool {
    !(field.physical_min == 0 && field.physical_max == 0) && field.logical_max != field.logical_min
}

/// Logical → physical (unit and exponent applied).
pub fn to_physical(field: &Field, logical: i64) -> f64 {
    let mut v = logical as f64;
    if has_physical_range(field) {
        let (lmin, lmax) = (field.logical_min as f64, field.logical_max as f64);
        let (pmin, pmax) = (field.physical_min as f64, field.physical_max as f64);
        v = pmin + (v - lmin) * (pmax - pmin) / (lmax - lmin);
        let (lo, hi) = if pmin <= pmax { (pmin, pmax) } else { (pmax, pmin) };
        v = v.clamp(lo, hi);
    }
    let e = scale_exponent(field);
    // Divide for negative exponents: 1350 / 100 is exactly 13.5, while
    // 1350 * 0.01 is not.
    if e >= 0 { v * pow10(e) } else { v / pow10(e) }
}

/// Physical → logical, rounded to the nearest integer and clamped to the
/// logical range.
pub fn to_logical(field: &Field, physical: f64) -> i64 {
    let e = scale_exponent(field);
    let mut v = if e >= 0 { physical / pow10(e) } else { physical * pow10(e) };
    if has_physical_range(field) {
        let (lmin, lmax) = (field.logical_min as f64, field.logical_max as f64);
        let (pmin, pmax) = (field.physical_min as f64, field.physical_max as f64);
        if pmax != pmin {
            v = lmin + (v - pmin) * (lmax - lmin) / (pmax - pmin);
        }
    }
    // Round half away from zero without std's `round`.
    let r = if v >= 0.0 { (v + 0.5) as i64 } else { (v - 0.5) as i64 };
    let (lo, hi) = (field.logical_min.min(field.logical_max), field.logical_max.max(field.logical_min));
    r.clamp(lo, hi)
}

/// The physical value of a field in a report payload.
pub fn read(payload: &[u8], field: &Field) -> Option<f64> {
    logical_value(payload, field).map(|l| to_physical(field, l))
}

/// Store a logical value into a payload (two's complement, truncated to the
/// field width). `false` if the payload is too short or the field too wide.
pub fn insert_logical(payload: &mut [u8], field: &Field, logical: i64) -> bool {
    if field.size == 0 || field.size > MAX_FIELD_BITS {
        return false;
    }
    let end = match field.offset.checked_add(field.size) {
        Some(e) => e,
        None => return false,
    };
    if end.div_ceil(8) as usize > payload.len() {
        return false;
    }
    let bits = logical as u64;
    for i in 0..field.size {
        let bit = field.offset + i;
        let byte = &mut payload[(bit / 8) as usize];
        let mask = 1u8 << (bit % 8);
        if bits >> i & 1 == 1 {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }
    true
}

/// Store a physical value (the inverse of [`read`]).
pub fn write(payload: &mut [u8], field: &Field, physical: f64) -> bool {
    insert_logical(payload, field, to_logical(field, physical))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descriptor::ReportKind;
    use alloc::vec;

    fn field(offset: u32, size: u32, lmin: i64, lmax: i64) -> Field {
        Field {
            path: vec![0x840030],
            report_id: 1,
            kind: ReportKind::Feature,
            offset,
            size,
            logical_min: lmin,
            logical_max: lmax,
            logical_max_assumed: false,
            physical_min: 0,
            physical_max: 0,
            unit: 0,
            unit_exponent: 0,
            flags: 2,
        }
    }

    #[test]
    fn extracts_lsb_first_across_bytes() {
        let f = field(4, 12, 0, 4095);
        assert_eq!(logical_value(&[0xA0, 0xCB], &f), Some(0xCBA));
        assert_eq!(logical_value(&[0xA0], &f), None);
        assert_eq!(logical_value(&[0b0000_0100], &field(2, 1, 0, 1)), Some(1));
    }

    #[test]
    fn signed_only_with_a_negative_logical_bound() {
        assert_eq!(logical_value(&[0xFF, 0xFF], &field(0, 16, -1, 32767)), Some(-1));
        assert_eq!(logical_value(&[0xFF, 0xFF], &field(0, 16, 0, 65535)), Some(65535));
    }

    #[test]
    fn out_of_range_unsigned_values_are_masked_to_the_logical_width() {
        // LogMax 255 in a 16-bit field: 0x010E reads as 0x0E.
        assert_eq!(logical_value(&[0x0E, 0x01], &field(0, 16, 0, 255)), Some(14));
        assert_eq!(logical_value(&[0x05], &field(0, 8, 0, 0)), Some(0));
    }

    #[test]
    fn volt_va_watt_exponents_are_offset_by_seven() {
        let mut f = field(0, 16, 0, 65535);
        f.unit = UNIT_VOLT;
        f.unit_exponent = 5; // 10^(5-7)
        assert_eq!(read(&[0x46, 0x05], &f), Some(13.5));
        f.unit = 0x0000_1001; // seconds: the exponent applies as is
        f.unit_exponent = 1;
        assert_eq!(read(&[0x02, 0x00], &f), Some(20.0));
        f.unit = UNIT_WATT;
        f.unit_exponent = 7;
        assert_eq!(read(&[0x84, 0x03], &f), Some(900.0));
    }

    #[test]
    fn physical_range_maps_linearly_and_clamps() {
        let mut f = field(0, 8, 0, 100);
        f.physical_min = 0;
        f.physical_max = 1000;
        assert_eq!(read(&[50], &f), Some(500.0));
        assert_eq!(to_logical(&f, 500.0), 50);
        // A signed range lets a raw value past LogMax through: clamped.
        let mut g = field(0, 8, -100, 100);
        g.physical_min = -1000;
        g.physical_max = 1000;
        assert_eq!(read(&[127], &g), Some(1000.0), "clamped to PhysMax");
    }

    #[test]
    fn write_is_the_inverse_of_read() {
        let mut f = field(3, 16, -1, 32767);
        f.unit = UNIT_VOLT;
        f.unit_exponent = 5;
        let mut p = [0u8; 3];
        assert!(write(&mut p, &f, 13.5));
        assert_eq!(read(&p, &f), Some(13.5));
        assert!(write(&mut p, &f, -0.01));
        assert_eq!(read(&p, &f), Some(-0.01));
        assert!(!write(&mut [0u8; 1], &f, 1.0));
    }
}
