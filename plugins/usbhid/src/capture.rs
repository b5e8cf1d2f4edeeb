//! Reader of the HID capture files (`shared/data/hid/*.txt`, format in that
//! folder's `INDEX.md`): one device's report descriptor, the reports read
//! from it, NUT's variables and the paths NUT printed.
//!
//! This module only parses text; it knows nothing of the plugin's
//! internals, so a host-side "recorded device" backend can use it as is
//! (feature `capture`).
//!
//! Line kinds: `# key: value` headers (`vendorid`, `productid`, `product`,
//! `note`, …), `descriptor: <hex bytes>`, `get RR: RR xx …`,
//! `var name: value`, `path <path> <type> <0xRR> <offset> <size> <value>`,
//! and, for replays only (no capture file has them), `interrupt RR: RR xx …`:
//! a report the interrupt pipe delivers. [`parse_update`] reads a fragment
//! of `get` and `interrupt` lines without a descriptor, which the host's
//! replay backend uses to change a replayed device while it runs.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// One `path` line: a field as NUT printed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathLine {
    /// Path string, e.g. `UPS.PowerSummary.RemainingCapacity`.
    pub path: String,
    /// `Input`, `Output` or `Feature`.
    pub kind: String,
    /// Report id.
    pub report_id: u8,
    /// Bit offset after the report id byte.
    pub offset: u32,
    /// Size in bits.
    pub size: u32,
    /// The value as NUT printed it.
    pub value: String,
}

/// One parsed capture file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capture {
    /// `# vendorid:`.
    pub vendor_id: Option<u16>,
    /// `# productid:`.
    pub product_id: Option<u16>,
    /// `# product:` (the product string or model named by the source).
    pub product: Option<String>,
    /// Every `# note:` line.
    pub notes: Vec<String>,
    /// The report descriptor bytes.
    pub descriptor: Vec<u8>,
    /// `get` lines in file order: report id and the bytes read (id first).
    pub reads: Vec<(u8, Vec<u8>)>,
    /// `var` lines in file order.
    pub vars: Vec<(String, String)>,
    /// `path` lines in file order.
    pub paths: Vec<PathLine>,
    /// `interrupt` lines in file order: reports the interrupt pipe delivers (id first).
    pub interrupts: Vec<Vec<u8>>,
}

impl Capture {
    /// The last read of a report id, if any.
    pub fn read_of(&self, report_id: u8) -> Option<&[u8]> {
        self.reads.iter().rev().find(|(id, _)| *id == report_id).map(|(_, b)| b.as_slice())
    }

    /// The value of a NUT variable line.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

impl Capture {
    /// The names NUT used for this capture's path lines: the `explore`
    /// subdriver (standard pages only) when the log says so, else the vendor's.
    pub fn path_names(&self) -> crate::usage_names::UsageNames {
        if self.notes.iter().any(|n| n.contains("-x explore")) {
            return crate::usage_names::STANDARD;
        }
        self.vendor_id.and_then(crate::mapping::subdriver_for).map(|s| s.names).unwrap_or(crate::usage_names::STANDARD)
    }

    /// The feature reports a replay answers with: every `get` read (the
    /// last of each id), plus the reports the capture lacks but whose Feature
    /// fields NUT printed on `path` lines, rebuilt by writing those values
    /// into a zeroed report (the inverse of decoding). Returns the reports
    /// and how many were rebuilt.
    pub fn replay_reports(&self) -> (alloc::collections::BTreeMap<u8, Vec<u8>>, usize) {
        use crate::descriptor::{self, ReportKind};
        use crate::report;
        let mut reports: alloc::collections::BTreeMap<u8, Vec<u8>> = self.reads.iter().cloned().collect();
        let Ok(d) = descriptor::parse(&self.descriptor) else { return (reports, 0) };
        let names = self.path_names();
        let mut rebuilt = 0;
        for p in self.paths.iter().filter(|p| p.kind == "Feature" && self.read_of(p.report_id).is_none()) {
            let Some(f) = d.fields.iter().find(|f| {
                f.kind == ReportKind::Feature
                    && f.report_id == p.report_id
                    && f.offset == p.offset
                    && f.size == p.size
                    && names.path_string(&f.path) == p.path
            }) else {
                continue;
            };
            let (Some(len), Ok(value)) = (d.report_len(p.report_id, ReportKind::Feature), p.value.parse::<f64>())
            else {
                continue;
            };
            let buf = reports.entry(p.report_id).or_insert_with(|| {
                rebuilt += 1;
                let mut b = alloc::vec![0u8; len];
                if d.uses_report_ids {
                    b[0] = p.report_id;
                }
                b
            });
            report::write(report::payload_mut(buf, d.uses_report_ids), f, value);
        }
        (reports, rebuilt)
    }
}

/// A line that does not follow the format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: &'static str,
}

fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    s.split_whitespace().map(|b| u8::from_str_radix(b, 16).ok()).collect()
}

fn hex_u16(s: &str) -> Option<u16> {
    u16::from_str_radix(s.trim(), 16).ok()
}

/// Parse a capture file's text.
pub fn parse(text: &str) -> Result<Capture, CaptureError> {
    let c = parse_update(text)?;
    if c.descriptor.is_empty() {
        return Err(CaptureError { line: 0, reason: "no descriptor line" });
    }
    Ok(c)
}

fn report_line(rest: &str, err: impl Fn(&'static str) -> CaptureError) -> Result<(u8, Vec<u8>), CaptureError> {
    let (id, bytes) = rest.split_once(':').ok_or(err("report line without ':'"))?;
    let id = u8::from_str_radix(id.trim(), 16).map_err(|_| err("bad report id"))?;
    let bytes = hex_bytes(bytes).ok_or(err("bad report hex"))?;
    if bytes.first() != Some(&id) {
        return Err(err("report bytes do not start with the report id"));
    }
    Ok((id, bytes))
}

/// Parse text in the capture format that need not hold a descriptor: the
/// `get`/`interrupt` lines a replayed device is updated with.
pub fn parse_update(text: &str) -> Result<Capture, CaptureError> {
    let mut c = Capture::default();
    for (i, line) in text.lines().enumerate() {
        let err = |reason| CaptureError { line: i + 1, reason };
        let line = line.trim_end();
        if let Some(header) = line.strip_prefix('#') {
            let header = header.trim();
            if let Some((key, value)) = header.split_once(':') {
                let value = value.trim();
                match key {
                    "vendorid" => c.vendor_id = Some(hex_u16(value).ok_or(err("bad vendorid"))?),
                    "productid" => c.product_id = Some(hex_u16(value).ok_or(err("bad productid"))?),
                    "product" => c.product = Some(value.to_string()),
                    "note" => c.notes.push(value.to_string()),
                    _ => {}
                }
            }
        } else if let Some(hex) = line.strip_prefix("descriptor:") {
            c.descriptor = hex_bytes(hex).ok_or(err("bad descriptor hex"))?;
        } else if let Some(rest) = line.strip_prefix("get ") {
            c.reads.push(report_line(rest, err)?);
        } else if let Some(rest) = line.strip_prefix("interrupt ") {
            c.interrupts.push(report_line(rest, err)?.1);
        } else if let Some(rest) = line.strip_prefix("var ") {
            let (name, value) = rest.split_once(':').ok_or(err("var line without ':'"))?;
            // upsc prints "name: value"; keep the value after that one space.
            let value = value.strip_prefix(' ').unwrap_or(value);
            c.vars.push((name.trim().to_string(), value.to_string()));
        } else if let Some(rest) = line.strip_prefix("path ") {
            let parts: Vec<&str> = rest.split_whitespace().collect();
            if parts.len() != 6 {
                return Err(err("path line needs 6 fields"));
            }
            let report_id = parts[2]
                .strip_prefix("0x")
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(err("bad path report id"))?;
            c.paths.push(PathLine {
                path: parts[0].to_string(),
                kind: parts[1].to_string(),
                report_id,
                offset: parts[3].parse().map_err(|_| err("bad path offset"))?,
                size: parts[4].parse().map_err(|_| err("bad path size"))?,
                value: parts[5].to_string(),
            });
        } else if !line.trim().is_empty() {
            return Err(err("unknown line"));
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# vendorid: 051d\n# productid: 0002\n# note: example\n\
        descriptor: 05 84 09 04\nget 0c: 0c 64\nvar ups.serial:  <serial>\nvar ups.status: OL CHRG\n\
        path UPS.PowerSummary.RemainingCapacity Feature 0x0c 0 8 100\n";

    #[test]
    fn parses_every_line_kind() {
        let c = parse(SAMPLE).unwrap();
        assert_eq!((c.vendor_id, c.product_id), (Some(0x051D), Some(0x0002)));
        assert_eq!(c.descriptor, [0x05, 0x84, 0x09, 0x04]);
        assert_eq!(c.read_of(0x0C), Some(&[0x0C, 0x64][..]));
        assert_eq!(c.var("ups.status"), Some("OL CHRG"));
        assert_eq!(c.var("ups.serial"), Some(" <serial>"), "upsc's value is kept verbatim");
        assert_eq!(c.paths[0].report_id, 0x0C);
        assert_eq!(c.notes, ["example"]);
    }

    #[test]
    fn reports_bad_lines_by_number() {
        assert_eq!(parse("descriptor: 05\nget 0c: 0d 64\n").unwrap_err().line, 2);
        assert_eq!(parse("descriptor: zz\n").unwrap_err().reason, "bad descriptor hex");
        assert_eq!(parse("# only a comment\n").unwrap_err().reason, "no descriptor line");
    }

    #[test]
    fn updates_need_no_descriptor_and_carry_interrupts() {
        let u = parse_update("get 0c: 0c 32\ninterrupt 16: 16 00 01\n").unwrap();
        assert_eq!((u.reads.len(), u.interrupts.as_slice()), (1, &[alloc::vec![0x16, 0x00, 0x01]][..]));
        assert_eq!(parse_update("interrupt 16: 17 00\n").unwrap_err().line, 1);
    }
}
