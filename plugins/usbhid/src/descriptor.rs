//! HID report descriptor parsing (HID 1.11 §6.2.2).
//!
//! The descriptor is a byte stream of items: global items (usage page,
//! logical/physical ranges, unit, exponent, report size/count/id, push/pop),
//! local items (usages and usage ranges, reset after every main item) and main
//! items (collections and the Input/Output/Feature data items). Each data item
//! yields one [`Field`] per report count, with its usage path (the usages of
//! the enclosing collections, then its own usage) and its bit layout inside
//! the report, as NUT's parser does (drivers.md §(a) 2).
//!
//! Every loop is bounded by the input length or by the limits below, so a
//! hostile descriptor costs at most `O(len + MAX_FIELDS)` work and memory.

use alloc::vec::Vec;
use core::fmt;

/// Most fields (data objects) one descriptor may declare. Real UPS
/// descriptors have a few hundred.
pub const MAX_FIELDS: usize = 4096;
/// Deepest collection nesting accepted.
pub const MAX_DEPTH: usize = 32;
/// Deepest push/pop stack of global state accepted.
pub const MAX_PUSH: usize = 16;
/// Most usages one main item may collect (explicit usages plus expanded ranges).
pub const MAX_USAGES: usize = 256;
/// Largest report accepted, in bytes after the report id (USB full speed
/// interrupt and control transfers of UPSes are far smaller).
pub const MAX_REPORT_BYTES: u32 = 1024;
/// Widest single field, in bits: values are carried as 64-bit integers.
pub const MAX_FIELD_BITS: u32 = 32;

/// Which report a field belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReportKind {
    /// Device to host, on the interrupt pipe or by GET_REPORT(Input).
    Input,
    /// Host to device.
    Output,
    /// Both ways by control transfer (GET_REPORT/SET_REPORT Feature).
    Feature,
}

impl ReportKind {
    /// The name NUT prints (`Type: Feature`).
    pub fn name(self) -> &'static str {
        match self {
            ReportKind::Input => "Input",
            ReportKind::Output => "Output",
            ReportKind::Feature => "Feature",
        }
    }
}

/// Index nodes (a collection whose type byte is ≥ 0x80) are encoded as
/// `INDEX_NODE | n` in a path, rendered `[n]`.
pub const INDEX_NODE: u32 = 0x00FF_0000;

/// One data object: a value of one report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Collection usages (and index nodes) from the outermost, then the
    /// field's own usage; each usage is `page << 16 | id`.
    pub path: Vec<u32>,
    /// Report id (0 when the descriptor declares none).
    pub report_id: u8,
    /// Input, Output or Feature.
    pub kind: ReportKind,
    /// Bit offset of the value, counted after the report id byte.
    pub offset: u32,
    /// Width in bits.
    pub size: u32,
    /// Logical minimum.
    pub logical_min: i64,
    /// Logical maximum.
    pub logical_max: i64,
    /// True when the maximum was written as a negative number below the
    /// minimum and taken as unsigned instead (some fix-ups key on it).
    pub logical_max_assumed: bool,
    /// Physical minimum (0 when unset).
    pub physical_min: i64,
    /// Physical maximum (0 when unset).
    pub physical_max: i64,
    /// HID unit code.
    pub unit: u32,
    /// Unit exponent, −8..=7.
    pub unit_exponent: i8,
    /// The main item's data flags (bit 0 constant, bit 1 variable, …).
    pub flags: u32,
}

impl Field {
    /// The field's own usage (last path node).
    pub fn usage(&self) -> u32 {
        self.path.last().copied().unwrap_or(0)
    }

    /// True for an array item (flag bit 1 clear): the value is a usage index,
    /// not a quantity.
    pub fn is_array(&self) -> bool {
        self.flags & 0x02 == 0
    }

    /// True for constant (padding) items.
    pub fn is_constant(&self) -> bool {
        self.flags & 0x01 != 0
    }
}

/// A parsed descriptor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportDescriptor {
    /// Every data field, in descriptor order.
    pub fields: Vec<Field>,
    /// Number of items walked (all of them when parsing succeeded).
    pub items: usize,
    /// Collections opened and never closed at the end of the descriptor
    /// (tolerated, as devices ship such descriptors; 0 when balanced).
    pub unclosed_collections: usize,
    /// `(report id, kind, length in bits after the id)` of every report.
    pub report_bits: Vec<(u8, ReportKind, u32)>,
    /// True when at least one report id was declared (reports then start with it).
    pub uses_report_ids: bool,
}

impl ReportDescriptor {
    /// Length in bytes of a report, report id byte included when ids are used.
    pub fn report_len(&self, report_id: u8, kind: ReportKind) -> Option<usize> {
        self.report_bits.iter().find(|(id, k, _)| *id == report_id && *k == kind).map(|(_, _, bits)| {
            let payload = (*bits as usize).div_ceil(8);
            payload + usize::from(self.uses_report_ids)
        })
    }
}

/// Why a descriptor was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescriptorError {
    /// Byte offset of the offending item.
    pub at: usize,
    /// What is wrong.
    pub reason: &'static str,
}

impl fmt::Display for DescriptorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HID report descriptor: {} at byte {}", self.reason, self.at)
    }
}

#[derive(Clone, Copy, Default)]
struct Globals {
    usage_page: u32,
    logical_min: i64,
    logical_max: i64,
    logical_max_assumed: bool,
    physical_min: i64,
    physical_max: i64,
    unit_exponent: i8,
    unit: u32,
    report_size: u32,
    report_id: u8,
    report_count: u32,
}

/// Item data as a signed value of its own width (1, 2 or 4 bytes).
fn signed(data: u32, len: usize) -> i64 {
    match len {
        1 => i64::from(data as u8 as i8),
        2 => i64::from(data as u16 as i16),
        4 => i64::from(data as i32),
        _ => 0,
    }
}

/// A usage item: 4-byte data is a full `page << 16 | id`; shorter data is an
/// id on the current usage page.
fn full_usage(data: u32, len: usize, page: u32) -> u32 {
    if len == 4 { data } else { (page << 16) | (data & 0xFFFF) }
}

/// Parse a report descriptor.
pub fn parse(bytes: &[u8]) -> Result<ReportDescriptor, DescriptorError> {
    let mut out = ReportDescriptor::default();
    let mut g = Globals::default();
    let mut stack: Vec<Globals> = Vec::new();
    let mut usages: Vec<u32> = Vec::new();
    let mut usage_min: Option<u32> = None;
    let mut collection: Vec<u32> = Vec::new(); // path of open collections (with index nodes)
    let mut depth_nodes: Vec<usize> = Vec::new(); // nodes pushed per open collection
    let mut pos = 0usize;

    while pos < bytes.len() {
        let at = pos;
        let prefix = bytes[pos];
        pos += 1;
        if prefix == 0xFE {
            // Long item: size byte, tag byte, data. Skipped (none are defined).
            let size = *bytes.get(pos).ok_or(DescriptorError { at, reason: "truncated long item" })? as usize;
            pos += 2 + size;
            if pos > bytes.len() {
                return Err(DescriptorError { at, reason: "truncated long item" });
            }
            out.items += 1;
            continue;
        }
        let len = match prefix & 0x03 {
            3 => 4,
            n => n as usize,
        };
        let data_bytes = bytes.get(pos..pos + len).ok_or(DescriptorError { at, reason: "truncated item" })?;
        pos += len;
        let data = data_bytes.iter().rev().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
        let tag = prefix >> 4;
        out.items += 1;
        match (prefix >> 2) & 0x03 {
            // Main items.
            0 => match tag {
                0x8 | 0x9 | 0xB => {
                    let kind = match tag {
                        0x8 => ReportKind::Input,
                        0x9 => ReportKind::Output,
                        _ => ReportKind::Feature,
                    };
                    add_fields(&mut out, &g, kind, data, &usages, &collection, at)?;
                    usages.clear();
                    usage_min = None;
                }
                0xA => {
                    if depth_nodes.len() >= MAX_DEPTH {
                        return Err(DescriptorError { at, reason: "collections nested too deep" });
                    }
                    let usage = usages.first().copied().unwrap_or(0);
                    collection.push(usage);
                    let mut nodes = 1;
                    if data & 0xFF >= 0x80 {
                        collection.push(INDEX_NODE | (data & 0x7F));
                        nodes += 1;
                    }
                    depth_nodes.push(nodes);
                    usages.clear();
                    usage_min = None;
                }
                0xC => {
                    let nodes =
                        depth_nodes.pop().ok_or(DescriptorError { at, reason: "end collection without collection" })?;
                    collection.truncate(collection.len() - nodes);
                    usages.clear();
                    usage_min = None;
                }
                _ => {}
            },
            // Global items.
            1 => match tag {
                0x0 => g.usage_page = data & 0xFFFF,
                0x1 => g.logical_min = signed(data, len),
                0x2 => {
                    g.logical_max = signed(data, len);
                    // Many devices write an unsigned maximum in one or two
                    // bytes (`25 ff` for 255): read as signed it falls below
                    // the minimum, so take it unsigned, as the HID spec intends.
                    g.logical_max_assumed = g.logical_max < g.logical_min && len < 4;
                    if g.logical_max_assumed {
                        g.logical_max = i64::from(data);
                    }
                }
                0x3 => g.physical_min = signed(data, len),
                0x4 => {
                    g.physical_max = signed(data, len);
                    if g.physical_max < g.physical_min && len < 4 {
                        g.physical_max = i64::from(data);
                    }
                }
                0x5 => {
                    // A 4-bit two's-complement nibble (HID 1.11 §6.2.2.7).
                    let nibble = (data & 0x0F) as i8;
                    g.unit_exponent = if nibble > 7 { nibble - 16 } else { nibble };
                }
                0x6 => g.unit = data,
                0x7 => g.report_size = data,
                0x8 => {
                    if data == 0 || data > 0xFF {
                        return Err(DescriptorError { at, reason: "report id out of range" });
                    }
                    g.report_id = data as u8;
                    out.uses_report_ids = true;
                }
                0x9 => g.report_count = data,
                0xA => {
                    if stack.len() >= MAX_PUSH {
                        return Err(DescriptorError { at, reason: "push stack too deep" });
                    }
                    stack.push(g);
                }
                0xB => g = stack.pop().ok_or(DescriptorError { at, reason: "pop without push" })?,
                _ => {}
            },
            // Local items.
            2 => match tag {
                0x0 if usages.len() < MAX_USAGES => usages.push(full_usage(data, len, g.usage_page)),
                0x1 => usage_min = Some(full_usage(data, len, g.usage_page)),
                0x2 => {
                    let max = full_usage(data, len, g.usage_page);
                    if let Some(min) = usage_min.take() {
                        let mut u = min;
                        while u <= max && usages.len() < MAX_USAGES {
                            usages.push(u);
                            u = match u.checked_add(1) {
                                Some(n) => n,
                                None => break,
                            };
                        }
                    }
                }
                _ => {}
            },
            _ => return Err(DescriptorError { at, reason: "reserved item type" }),
        }
    }
    out.unclosed_collections = depth_nodes.len();
    Ok(out)
}

fn add_fields(
    out: &mut ReportDescriptor,
    g: &Globals,
    kind: ReportKind,
    flags: u32,
    usages: &[u32],
    collection: &[u32],
    at: usize,
) -> Result<(), DescriptorError> {
    let total = u64::from(g.report_size) * u64::from(g.report_count);
    let slot = match out.report_bits.iter().position(|(id, k, _)| *id == g.report_id && *k == kind) {
        Some(i) => i,
        None => {
            out.report_bits.push((g.report_id, kind, 0));
            out.report_bits.len() - 1
        }
    };
    let start = out.report_bits[slot].2;
    if u64::from(start) + total > u64::from(MAX_REPORT_BYTES) * 8 {
        return Err(DescriptorError { at, reason: "report too long" });
    }
    out.report_bits[slot].2 = start + total as u32;
    // Padding without usages carries no data: it only advances the offset.
    if usages.is_empty() || g.report_size == 0 {
        return Ok(());
    }
    for i in 0..g.report_count {
        if out.fields.len() >= MAX_FIELDS {
            return Err(DescriptorError { at, reason: "too many fields" });
        }
        // Past the last usage, the last one repeats (HID 1.11 §6.2.2.8).
        let usage = usages.get(i as usize).or(usages.last()).copied().unwrap_or(0);
        let mut path = Vec::with_capacity(collection.len() + 1);
        path.extend_from_slice(collection);
        path.push(usage);
        out.fields.push(Field {
            path,
            report_id: g.report_id,
            kind,
            offset: start + i * g.report_size,
            size: g.report_size,
            logical_min: g.logical_min,
            logical_max: g.logical_max,
            logical_max_assumed: g.logical_max_assumed,
            physical_min: g.physical_min,
            physical_max: g.physical_max,
            unit: g.unit,
            unit_exponent: g.unit_exponent,
            flags,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // UPS / PowerSummary / RemainingCapacity, report 0x0c, 8 bits, plus an
    // indexed collection and a 16-bit voltage with unit and exponent.
    const SMALL: &[u8] = &[
        0x05, 0x84, 0x09, 0x04, 0xA1, 0x01, // UPS application collection
        0x09, 0x24, 0xA1, 0x00, // PowerSummary
        0x85, 0x0C, 0x05, 0x85, 0x09, 0x66, 0x75, 0x08, 0x95, 0x01, 0x15, 0x00, 0x25, 0x64, 0xB1, 0xA2, // feature
        0xC0, // end PowerSummary
        0x05, 0x84, 0x09, 0x1A, 0xA1, 0x81, // Input.[1]
        0x85, 0x31, 0x09, 0x30, 0x75, 0x10, 0x27, 0xFF, 0xFF, 0x00, 0x00, 0x67, 0x21, 0xD1, 0xF0, 0x00, 0x55, 0x07,
        0xB1, 0x83, 0xC0, 0xC0,
    ];

    #[test]
    fn walks_nested_collections_and_index_nodes() {
        let d = parse(SMALL).unwrap();
        assert_eq!(d.unclosed_collections, 0);
        assert_eq!(d.fields.len(), 2);
        let cap = &d.fields[0];
        assert_eq!(cap.path, [0x840004, 0x840024, 0x850066]);
        assert_eq!((cap.report_id, cap.kind, cap.offset, cap.size), (0x0C, ReportKind::Feature, 0, 8));
        assert_eq!((cap.logical_min, cap.logical_max), (0, 100));
        let volt = &d.fields[1];
        assert_eq!(volt.path, [0x840004, 0x84001A, INDEX_NODE | 1, 0x840030]);
        assert_eq!((volt.unit, volt.unit_exponent, volt.logical_max), (0x00F0D121, 7, 65535));
        assert_eq!(d.report_len(0x31, ReportKind::Feature), Some(3));
    }

    #[test]
    fn one_byte_unsigned_maximum_is_read_unsigned() {
        // 15 00 25 ff: signed read gives −1 < 0, so 255 is meant.
        let d = parse(&[0x05, 0x84, 0x09, 0x35, 0x75, 0x08, 0x95, 0x01, 0x15, 0x00, 0x25, 0xFF, 0x81, 0x02]).unwrap();
        assert_eq!(d.fields[0].logical_max, 255);
        assert!(d.fields[0].logical_max_assumed);
        // 15 81 25 7f: a genuine signed range stays signed.
        let d = parse(&[0x05, 0x84, 0x09, 0x35, 0x75, 0x08, 0x95, 0x01, 0x15, 0x81, 0x25, 0x7F, 0x81, 0x02]).unwrap();
        assert_eq!((d.fields[0].logical_min, d.fields[0].logical_max), (-127, 127));
    }

    #[test]
    fn report_count_repeats_last_usage_and_expands_ranges() {
        // Usage min 0x44 .. max 0x46, count 4: 44 45 46 46.
        let d = parse(&[0x05, 0x85, 0x19, 0x44, 0x29, 0x46, 0x75, 0x01, 0x95, 0x04, 0x81, 0x02]).unwrap();
        let usages: Vec<u32> = d.fields.iter().map(Field::usage).collect();
        assert_eq!(usages, [0x850044, 0x850045, 0x850046, 0x850046]);
        assert_eq!(d.fields[3].offset, 3);
    }

    #[test]
    fn push_pop_restore_globals_and_padding_advances_offsets() {
        let d = parse(&[
            0x05, 0x84, 0x75, 0x08, 0x95, 0x01, 0xA4, // push (size 8)
            0x75, 0x04, 0x81, 0x03, // 4 bits padding, no usage
            0x09, 0x30, 0x81, 0x02, // 4-bit field at 4
            0xB4, // pop: size 8 again
            0x09, 0x31, 0x81, 0x02,
        ])
        .unwrap();
        assert_eq!(d.fields.len(), 2);
        assert_eq!((d.fields[0].offset, d.fields[0].size), (4, 4));
        assert_eq!((d.fields[1].offset, d.fields[1].size), (8, 8));
    }

    #[test]
    fn malformed_input_is_refused_with_position() {
        assert_eq!(parse(&[0xC0]).unwrap_err().at, 0);
        assert_eq!(parse(&[0x05, 0x84, 0x26, 0xFF]).unwrap_err().reason, "truncated item");
        assert_eq!(parse(&[0xB4]).unwrap_err().reason, "pop without push");
        let deep: Vec<u8> = core::iter::repeat_n([0xA1, 0x00], MAX_DEPTH + 1).flatten().collect();
        assert_eq!(parse(&deep).unwrap_err().reason, "collections nested too deep");
        // 2^32−1 report count of 8 bits: refused, not allocated.
        let huge = [0x75, 0x08, 0x97, 0xFF, 0xFF, 0xFF, 0xFF, 0x09, 0x30, 0x81, 0x02];
        assert_eq!(parse(&huge).unwrap_err().reason, "report too long");
    }

    #[test]
    fn unclosed_collections_are_counted() {
        let d = parse(&[0x05, 0x84, 0x09, 0x04, 0xA1, 0x01]).unwrap();
        assert_eq!(d.unclosed_collections, 1);
    }
}
