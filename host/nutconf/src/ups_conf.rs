//! `ups.conf`: global directives followed by one section per device.
//!
//! Grammar (spec `config-files.md` §2, NUT `common/upsconf.c`), on top of the
//! [`parseconf`] tokens of each logical line:
//! - `[name]` (first token starts with `[` and ends with `]`) opens a section;
//! - `key = value` (at least 3 tokens, `=` second; tokens after the value are
//!   ignored with a warning);
//! - `key` alone is a flag;
//! - anything else is ignored with a warning.
//!
//! Problems are split by blast radius so a host can keep running the good
//! devices: a problem in the globals (which every section inherits) fails
//! the whole file with a [`ConfError`]; a problem inside a section makes only
//! that section an [`InvalidSection`]. Each valid [`Section`] carries a
//! [`checksum`](Section::checksum) so a reload can tell which devices changed.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::parseconf::{self, OwnedLine};

/// Seconds between driver updates when neither the section nor the globals
/// set `pollinterval` (NUT default).
pub const DEFAULT_POLLINTERVAL: u32 = 2;
/// Driver start attempts when `maxretry` is not set (NUT default).
pub const DEFAULT_MAXRETRY: u32 = 1;
/// Seconds between start attempts when `retrydelay` is not set (NUT default).
pub const DEFAULT_RETRYDELAY: u32 = 5;
/// Seconds to wait for a driver to start when `maxstartdelay` is not set
/// (NUT default).
pub const DEFAULT_MAXSTARTDELAY: u32 = 75;

/// Section options handled by NUT's driver core rather than by each driver;
/// [`Section::driver_options`] leaves them (and `override.*`, `default.*`)
/// out. Matched case-sensitively, except `debug_min`.
pub const CORE_OPTIONS: &[&str] = &[
    "driver",
    "port",
    "desc",
    "user",
    "group",
    "pollinterval",
    "synchronous",
    "sdorder",
    "sdcommands",
    "allow_killpower",
    "nolock",
    "ignorelb",
    "maxstartdelay",
    "maxretry",
    "retrydelay",
    "reconnect_max_tries",
    "reconnect_report_freq",
    "debug_min",
    "LIBUSB_DEBUG",
    "sddelay",
];

/// Global directives NUT knows; others are kept but warned about.
const KNOWN_GLOBALS: &[&str] = &[
    "chroot",
    "driverpath",
    "statepath",
    "user",
    "group",
    "pollinterval",
    "synchronous",
    "maxstartdelay",
    "maxretry",
    "retrydelay",
    "nowait",
    "reconnect_max_tries",
    "reconnect_report_freq",
    "debug_min",
    "LIBUSB_DEBUG",
];

/// Section names upsd uses internally.
const RESERVED_SECTION: &str = "default";

/// One `key = value` or flag line, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Option name (case preserved).
    pub key: String,
    /// The value, or `None` for a flag.
    pub value: Option<String>,
    /// Physical line (1-based) where the entry starts.
    pub line: usize,
}

/// Something odd but harmless (an ignored line, an unknown global, an
/// obsolete option), for the caller to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Physical line (1-based) it refers to.
    pub line: usize,
    /// Human-readable description.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// A configuration error; every variant names the file, the line and what
/// was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfError {
    /// A line had an unescaped `#` inside quotes and was discarded.
    #[error(
        "{}:{line}: parse error: unescaped '#' inside quotes; expected \\# or a closing quote first (line discarded)",
        .path.display()
    )]
    Parse {
        /// File being read.
        path: PathBuf,
        /// Line of the offending `#`.
        line: usize,
    },
    /// A line starting with `[` is not a usable `[name]` header.
    #[error(
        "{}:{line}: invalid section header {header:?}; expected [name] as one token with a non-empty name (no spaces)",
        .path.display()
    )]
    InvalidHeader {
        /// File being read.
        path: PathBuf,
        /// Line of the header.
        line: usize,
        /// The header tokens as read.
        header: String,
    },
    /// The section name is reserved for upsd's own use.
    #[error("{}:{line}: section name [{name}] is reserved; expected another name", .path.display())]
    ReservedSection {
        /// File being read.
        path: PathBuf,
        /// Line of the header.
        line: usize,
        /// The section name.
        name: String,
    },
    /// A second section has the same name (upsd compares names
    /// case-insensitively).
    #[error(
        "{}:{line}: duplicate section [{name}], first defined at line {first_line}; expected unique names (compared case-insensitively)",
        .path.display()
    )]
    DuplicateSection {
        /// File being read.
        path: PathBuf,
        /// Line of the duplicate header.
        line: usize,
        /// The duplicate name as written.
        name: String,
        /// Line of the first section with that name.
        first_line: usize,
    },
    /// A required option is absent from a section.
    #[error("{}:{line}: section [{section}] has no '{key}'; expected '{key} = <value>'", .path.display())]
    MissingKey {
        /// File being read.
        path: PathBuf,
        /// Line of the section header.
        line: usize,
        /// The section name.
        section: String,
        /// The missing option.
        key: &'static str,
    },
    /// An option has no value, or one of the wrong kind.
    #[error("{}:{line}: invalid '{key}': expected {expected}, found {found}", .path.display())]
    InvalidValue {
        /// File being read.
        path: PathBuf,
        /// Line of the entry.
        line: usize,
        /// The option name.
        key: String,
        /// What the option needs.
        expected: &'static str,
        /// What was there: the quoted value, or "no value" for a flag.
        found: String,
    },
}

impl ConfError {
    /// The line the error refers to, for callers that sort or group errors.
    pub fn line(&self) -> usize {
        match self {
            ConfError::Parse { line, .. }
            | ConfError::InvalidHeader { line, .. }
            | ConfError::ReservedSection { line, .. }
            | ConfError::DuplicateSection { line, .. }
            | ConfError::MissingKey { line, .. }
            | ConfError::InvalidValue { line, .. } => *line,
        }
    }
}

/// A section that could not be used; the rest of the file still loads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSection {
    /// The section name, or `None` when the header itself is invalid.
    pub name: Option<String>,
    /// Line of the section header.
    pub line: usize,
    /// The first problem found in the section.
    pub error: ConfError,
}

/// Directives before the first section; inherited by every section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Globals {
    entries: Vec<Entry>,
    pollinterval: Option<u32>,
    maxretry: Option<u32>,
    retrydelay: Option<u32>,
    maxstartdelay: Option<u32>,
}

impl Globals {
    /// All global entries in file order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Last value set for `key` (case-sensitive); later lines win as in NUT.
    pub fn value(&self, key: &str) -> Option<&str> {
        last_value(&self.entries, key)
    }

    /// Whether `key` appears as a flag.
    pub fn flag(&self, key: &str) -> bool {
        has_flag(&self.entries, key)
    }

    /// Global `pollinterval` (seconds, > 0), if set.
    pub fn pollinterval(&self) -> Option<u32> {
        self.pollinterval
    }

    /// Global `maxretry` (driver start attempts), if set.
    pub fn maxretry(&self) -> Option<u32> {
        self.maxretry
    }

    /// Global `retrydelay` (seconds between start attempts), if set.
    pub fn retrydelay(&self) -> Option<u32> {
        self.retrydelay
    }

    /// Global `maxstartdelay` (seconds to wait for a driver start), if set.
    pub fn maxstartdelay(&self) -> Option<u32> {
        self.maxstartdelay
    }

    /// `statepath`: directory of driver sockets (env `NUT_STATEPATH` wins,
    /// which is the caller's business).
    pub fn statepath(&self) -> Option<&str> {
        self.value("statepath")
    }

    /// `driverpath`: where NUT looks for driver programs.
    pub fn driverpath(&self) -> Option<&str> {
        self.value("driverpath")
    }

    /// `chroot`: directory drivers chroot into.
    pub fn chroot(&self) -> Option<&str> {
        self.value("chroot")
    }

    /// `user`: account drivers run as.
    pub fn user(&self) -> Option<&str> {
        self.value("user")
    }

    /// `group`: group drivers run as.
    pub fn group(&self) -> Option<&str> {
        self.value("group")
    }

    /// `nowait` flag: upsdrvctl does not wait for drivers to start.
    pub fn nowait(&self) -> bool {
        self.entries.iter().any(|entry| entry.key == "nowait")
    }

    fn build(path: &Path, entries: Vec<Entry>, warnings: &mut Vec<Warning>) -> Result<Self, ConfError> {
        let mut globals =
            Globals { entries: Vec::new(), pollinterval: None, maxretry: None, retrydelay: None, maxstartdelay: None };
        for entry in &entries {
            let key = entry.key.as_str();
            match key {
                "pollinterval" => globals.pollinterval = Some(positive_seconds(path, entry)?),
                "maxretry" => globals.maxretry = Some(whole_number(path, entry)?),
                "retrydelay" => globals.retrydelay = Some(whole_number(path, entry)?),
                "maxstartdelay" => globals.maxstartdelay = Some(whole_number(path, entry)?),
                "nowait" => {}
                _ if is_known_global(key) => {
                    required_value(path, entry)?;
                }
                _ => warnings.push(Warning {
                    line: entry.line,
                    message: format!("unknown global directive '{key}' (kept, but NUT ignores it)"),
                }),
            }
        }
        globals.entries = entries;
        Ok(globals)
    }
}

/// A valid device section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    name: String,
    line: usize,
    entries: Vec<Entry>,
    driver: String,
    port: String,
    pollinterval: u32,
    maxretry: u32,
    retrydelay: u32,
    maxstartdelay: u32,
    checksum: u64,
}

impl Section {
    /// Device name, as written between the brackets.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Line of the `[name]` header.
    pub fn line(&self) -> usize {
        self.line
    }

    /// All entries of the section in file order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Last value set for `key` (case-sensitive); later lines win as in NUT.
    pub fn value(&self, key: &str) -> Option<&str> {
        last_value(&self.entries, key)
    }

    /// Whether `key` appears as a flag.
    pub fn flag(&self, key: &str) -> bool {
        has_flag(&self.entries, key)
    }

    /// `driver`: the driver (plugin) name; also the socket-name prefix.
    pub fn driver(&self) -> &str {
        &self.driver
    }

    /// `port`: device path, host or file, meaning is driver specific.
    pub fn port(&self) -> &str {
        &self.port
    }

    /// `desc`: description shown by upsd's `LIST UPS`.
    pub fn desc(&self) -> Option<&str> {
        self.value("desc")
    }

    /// Seconds between updates: the section's value, else the global one,
    /// else [`DEFAULT_POLLINTERVAL`]. Always > 0.
    pub fn pollinterval(&self) -> u32 {
        self.pollinterval
    }

    /// Driver start attempts: section, else global, else [`DEFAULT_MAXRETRY`].
    pub fn maxretry(&self) -> u32 {
        self.maxretry
    }

    /// Seconds between start attempts: section, else global, else
    /// [`DEFAULT_RETRYDELAY`].
    pub fn retrydelay(&self) -> u32 {
        self.retrydelay
    }

    /// Seconds to wait for a driver start: section, else global, else
    /// [`DEFAULT_MAXSTARTDELAY`].
    pub fn maxstartdelay(&self) -> u32 {
        self.maxstartdelay
    }

    /// `override.<var> = value` entries as `(var, value)` in file order:
    /// values forced over what the device reports.
    pub fn overrides(&self) -> impl Iterator<Item = (&str, &str)> {
        prefixed(&self.entries, "override.")
    }

    /// `default.<var> = value` entries as `(var, value)` in file order:
    /// initial values until the device reports its own.
    pub fn defaults(&self) -> impl Iterator<Item = (&str, &str)> {
        prefixed(&self.entries, "default.")
    }

    /// Entries meant for the driver itself, in file order: everything except
    /// [`CORE_OPTIONS`], `override.*` and `default.*`. Later duplicates
    /// override earlier ones, as in NUT.
    pub fn driver_options(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|entry| !is_core_option(&entry.key))
    }

    /// Fingerprint of the section's name and entries plus the globals it
    /// inherits (line numbers excluded), so a reload can detect which
    /// sections changed. FNV-1a 64 over a length-prefixed encoding.
    pub fn checksum(&self) -> u64 {
        self.checksum
    }
}

/// A parsed `ups.conf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsConf {
    path: PathBuf,
    globals: Globals,
    sections: Vec<Section>,
    invalid_sections: Vec<InvalidSection>,
    warnings: Vec<Warning>,
}

/// A section as read, before validation.
struct RawSection {
    /// The name, or the unusable header text.
    name: Result<String, String>,
    line: usize,
    entries: Vec<Entry>,
    /// Line of the first discarded (unparsable) line in the section.
    parse_error: Option<usize>,
}

/// What one logical line is.
enum LineKind {
    Empty,
    Header(Result<String, String>),
    Entry(Entry),
}

impl UpsConf {
    /// Parses `text` (the content of the file at `path`, used in messages).
    ///
    /// Fails only for problems in the global part; problems inside a section
    /// are listed in [`invalid_sections`](Self::invalid_sections).
    pub fn parse(path: impl AsRef<Path>, text: impl AsRef<[u8]>) -> Result<UpsConf, ConfError> {
        let path = path.as_ref().to_path_buf();
        let mut global_entries = Vec::new();
        let mut raw_sections: Vec<RawSection> = Vec::new();
        let mut warnings = Vec::new();

        for item in parseconf::lines(text.as_ref()) {
            let line = match item {
                Ok(line) => line,
                Err(error) => match raw_sections.last_mut() {
                    Some(section) => {
                        section.parse_error.get_or_insert(error.line);
                        continue;
                    }
                    None => {
                        return Err(ConfError::Parse { path, line: error.line });
                    }
                },
            };
            let number = line.number;
            match classify(line, &mut warnings) {
                LineKind::Empty => {}
                LineKind::Header(name) => {
                    raw_sections.push(RawSection { name, line: number, entries: Vec::new(), parse_error: None })
                }
                LineKind::Entry(entry) => match raw_sections.last_mut() {
                    Some(section) => section.entries.push(entry),
                    None => global_entries.push(entry),
                },
            }
        }

        let globals = Globals::build(&path, global_entries, &mut warnings)?;
        let mut first_lines: HashMap<String, usize> = HashMap::new();
        let mut sections = Vec::new();
        let mut invalid_sections = Vec::new();
        for raw in raw_sections {
            match build_section(&path, &globals, raw, &mut first_lines, &mut warnings) {
                Ok(section) => sections.push(section),
                Err(invalid) => invalid_sections.push(*invalid),
            }
        }
        warnings.sort_by_key(|warning| warning.line);
        Ok(UpsConf { path, globals, sections, invalid_sections, warnings })
    }

    /// The path given to [`parse`](Self::parse).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The global directives.
    pub fn globals(&self) -> &Globals {
        &self.globals
    }

    /// The valid sections in file order.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// The valid section called `name`, compared case-insensitively as upsd
    /// does.
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|section| section.name.eq_ignore_ascii_case(name))
    }

    /// Sections that could not be used, in file order, each with its error.
    pub fn invalid_sections(&self) -> &[InvalidSection] {
        &self.invalid_sections
    }

    /// Harmless oddities worth logging, in line order.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }
}

fn classify(line: OwnedLine, warnings: &mut Vec<Warning>) -> LineKind {
    let number = line.number;
    let mut tokens = line.tokens.into_iter();
    let Some(first) = tokens.next() else {
        return LineKind::Empty;
    };
    let rest: Vec<String> = tokens.collect();

    if first.starts_with('[') {
        let name = first.strip_prefix('[').and_then(|inner| inner.strip_suffix(']'));
        return match name {
            Some(name) if !name.is_empty() => {
                if !rest.is_empty() {
                    warnings.push(Warning {
                        line: number,
                        message: format!("tokens after section header {first} ignored"),
                    });
                }
                LineKind::Header(Ok(name.to_owned()))
            }
            _ => {
                let mut header = first;
                for token in &rest {
                    header.push(' ');
                    header.push_str(token);
                }
                LineKind::Header(Err(header))
            }
        };
    }

    let mut rest = rest.into_iter();
    match (rest.next(), rest.next()) {
        (None, _) if first == "=" => {
            warnings.push(Warning { line: number, message: "lone '=' ignored".to_owned() });
            LineKind::Empty
        }
        (None, _) => LineKind::Entry(Entry { key: first, value: None, line: number }),
        (Some(equals), Some(value)) if equals == "=" => {
            if rest.next().is_some() {
                warnings.push(Warning {
                    line: number,
                    message: format!("tokens after the value of '{first}' ignored (quote values that contain spaces)"),
                });
            }
            LineKind::Entry(Entry { key: first, value: Some(value), line: number })
        }
        _ => {
            warnings.push(Warning {
                line: number,
                message: format!("line starting with '{first}' ignored; expected 'key = value', a flag, or '[name]'"),
            });
            LineKind::Empty
        }
    }
}

fn build_section(
    path: &Path,
    globals: &Globals,
    raw: RawSection,
    first_lines: &mut HashMap<String, usize>,
    warnings: &mut Vec<Warning>,
) -> Result<Section, Box<InvalidSection>> {
    let line = raw.line;
    let name = match raw.name {
        Ok(name) => name,
        Err(header) => {
            let error = ConfError::InvalidHeader { path: path.to_path_buf(), line, header };
            return Err(Box::new(InvalidSection { name: None, line, error }));
        }
    };
    let invalid = |error: ConfError| Box::new(InvalidSection { name: Some(name.clone()), line, error });

    if name.eq_ignore_ascii_case(RESERVED_SECTION) {
        return Err(invalid(ConfError::ReservedSection { path: path.to_path_buf(), line, name: name.clone() }));
    }
    if let Some(&first_line) = first_lines.get(&name.to_ascii_lowercase()) {
        return Err(invalid(ConfError::DuplicateSection {
            path: path.to_path_buf(),
            line,
            name: name.clone(),
            first_line,
        }));
    }
    first_lines.insert(name.to_ascii_lowercase(), line);
    if let Some(error_line) = raw.parse_error {
        return Err(invalid(ConfError::Parse { path: path.to_path_buf(), line: error_line }));
    }

    let mut driver = None;
    let mut port = None;
    let mut pollinterval = None;
    let mut maxretry = None;
    let mut retrydelay = None;
    let mut maxstartdelay = None;
    for entry in &raw.entries {
        let checked = match entry.key.as_str() {
            "driver" => non_empty_value(path, entry).map(|value| driver = Some(value)),
            "port" => non_empty_value(path, entry).map(|value| port = Some(value)),
            "desc" => required_value(path, entry).map(drop),
            "pollinterval" => positive_seconds(path, entry).map(|value| pollinterval = Some(value)),
            "maxretry" => whole_number(path, entry).map(|value| maxretry = Some(value)),
            "retrydelay" => whole_number(path, entry).map(|value| retrydelay = Some(value)),
            "maxstartdelay" => whole_number(path, entry).map(|value| maxstartdelay = Some(value)),
            "sddelay" => {
                warnings.push(Warning { line: entry.line, message: "obsolete option 'sddelay' ignored".to_owned() });
                Ok(())
            }
            key if key.starts_with("override.") || key.starts_with("default.") => variable_value(path, entry),
            _ => Ok(()),
        };
        checked.map_err(invalid)?;
    }
    let missing = |key: &'static str| {
        invalid(ConfError::MissingKey { path: path.to_path_buf(), line, section: name.clone(), key })
    };
    let driver = driver.ok_or_else(|| missing("driver"))?.to_owned();
    let port = port.ok_or_else(|| missing("port"))?.to_owned();

    let checksum = fingerprint(&name, &raw.entries, &globals.entries);
    Ok(Section {
        driver,
        port,
        pollinterval: pollinterval.or(globals.pollinterval).unwrap_or(DEFAULT_POLLINTERVAL),
        maxretry: maxretry.or(globals.maxretry).unwrap_or(DEFAULT_MAXRETRY),
        retrydelay: retrydelay.or(globals.retrydelay).unwrap_or(DEFAULT_RETRYDELAY),
        maxstartdelay: maxstartdelay.or(globals.maxstartdelay).unwrap_or(DEFAULT_MAXSTARTDELAY),
        checksum,
        name,
        line,
        entries: raw.entries,
    })
}

fn invalid_value(path: &Path, entry: &Entry, expected: &'static str) -> ConfError {
    let found = match &entry.value {
        Some(value) => format!("{value:?}"),
        None => "no value".to_owned(),
    };
    ConfError::InvalidValue { path: path.to_path_buf(), line: entry.line, key: entry.key.clone(), expected, found }
}

fn required_value<'a>(path: &Path, entry: &'a Entry) -> Result<&'a str, ConfError> {
    entry.value.as_deref().ok_or_else(|| invalid_value(path, entry, "'key = value'"))
}

fn non_empty_value<'a>(path: &Path, entry: &'a Entry) -> Result<&'a str, ConfError> {
    match entry.value.as_deref() {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(invalid_value(path, entry, "a non-empty value")),
    }
}

fn whole_number(path: &Path, entry: &Entry) -> Result<u32, ConfError> {
    entry.value.as_deref().and_then(parse_decimal).ok_or_else(|| invalid_value(path, entry, "a whole number"))
}

fn positive_seconds(path: &Path, entry: &Entry) -> Result<u32, ConfError> {
    match entry.value.as_deref().and_then(parse_decimal) {
        Some(seconds) if seconds > 0 => Ok(seconds),
        _ => Err(invalid_value(path, entry, "a whole number of seconds greater than 0")),
    }
}

fn variable_value(path: &Path, entry: &Entry) -> Result<(), ConfError> {
    let variable = entry.key.split_once('.').map(|(_, variable)| variable).unwrap_or("");
    if variable.is_empty() || entry.value.is_none() {
        return Err(invalid_value(path, entry, "'override.<variable> = value' or 'default.<variable> = value'"));
    }
    Ok(())
}

/// Plain decimal digits only (no sign, no spaces), fitting in `u32`.
fn parse_decimal(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn is_known_global(key: &str) -> bool {
    key.eq_ignore_ascii_case("debug_min") || KNOWN_GLOBALS.contains(&key)
}

fn is_core_option(key: &str) -> bool {
    key.eq_ignore_ascii_case("debug_min")
        || CORE_OPTIONS.contains(&key)
        || key.starts_with("override.")
        || key.starts_with("default.")
}

fn last_value<'a>(entries: &'a [Entry], key: &str) -> Option<&'a str> {
    entries
        .iter()
        .rev()
        .find(|entry| entry.key == key && entry.value.is_some())
        .and_then(|entry| entry.value.as_deref())
}

fn has_flag(entries: &[Entry], key: &str) -> bool {
    entries.iter().any(|entry| entry.key == key && entry.value.is_none())
}

fn prefixed<'a>(entries: &'a [Entry], prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
    entries.iter().filter_map(move |entry| Some((entry.key.strip_prefix(prefix)?, entry.value.as_deref()?)))
}

/// FNV-1a 64-bit, enough to notice edits; not a security boundary.
struct Fnv1a(u64);

impl Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// Length-prefixed, so ("ab","c") and ("a","bc") differ.
    fn write_str(&mut self, text: &str) {
        self.write(&(text.len() as u64).to_le_bytes());
        self.write(text.as_bytes());
    }

    fn write_entries(&mut self, entries: &[Entry]) {
        self.write(&(entries.len() as u64).to_le_bytes());
        for entry in entries {
            self.write_str(&entry.key);
            match &entry.value {
                Some(value) => {
                    self.write(&[1]);
                    self.write_str(value);
                }
                None => self.write(&[0]),
            }
        }
    }
}

fn fingerprint(name: &str, entries: &[Entry], globals: &[Entry]) -> u64 {
    let mut hash = Fnv1a(0xcbf2_9ce4_8422_2325);
    hash.write_str("hazel ups.conf section v1");
    hash.write_str(name);
    hash.write_entries(entries);
    hash.write_entries(globals);
    hash.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::XorShift;

    const PATH: &str = "/etc/nut/ups.conf";

    fn parse(text: &str) -> UpsConf {
        UpsConf::parse(PATH, text).expect("file should parse")
    }

    fn parse_err(text: &str) -> ConfError {
        UpsConf::parse(PATH, text).expect_err("file should fail")
    }

    const SAMPLE: &str = r#"# global part
maxretry = 3
retrydelay=10
pollinterval = 4
statepath = /run/nut
nowait

[ups1]
    driver = dummy-ups
    port = ups1.dev
    desc = "Dummy APC Smart-UPS 1"
    override.battery.charge.low = 30
    default.input.voltage = 230
    mode = dummy-once
    ignorelb
    allow_killpower

[ups2]
    driver = usbhid-ups
    port = auto
    pollinterval = 1
    vendorid = 051d
    pollonly
    offdelay = 60 extra tokens
    community = "pub lic"
    debug_min = 3
"#;

    #[test]
    fn globals_are_typed_and_ordered() {
        let conf = parse(SAMPLE);
        let globals = conf.globals();
        assert_eq!(globals.maxretry(), Some(3));
        assert_eq!(globals.retrydelay(), Some(10));
        assert_eq!(globals.pollinterval(), Some(4));
        assert_eq!(globals.maxstartdelay(), None);
        assert_eq!(globals.statepath(), Some("/run/nut"));
        assert_eq!(globals.driverpath(), None);
        assert!(globals.nowait());
        let keys: Vec<&str> = globals.entries().iter().map(|entry| entry.key.as_str()).collect();
        assert_eq!(keys, ["maxretry", "retrydelay", "pollinterval", "statepath", "nowait"]);
        assert_eq!(globals.entries()[4], Entry { key: "nowait".into(), value: None, line: 6 });
        assert!(globals.flag("nowait"));
        assert_eq!(conf.path(), Path::new(PATH));
    }

    #[test]
    fn sections_in_file_order_with_typed_accessors() {
        let conf = parse(SAMPLE);
        assert!(conf.invalid_sections().is_empty(), "{:?}", conf.invalid_sections());
        let names: Vec<&str> = conf.sections().iter().map(Section::name).collect();
        assert_eq!(names, ["ups1", "ups2"]);

        let ups1 = &conf.sections()[0];
        assert_eq!(ups1.line(), 8);
        assert_eq!(ups1.driver(), "dummy-ups");
        assert_eq!(ups1.port(), "ups1.dev");
        assert_eq!(ups1.desc(), Some("Dummy APC Smart-UPS 1"));
        assert_eq!(ups1.pollinterval(), 4, "inherits the global");
        assert_eq!(ups1.maxretry(), 3);
        assert_eq!(ups1.retrydelay(), 10);
        assert_eq!(ups1.maxstartdelay(), DEFAULT_MAXSTARTDELAY);
        assert_eq!(ups1.overrides().collect::<Vec<_>>(), [("battery.charge.low", "30")]);
        assert_eq!(ups1.defaults().collect::<Vec<_>>(), [("input.voltage", "230")]);
        let options: Vec<(&str, Option<&str>)> =
            ups1.driver_options().map(|entry| (entry.key.as_str(), entry.value.as_deref())).collect();
        assert_eq!(options, [("mode", Some("dummy-once"))]);
        assert!(ups1.flag("ignorelb"));
        assert!(ups1.flag("allow_killpower"));
        assert_eq!(ups1.entries()[0].line, 9);

        let ups2 = conf.section("UPS2").expect("case-insensitive lookup");
        assert_eq!(ups2.pollinterval(), 1, "section overrides global");
        assert_eq!(ups2.value("offdelay"), Some("60"));
        assert_eq!(ups2.value("community"), Some("pub lic"));
        let options: Vec<(&str, Option<&str>)> =
            ups2.driver_options().map(|entry| (entry.key.as_str(), entry.value.as_deref())).collect();
        assert_eq!(
            options,
            [("vendorid", Some("051d")), ("pollonly", None), ("offdelay", Some("60")), ("community", Some("pub lic"))]
        );
        assert!(conf.section("nope").is_none());
    }

    #[test]
    fn defaults_apply_without_globals() {
        let conf = parse("[a]\ndriver=x\nport=y");
        let a = &conf.sections()[0];
        assert_eq!(a.pollinterval(), DEFAULT_POLLINTERVAL);
        assert_eq!(a.maxretry(), DEFAULT_MAXRETRY);
        assert_eq!(a.retrydelay(), DEFAULT_RETRYDELAY);
        assert!(a.desc().is_none());
        assert!(!conf.globals().nowait());
    }

    #[test]
    fn later_values_win() {
        let conf = parse("[a]\ndriver = x\nport = y\ndriver = z\nopt = 1\nopt = 2\n");
        let a = &conf.sections()[0];
        assert_eq!(a.driver(), "z");
        assert_eq!(a.value("opt"), Some("2"));
        assert_eq!(a.driver_options().count(), 2, "both kept in order for the driver");
    }

    #[test]
    fn warnings_for_ignored_lines() {
        let conf = parse(SAMPLE);
        let lines: Vec<usize> = conf.warnings().iter().map(|warning| warning.line).collect();
        assert_eq!(lines, [24], "{:?}", conf.warnings());

        let conf =
            parse("weird global = x\nunknownglobal = 1\n=\n[a] trailing\ndriver = x\nport y\nport = z\nsddelay = 5\n");
        let lines: Vec<usize> = conf.warnings().iter().map(|warning| warning.line).collect();
        assert_eq!(lines, [1, 2, 3, 4, 6, 8], "{:?}", conf.warnings());
        assert!(conf.warnings()[0].to_string().starts_with("line 1: "));
        let a = &conf.sections()[0];
        assert_eq!(a.port(), "z");
        assert_eq!(a.driver_options().count(), 0, "sddelay is a core option");
    }

    #[test]
    fn quoted_values_and_escapes() {
        let conf = parse("[a]\ndriver = x\nport = \"/dev/my port\"\ndesc = \"say \\\"hi\\\" \\# 1=2\"\n");
        let a = &conf.sections()[0];
        assert_eq!(a.port(), "/dev/my port");
        assert_eq!(a.desc(), Some("say \"hi\" # 1=2"));
    }

    #[test]
    fn missing_driver_and_port_are_section_errors() {
        let conf = parse(
            "[good]\ndriver = x\nport = y\n\n[nodriver]\nport = y\n[noport]\ndriver = x\n[empty]\ndriver = \"\"\nport = y\n",
        );
        assert_eq!(conf.sections().len(), 1);
        let errors: Vec<&ConfError> = conf.invalid_sections().iter().map(|invalid| &invalid.error).collect();
        assert_eq!(
            errors[0],
            &ConfError::MissingKey { path: PATH.into(), line: 5, section: "nodriver".into(), key: "driver" }
        );
        assert_eq!(
            errors[1],
            &ConfError::MissingKey { path: PATH.into(), line: 7, section: "noport".into(), key: "port" }
        );
        assert_eq!(
            errors[2],
            &ConfError::InvalidValue {
                path: PATH.into(),
                line: 10,
                key: "driver".into(),
                expected: "a non-empty value",
                found: "\"\"".into()
            }
        );
        assert_eq!(conf.invalid_sections()[0].name.as_deref(), Some("nodriver"));
        assert_eq!(conf.invalid_sections()[0].line, 5);
        let message = errors[0].to_string();
        assert_eq!(message, "/etc/nut/ups.conf:5: section [nodriver] has no 'driver'; expected 'driver = <value>'");
    }

    #[test]
    fn bad_numbers_are_section_errors() {
        let conf = parse(
            "[a]\ndriver = x\nport = y\npollinterval = abc\n[b]\ndriver = x\nport = y\npollinterval = 0\n[c]\ndriver = x\nport = y\nmaxretry\n[d]\ndriver=x\nport=y\nretrydelay = -1\n[e]\ndriver=x\nport=y\npollinterval = 99999999999\n",
        );
        assert!(conf.sections().is_empty());
        let found: Vec<(usize, String)> = conf
            .invalid_sections()
            .iter()
            .map(|invalid| match &invalid.error {
                ConfError::InvalidValue { line, found, .. } => (*line, found.clone()),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(
            found,
            [
                (4, "\"abc\"".to_string()),
                (8, "\"0\"".to_string()),
                (12, "no value".to_string()),
                (16, "\"-1\"".to_string()),
                (20, "\"99999999999\"".to_string())
            ]
        );
        assert_eq!(
            conf.invalid_sections()[0].error.to_string(),
            "/etc/nut/ups.conf:4: invalid 'pollinterval': expected a whole number of seconds greater than 0, found \"abc\""
        );
    }

    #[test]
    fn bad_globals_fail_the_whole_file() {
        assert_eq!(
            parse_err("pollinterval = 2s\n[a]\ndriver=x\nport=y\n"),
            ConfError::InvalidValue {
                path: PATH.into(),
                line: 1,
                key: "pollinterval".into(),
                expected: "a whole number of seconds greater than 0",
                found: "\"2s\"".into()
            }
        );
        assert_eq!(parse_err("\n\nstatepath\n").line(), 3);
        assert_eq!(parse_err("desc = \"a # b\"\n[a]\n"), ConfError::Parse { path: PATH.into(), line: 1 });
    }

    #[test]
    fn duplicate_sections_are_case_insensitive() {
        let conf = parse("[ups]\ndriver=x\nport=y\n[UPS]\ndriver=x\nport=z\n");
        assert_eq!(conf.sections().len(), 1);
        assert_eq!(conf.sections()[0].port(), "y");
        assert_eq!(
            conf.invalid_sections()[0].error,
            ConfError::DuplicateSection { path: PATH.into(), line: 4, name: "UPS".into(), first_line: 1 }
        );
    }

    #[test]
    fn invalid_headers_swallow_their_lines() {
        let conf = parse(
            "[my ups]\ndriver=x\nport=y\n[]\ndriver=x\nport=y\n[ok]\ndriver=x\nport=y\n[default]\ndriver=x\nport=y\n",
        );
        assert_eq!(conf.sections().len(), 1);
        assert_eq!(conf.sections()[0].name(), "ok");
        assert_eq!(conf.sections()[0].entries().len(), 2);
        let invalid = conf.invalid_sections();
        assert_eq!(invalid.len(), 3);
        assert_eq!(invalid[0].name, None);
        assert_eq!(
            invalid[0].error,
            ConfError::InvalidHeader { path: PATH.into(), line: 1, header: "[my ups]".into() }
        );
        assert_eq!(invalid[1].error, ConfError::InvalidHeader { path: PATH.into(), line: 4, header: "[]".into() });
        assert_eq!(
            invalid[2].error,
            ConfError::ReservedSection { path: PATH.into(), line: 10, name: "default".into() }
        );
        // a quoted header may contain spaces, as in NUT
        let conf = parse("\"[my ups]\"\ndriver=x\nport=y\n");
        assert_eq!(conf.sections()[0].name(), "my ups");
    }

    #[test]
    fn parse_error_spoils_only_its_section() {
        let conf = parse("[a]\ndriver=x\nport=y\ndesc = \"50# off\"\n[b]\ndriver=x\nport=y\n");
        assert_eq!(conf.sections().len(), 1);
        assert_eq!(conf.sections()[0].name(), "b");
        assert_eq!(conf.invalid_sections()[0].error, ConfError::Parse { path: PATH.into(), line: 4 });
        assert!(conf.invalid_sections()[0].error.to_string().starts_with("/etc/nut/ups.conf:4: parse error"));
    }

    #[test]
    fn override_and_default_need_a_variable_and_value() {
        let conf = parse("[a]\ndriver=x\nport=y\noverride.ups.mfr\n[b]\ndriver=x\nport=y\ndefault. = 3\n");
        let lines: Vec<usize> = conf.invalid_sections().iter().map(|invalid| invalid.error.line()).collect();
        assert_eq!(lines, [4, 8]);
    }

    #[test]
    fn continuation_lines_and_line_numbers() {
        let conf = parse("[a]\ndriver = \\\nx\nport = y\n# comment\n\nbad line here\n");
        let a = &conf.sections()[0];
        assert_eq!(a.driver(), "x");
        assert_eq!(a.entries()[1].line, 4);
        assert_eq!(conf.warnings()[0].line, 7);
    }

    #[test]
    fn checksum_tracks_content_not_position() {
        let base = "pollinterval = 3\n[a]\ndriver = x\nport = y\n[b]\ndriver = x\nport = z\n";
        let conf = parse(base);
        let a = conf.sections()[0].checksum();
        let b = conf.sections()[1].checksum();
        assert_ne!(a, b);
        assert_eq!(parse(base).sections()[0].checksum(), a, "deterministic");

        // comments and blank lines moving the section do not change it
        let moved = parse(&format!("# new comment\n\n{base}"));
        assert_eq!(moved.sections()[0].checksum(), a);
        // editing one section changes only that one
        let edited = parse(&base.replace("port = z", "port = w"));
        assert_eq!(edited.sections()[0].checksum(), a);
        assert_ne!(edited.sections()[1].checksum(), b);
        // a global change affects every section
        let global = parse(&base.replace("pollinterval = 3", "pollinterval = 4"));
        assert_ne!(global.sections()[0].checksum(), a);
        assert_ne!(global.sections()[1].checksum(), b);
        // flag vs empty value differ; renaming differs
        let flag = parse("[a]\ndriver=x\nport=y\nopt\n").sections()[0].checksum();
        let empty = parse("[a]\ndriver=x\nport=y\nopt=\"\"\n").sections()[0].checksum();
        assert_ne!(flag, empty);
        assert_ne!(
            parse("[c]\ndriver = x\nport = y\n").sections()[0].checksum(),
            parse("[a]\ndriver = x\nport = y\n").sections()[0].checksum()
        );
    }

    #[test]
    fn non_ascii_is_dropped() {
        let conf = parse("\u{feff}[a]\ndriver = x\nport = y\ndesc = \"caf\u{e9}\"\n");
        assert_eq!(conf.sections()[0].name(), "a");
        assert_eq!(conf.sections()[0].desc(), Some("caf"));
    }

    #[test]
    fn random_input_never_panics() {
        let mut rng = XorShift(0x1234_5678_9abc_def1);
        const PIECES: &[&str] = &[
            "[ups]",
            "[",
            "]",
            "driver",
            "port",
            "=",
            " ",
            "\n",
            "\"",
            "#",
            "\\",
            "pollinterval",
            "0",
            "7",
            "override.",
            "default.",
            "x",
            "\r\n",
            "nowait",
        ];
        for _ in 0..100_000 {
            let mut text: Vec<u8> = Vec::new();
            let pieces = rng.next() % 24;
            for _ in 0..pieces {
                let r = rng.next();
                if r.is_multiple_of(5) {
                    text.extend(rng.bytes(6));
                } else {
                    text.extend(PIECES[(r >> 8) as usize % PIECES.len()].as_bytes());
                }
            }
            if let Ok(conf) = UpsConf::parse(PATH, &text) {
                for section in conf.sections() {
                    assert!(section.pollinterval() > 0);
                    assert!(!section.driver().is_empty());
                    let _ = (section.checksum(), section.driver_options().count(), section.overrides().count());
                }
                for invalid in conf.invalid_sections() {
                    let _ = invalid.error.to_string();
                }
            }
        }
    }
}
