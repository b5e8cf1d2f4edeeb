//! `upsmon.conf`: which UPSes this host depends on and how it shuts down.
//!
//! One directive per line, `NAME args…` on NUT's tokenizer, names upper-case
//! and case-sensitive except `DEBUG_MIN` (spec `config-files.md` §5). Every
//! directive upsmon knows is read, TLS ones included (kept for the client);
//! defaults are upsmon's (spec `shutdown.md` §7).
//!
//! What is an error and what a warning. upsmon reads numbers with `atoi`, so
//! `POLLFREQ 5s` is 5 and `HOSTSYNC soon` is 0, and it treats any `MONITOR`
//! type other than `primary`/`master` as secondary. Those silent readings
//! change when this host shuts down, so Hazel refuses them with an
//! [`UpsmonConfError`] naming file and line: numbers must be whole integers,
//! types must be spelled out. Like upsmon, Hazel also refuses the old
//! `MONITOR` form without a user name, a file without any `MONITOR`, and
//! power values that can never reach `MINSUPPLIES`. What upsmon logs and
//! carries on from — an unknown directive, an unknown event or flag in
//! `NOTIFYFLAG`/`NOTIFYMSG`, extra values — becomes a [`Warning`] with the
//! same effect (the line or the bad part is skipped).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hazel_nutconf::parseconf;

use crate::notify::{NotifyEvent, NotifyFlags, NotifySettings};

/// IANA port of the NUT protocol, used when a `MONITOR` system has none.
pub const DEFAULT_PORT: u16 = 3493;
/// Host used when a `MONITOR` system has none.
pub const DEFAULT_HOST: &str = "localhost";

/// A UPS as named in `MONITOR`: `ups[@host[:port]]`, IPv6 as `[addr]:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsSystem {
    /// The UPS name on its server.
    pub ups: String,
    /// Server host name or address (IPv6 without brackets).
    pub host: String,
    /// Server TCP port.
    pub port: u16,
    /// The name exactly as written, which notifications and `UPSNAME` use.
    pub text: String,
}

impl UpsSystem {
    /// Parses `ups[@host[:port]]`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<UpsSystem, &'static str> {
        let (ups, server) = match text.split_once('@') {
            Some((ups, server)) => (ups, Some(server)),
            None => (text, None),
        };
        if ups.is_empty() {
            return Err("a UPS name before '@'");
        }
        let (host, port) = match server {
            None => (DEFAULT_HOST, None),
            Some(server) => split_host_port(server)?,
        };
        if host.is_empty() {
            return Err("a host name after '@'");
        }
        let port = match port {
            None => DEFAULT_PORT,
            Some(port) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
                port.parse::<u16>().ok().filter(|&port| port != 0).ok_or("a port number from 1 to 65535")?
            }
            Some(_) => return Err("a port number from 1 to 65535"),
        };
        Ok(UpsSystem { ups: ups.to_string(), host: host.to_string(), port, text: text.to_string() })
    }

    /// Whether both name the same UPS on the same server (`ups`,
    /// `ups@localhost` and `ups@LOCALHOST:3493` do).
    pub fn same_ups(&self, other: &UpsSystem) -> bool {
        self.ups == other.ups && self.host.eq_ignore_ascii_case(&other.host) && self.port == other.port
    }
}

/// Splits `host[:port]` or `[v6addr][:port]`.
fn split_host_port(server: &str) -> Result<(&str, Option<&str>), &'static str> {
    if let Some(rest) = server.strip_prefix('[') {
        let (address, after) = rest.split_once(']').ok_or("a closing ']' after the IPv6 address")?;
        return match after {
            "" => Ok((address, None)),
            _ => after.strip_prefix(':').map(|port| (address, Some(port))).ok_or("':port' after ']'"),
        };
    }
    match server.matches(':').count() {
        0 => Ok((server, None)),
        1 => Ok(server.split_once(':').map_or((server, None), |(host, port)| (host, Some(port)))),
        _ => Err("an IPv6 address in brackets, as [addr]:port"),
    }
}

impl fmt::Display for UpsSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// This host's role for a UPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `primary` (`master`): this host is fed by the UPS and talks to it; it
    /// sets FSD and waits for the secondaries before shutting down.
    Primary,
    /// `secondary` (`slave`): fed by the UPS, shuts down when told.
    Secondary,
}

/// One `MONITOR` line.
#[derive(Clone, PartialEq, Eq)]
pub struct Monitor {
    /// Which UPS.
    pub system: UpsSystem,
    /// How many of this host's power supplies the UPS feeds (0: monitor only).
    pub power_value: u32,
    /// User name in the server's `upsd.users`.
    pub username: String,
    /// Its password.
    pub password: String,
    /// This host's role.
    pub role: Role,
    /// Line of the directive, for messages.
    pub line: usize,
}

impl fmt::Debug for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the password in logs.
        f.debug_struct("Monitor")
            .field("system", &self.system.text)
            .field("power_value", &self.power_value)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

/// `SHUTDOWNEXIT`: what the monitor does after starting `SHUTDOWNCMD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownExit {
    /// `yes`/`on`/`true`/`0` (default): exit at once, which logs the
    /// secondary out of its server — how it "checks out" to the primary.
    Immediately,
    /// `no`/`off`/`false`/negative: stay until the OS stops the process.
    Never,
    /// A positive number of seconds.
    After(Duration),
}

/// `CERTIDENT <name> <password>`: this client's certificate name and the
/// password of its key database.
#[derive(Clone, PartialEq, Eq)]
pub struct CertIdent {
    /// Certificate name.
    pub name: String,
    /// Key database password.
    pub password: String,
}

impl fmt::Debug for CertIdent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertIdent").field("name", &self.name).finish_non_exhaustive()
    }
}

/// `CERTHOST <host> <certificate name> <verify> <forcessl>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertHost {
    /// Server host name.
    pub host: String,
    /// Expected certificate name.
    pub cert_name: String,
    /// Verify the server certificate.
    pub verify: bool,
    /// Refuse to talk without TLS.
    pub force_ssl: bool,
}

/// The TLS directives, kept for the NUT client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// `CERTPATH`: CA certificates directory (OpenSSL) or NSS database.
    pub cert_path: Option<PathBuf>,
    /// `CERTFILE`: this client's certificate.
    pub cert_file: Option<PathBuf>,
    /// `CERTIDENT`.
    pub cert_ident: Option<CertIdent>,
    /// `CERTHOST` lines in file order.
    pub cert_hosts: Vec<CertHost>,
    /// `CERTVERIFY`: verify server certificates (default off).
    pub cert_verify: bool,
    /// `FORCESSL`: refuse plain-text sessions (default off).
    pub force_ssl: bool,
}

/// Something odd but harmless in `upsmon.conf`, for the caller to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file.
    pub path: PathBuf,
    /// The line, when it is about one.
    pub line: Option<usize>,
    /// What was found and what happens to it.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// An `upsmon.conf` the monitor cannot run with; names the file (and line).
#[derive(Debug, thiserror::Error)]
pub enum UpsmonConfError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// A line had an unescaped `#` inside quotes.
    #[error(
        "{}:{line}: parse error: unescaped '#' inside quotes; expected \\# or a closing quote first",
        .path.display()
    )]
    Parse {
        /// The file.
        path: PathBuf,
        /// Line of the offending `#`.
        line: usize,
    },
    /// A directive's value is missing or malformed.
    #[error("{}:{line}: invalid {directive}: expected {expected}, found {found}", .path.display())]
    InvalidValue {
        /// The file.
        path: PathBuf,
        /// Line of the directive.
        line: usize,
        /// The directive name.
        directive: String,
        /// What it needs.
        expected: &'static str,
        /// What was there (quoted), or "nothing".
        found: String,
    },
    /// `MONITOR <system> <powervalue> <password> <type>`: the form from before
    /// user names, which upsmon refuses too.
    #[error(
        "{}:{line}: old-style MONITOR line without a user name; write MONITOR <system> <powervalue> <username> <password> primary|secondary",
        .path.display()
    )]
    OldStyleMonitor {
        /// The file.
        path: PathBuf,
        /// Line of the directive.
        line: usize,
    },
    /// Two `MONITOR` lines name the same UPS on the same server.
    #[error("{}:{line}: UPS {system} is already monitored (line {first_line})", .path.display())]
    DuplicateMonitor {
        /// The file.
        path: PathBuf,
        /// Line of the second `MONITOR`.
        line: usize,
        /// The system as written on that line.
        system: String,
        /// Line of the first.
        first_line: usize,
    },
    /// No `MONITOR` at all: nothing to protect this host with.
    #[error("{}: no MONITOR line: at least one UPS must be monitored", .path.display())]
    NoMonitor {
        /// The file.
        path: PathBuf,
    },
    /// The power values cannot add up to `MINSUPPLIES`, so the host would
    /// shut down as soon as it started (upsmon refuses to start too).
    #[error(
        "{}: insufficient power configured: the MONITOR power values add up to {total}, less than MINSUPPLIES {min_supplies}",
        .path.display()
    )]
    InsufficientPower {
        /// The file.
        path: PathBuf,
        /// Sum of every `MONITOR` power value.
        total: u64,
        /// `MINSUPPLIES`.
        min_supplies: u32,
    },
}

/// The parsed `upsmon.conf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsmonConf {
    /// `MONITOR` lines in file order.
    pub monitors: Vec<Monitor>,
    /// `MINSUPPLIES`: power supplies that must stay fed (default 1; 0 =
    /// monitor only, never shut down).
    pub min_supplies: u32,
    /// `SHUTDOWNCMD`, as one shell command line.
    pub shutdown_cmd: Option<String>,
    /// `SHUTDOWNEXIT`.
    pub shutdown_exit: ShutdownExit,
    /// `NOTIFYCMD`, `NOTIFYMSG`, `NOTIFYFLAG`.
    pub notify: NotifySettings,
    /// `POLLFREQ`: seconds between polls normally (default 5).
    pub poll_freq: Duration,
    /// `POLLFREQALERT`: between polls while a UPS is on battery or similar (5).
    pub poll_freq_alert: Duration,
    /// `HOSTSYNC`: how long a primary waits for secondaries, and a secondary
    /// for the primary's FSD (15).
    pub host_sync: Duration,
    /// `DEADTIME`: silence after which a UPS last seen on battery counts as
    /// dead (15).
    pub dead_time: Duration,
    /// `FINALDELAY`: pause between the `SHUTDOWN` notice and `SHUTDOWNCMD` (5).
    pub final_delay: Duration,
    /// `RBWARNTIME`: least time between `REPLBATT` notices (43200).
    pub rb_warn_time: Duration,
    /// `NOCOMMWARNTIME`: silence before `NOCOMM`, and between repeats (300).
    pub nocomm_warn_time: Duration,
    /// `POWERDOWNFLAG`: the late-shutdown flag file (no default).
    pub powerdown_flag: Option<PathBuf>,
    /// `OFFDURATION`: how long `OFF` lasts before it is critical (30);
    /// `None` (negative) = never.
    pub off_duration: Option<Duration>,
    /// `OVERDURATION`: how long `OVER` lasts before it is critical when
    /// communication is lost (default -1: `None`, never).
    pub over_duration: Option<Duration>,
    /// `OBLBDURATION`: how long OB+LB must last before it is critical
    /// (default 0: at once).
    pub oblb_duration: Duration,
    /// `ALARMCRITICAL`: an alarmed UPS that stops answering is critical (1).
    pub alarm_critical: bool,
    /// `POLLFAIL_LOG_THROTTLE_MAX`: -1 logs every poll failure, 0 only state
    /// changes, N every Nth.
    pub pollfail_log_throttle_max: i64,
    /// `RUN_AS_USER`: unprivileged user for the network part.
    pub run_as_user: Option<String>,
    /// TLS directives.
    pub tls: TlsSettings,
    /// `DEBUG_MIN`.
    pub debug_min: Option<u32>,
    /// Oddities found while parsing, for the caller to log.
    pub warnings: Vec<Warning>,
}

impl Default for UpsmonConf {
    /// upsmon's defaults, without any `MONITOR`.
    fn default() -> Self {
        UpsmonConf {
            monitors: Vec::new(),
            min_supplies: 1,
            shutdown_cmd: None,
            shutdown_exit: ShutdownExit::Immediately,
            notify: NotifySettings::default(),
            poll_freq: Duration::from_secs(5),
            poll_freq_alert: Duration::from_secs(5),
            host_sync: Duration::from_secs(15),
            dead_time: Duration::from_secs(15),
            final_delay: Duration::from_secs(5),
            rb_warn_time: Duration::from_secs(43200),
            nocomm_warn_time: Duration::from_secs(300),
            powerdown_flag: None,
            off_duration: Some(Duration::from_secs(30)),
            over_duration: None,
            oblb_duration: Duration::ZERO,
            alarm_critical: true,
            pollfail_log_throttle_max: -1,
            run_as_user: None,
            tls: TlsSettings::default(),
            debug_min: None,
            warnings: Vec::new(),
        }
    }
}

impl UpsmonConf {
    /// Reads and parses the file at `path`.
    pub fn read(path: impl AsRef<Path>) -> Result<UpsmonConf, UpsmonConfError> {
        let path = path.as_ref();
        let text = std::fs::read(path).map_err(|source| UpsmonConfError::Read { path: path.to_path_buf(), source })?;
        UpsmonConf::parse(path, text)
    }

    /// Parses the contents of `path` (the path is only used in messages).
    pub fn parse(path: impl AsRef<Path>, text: impl AsRef<[u8]>) -> Result<UpsmonConf, UpsmonConfError> {
        let path = path.as_ref();
        let mut conf = UpsmonConf::default();
        for line in parseconf::lines(text.as_ref()) {
            let line = line.map_err(|e| UpsmonConfError::Parse { path: path.to_path_buf(), line: e.line })?;
            if let Some((name, args)) = line.tokens.split_first() {
                let directive = Directive { path, line: line.number, name, args };
                conf.apply(&directive)?;
            }
        }
        conf.validate(path)?;
        Ok(conf)
    }

    /// The `MONITOR` lines' power values added up.
    pub fn total_power(&self) -> u64 {
        self.monitors.iter().map(|monitor| u64::from(monitor.power_value)).sum()
    }

    fn validate(&mut self, path: &Path) -> Result<(), UpsmonConfError> {
        if self.monitors.is_empty() {
            return Err(UpsmonConfError::NoMonitor { path: path.to_path_buf() });
        }
        let total = self.total_power();
        if total < u64::from(self.min_supplies) {
            return Err(UpsmonConfError::InsufficientPower {
                path: path.to_path_buf(),
                total,
                min_supplies: self.min_supplies,
            });
        }
        let warn = |message: String| Warning { path: path.to_path_buf(), line: None, message };
        if self.shutdown_cmd.is_none() && self.min_supplies > 0 {
            self.warnings.push(warn("no SHUTDOWNCMD: this host cannot shut itself down on power loss".into()));
        }
        let slowest_poll = self.poll_freq.max(self.poll_freq_alert);
        if self.dead_time < slowest_poll {
            self.warnings.push(warn(format!(
                "DEADTIME ({}s) is shorter than the poll interval ({}s): a UPS on battery may be declared dead between two polls",
                self.dead_time.as_secs(),
                slowest_poll.as_secs()
            )));
        }
        Ok(())
    }

    fn apply(&mut self, directive: &Directive<'_>) -> Result<(), UpsmonConfError> {
        let used_args = match directive.name.as_str() {
            "MONITOR" => {
                let monitor = directive.monitor()?;
                if let Some(first) = self.monitors.iter().find(|known| known.system.same_ups(&monitor.system)) {
                    return Err(UpsmonConfError::DuplicateMonitor {
                        path: directive.path.to_path_buf(),
                        line: directive.line,
                        system: monitor.system.text,
                        first_line: first.line,
                    });
                }
                self.monitors.push(monitor);
                5
            }
            "MINSUPPLIES" => {
                self.min_supplies = directive.count(0)?;
                1
            }
            "SHUTDOWNCMD" => {
                self.shutdown_cmd = Some(directive.shell_command()?);
                directive.args.len()
            }
            "SHUTDOWNEXIT" => {
                self.shutdown_exit = directive.shutdown_exit()?;
                1
            }
            "NOTIFYCMD" => {
                directive.text(0, "a program to run")?;
                self.notify.command = Some(directive.args.to_vec());
                directive.args.len()
            }
            "NOTIFYMSG" => {
                let name = directive.text(0, "an event name and a message")?;
                let message = directive.text(1, "an event name and a message")?;
                match NotifyEvent::from_name(name) {
                    Some(event) => self.notify.set_message(event, message),
                    None => self.warn(directive, format!("'{name}' is not a valid notify event name; line ignored")),
                }
                2
            }
            "NOTIFYFLAG" => {
                let name = directive.text(0, "an event name and flags (SYSLOG, WALL, EXEC, IGNORE joined by +)")?;
                let flags = directive.text(1, "an event name and flags (SYSLOG, WALL, EXEC, IGNORE joined by +)")?;
                match NotifyEvent::from_name(name) {
                    Some(event) => {
                        let (parsed, unknown) = NotifyFlags::parse(flags);
                        for flag in unknown {
                            self.warn(directive, format!("invalid notify flag '{flag}' ignored"));
                        }
                        self.notify.set_flags(event, parsed);
                    }
                    None => self.warn(directive, format!("'{name}' is not a valid notify event name; line ignored")),
                }
                2
            }
            "POLLFREQ" => {
                self.poll_freq = directive.positive_seconds(0)?;
                1
            }
            "POLLFREQALERT" => {
                self.poll_freq_alert = directive.positive_seconds(0)?;
                1
            }
            "HOSTSYNC" => {
                self.host_sync = directive.seconds(0)?;
                1
            }
            "DEADTIME" => {
                self.dead_time = directive.seconds(0)?;
                1
            }
            "FINALDELAY" => {
                self.final_delay = directive.seconds(0)?;
                1
            }
            "RBWARNTIME" => {
                self.rb_warn_time = directive.seconds(0)?;
                1
            }
            "NOCOMMWARNTIME" => {
                self.nocomm_warn_time = directive.seconds(0)?;
                1
            }
            "POWERDOWNFLAG" => {
                self.powerdown_flag = Some(directive.path_arg(0)?);
                1
            }
            "OFFDURATION" => {
                self.off_duration = directive.optional_seconds(0)?;
                1
            }
            "OVERDURATION" => {
                self.over_duration = directive.optional_seconds(0)?;
                1
            }
            "OBLBDURATION" => {
                self.oblb_duration = directive.seconds(0)?;
                1
            }
            "ALARMCRITICAL" => {
                self.alarm_critical = directive.boolean(0)?;
                1
            }
            "POLLFAIL_LOG_THROTTLE_MAX" => {
                self.pollfail_log_throttle_max = directive.integer(0)?.max(-1);
                1
            }
            "RUN_AS_USER" => {
                self.run_as_user = Some(directive.text(0, "a user name")?.to_string());
                1
            }
            "CERTPATH" => {
                self.tls.cert_path = Some(directive.path_arg(0)?);
                1
            }
            "CERTFILE" => {
                self.tls.cert_file = Some(directive.path_arg(0)?);
                1
            }
            "CERTIDENT" => {
                let expected = "a certificate name and a password";
                let name = directive.text(0, expected)?.to_string();
                let password = directive.text(1, expected)?.to_string();
                self.tls.cert_ident = Some(CertIdent { name, password });
                2
            }
            "CERTHOST" => {
                let expected = "a host, a certificate name, verify (0/1) and forcessl (0/1)";
                let host = directive.text(0, expected)?.to_string();
                let cert_name = directive.text(1, expected)?.to_string();
                let verify = directive.boolean(2)?;
                let force_ssl = directive.boolean(3)?;
                self.tls.cert_hosts.push(CertHost { host, cert_name, verify, force_ssl });
                4
            }
            "CERTVERIFY" => {
                self.tls.cert_verify = directive.boolean(0)?;
                1
            }
            "FORCESSL" => {
                self.tls.force_ssl = directive.boolean(0)?;
                1
            }
            name if name.eq_ignore_ascii_case("DEBUG_MIN") => {
                self.debug_min = Some(directive.count(0)?);
                1
            }
            name => {
                self.warn(
                    directive,
                    format!("invalid directive '{name}' ignored (directive names are case-sensitive)"),
                );
                return Ok(());
            }
        };
        if directive.args.len() > used_args {
            self.warn(directive, format!("extra values after {} ignored", directive.name));
        }
        Ok(())
    }

    fn warn(&mut self, directive: &Directive<'_>, message: String) {
        self.warnings.push(Warning { path: directive.path.to_path_buf(), line: Some(directive.line), message });
    }
}

/// One directive line being applied.
struct Directive<'a> {
    path: &'a Path,
    line: usize,
    name: &'a String,
    args: &'a [String],
}

impl Directive<'_> {
    fn invalid(&self, index: usize, expected: &'static str) -> UpsmonConfError {
        UpsmonConfError::InvalidValue {
            path: self.path.to_path_buf(),
            line: self.line,
            directive: self.name.clone(),
            expected,
            found: self.args.get(index).map_or_else(|| "nothing".to_string(), |arg| format!("{arg:?}")),
        }
    }

    fn text(&self, index: usize, expected: &'static str) -> Result<&str, UpsmonConfError> {
        self.args.get(index).map(String::as_str).ok_or_else(|| self.invalid(index, expected))
    }

    fn path_arg(&self, index: usize) -> Result<PathBuf, UpsmonConfError> {
        let text = self.text(index, "a path")?;
        if text.is_empty() {
            return Err(self.invalid(index, "a path"));
        }
        Ok(PathBuf::from(text))
    }

    /// A whole, optionally signed, decimal integer: all of the token.
    fn integer(&self, index: usize) -> Result<i64, UpsmonConfError> {
        let expected = "a whole number";
        let text = self.text(index, expected)?;
        let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.invalid(index, expected));
        }
        text.parse().map_err(|_| self.invalid(index, expected))
    }

    /// A non-negative count.
    fn count(&self, index: usize) -> Result<u32, UpsmonConfError> {
        let value = self.integer(index)?;
        u32::try_from(value).map_err(|_| self.invalid(index, "a whole number, 0 or more"))
    }

    fn seconds(&self, index: usize) -> Result<Duration, UpsmonConfError> {
        let value = self.integer(index)?;
        u64::try_from(value).map(Duration::from_secs).map_err(|_| self.invalid(index, "a number of seconds, 0 or more"))
    }

    fn positive_seconds(&self, index: usize) -> Result<Duration, UpsmonConfError> {
        match self.integer(index)? {
            value @ 1.. => Ok(Duration::from_secs(value.unsigned_abs())),
            _ => Err(self.invalid(index, "a number of seconds, 1 or more")),
        }
    }

    /// Seconds, where a negative value means "never".
    fn optional_seconds(&self, index: usize) -> Result<Option<Duration>, UpsmonConfError> {
        let value = self.integer(index)?;
        Ok(u64::try_from(value).ok().map(Duration::from_secs))
    }

    fn boolean(&self, index: usize) -> Result<bool, UpsmonConfError> {
        let expected = "0 or 1 (or yes/no, on/off, true/false)";
        let text = self.text(index, expected)?;
        match text.to_ascii_lowercase().as_str() {
            "1" | "yes" | "on" | "true" => Ok(true),
            "0" | "no" | "off" | "false" => Ok(false),
            _ => Err(self.invalid(index, expected)),
        }
    }

    fn shutdown_exit(&self) -> Result<ShutdownExit, UpsmonConfError> {
        let expected = "yes/on/true, no/off/false, or a number of seconds";
        let text = self.text(0, expected)?;
        match text.to_ascii_lowercase().as_str() {
            "yes" | "on" | "true" => return Ok(ShutdownExit::Immediately),
            "no" | "off" | "false" => return Ok(ShutdownExit::Never),
            _ => {}
        }
        match self.integer(0).map_err(|_| self.invalid(0, expected))? {
            0 => Ok(ShutdownExit::Immediately),
            seconds @ 1.. => Ok(ShutdownExit::After(Duration::from_secs(seconds.unsigned_abs()))),
            _ => Ok(ShutdownExit::Never),
        }
    }

    /// `SHUTDOWNCMD "cmd args"` is taken as written; several tokens become
    /// `cmd 'arg1' 'arg2'` for the shell, as upsmon joins them.
    fn shell_command(&self) -> Result<String, UpsmonConfError> {
        let (first, rest) = self.args.split_first().ok_or_else(|| self.invalid(0, "a command"))?;
        if first.is_empty() {
            return Err(self.invalid(0, "a command"));
        }
        let mut command = first.clone();
        for arg in rest {
            command.push(' ');
            command.push('\'');
            // A quote inside single quotes is closed, escaped and reopened.
            command.push_str(&arg.replace('\'', r"'\''"));
            command.push('\'');
        }
        Ok(command)
    }

    fn monitor(&self) -> Result<Monitor, UpsmonConfError> {
        let expected = "<system> <powervalue> <username> <password> primary|secondary";
        if self.args.len() == 4 {
            return Err(UpsmonConfError::OldStyleMonitor { path: self.path.to_path_buf(), line: self.line });
        }
        let system_text = self.text(0, expected)?;
        let system = UpsSystem::parse(system_text).map_err(|what| self.invalid(0, what))?;
        let power_value = match self.args.get(1) {
            None => return Err(self.invalid(1, expected)),
            Some(_) => self.count(1).map_err(|_| self.invalid(1, "a power value, a whole number 0 or more"))?,
        };
        let username = self.text(2, expected)?.to_string();
        let password = self.text(3, expected)?.to_string();
        let role = match self.text(4, expected)?.to_ascii_lowercase().as_str() {
            "primary" | "master" => Role::Primary,
            "secondary" | "slave" => Role::Secondary,
            _ => return Err(self.invalid(4, "primary or secondary (or master/slave)")),
        };
        Ok(Monitor { system, power_value, username, password, role, line: self.line })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "MONITOR ups@localhost 1 monuser secret primary\nSHUTDOWNCMD \"/sbin/shutdown -h +0\"\n";

    fn parse(text: &str) -> Result<UpsmonConf, UpsmonConfError> {
        UpsmonConf::parse("/etc/nut/upsmon.conf", text)
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_upsmons() {
        let conf = parse(MINIMAL).unwrap();
        assert_eq!(conf.min_supplies, 1);
        assert_eq!(conf.poll_freq, Duration::from_secs(5));
        assert_eq!(conf.poll_freq_alert, Duration::from_secs(5));
        assert_eq!(conf.host_sync, Duration::from_secs(15));
        assert_eq!(conf.dead_time, Duration::from_secs(15));
        assert_eq!(conf.final_delay, Duration::from_secs(5));
        assert_eq!(conf.rb_warn_time, Duration::from_secs(43200));
        assert_eq!(conf.nocomm_warn_time, Duration::from_secs(300));
        assert_eq!(conf.off_duration, Some(Duration::from_secs(30)));
        assert_eq!(conf.over_duration, None);
        assert_eq!(conf.oblb_duration, Duration::ZERO);
        assert!(conf.alarm_critical);
        assert_eq!(conf.shutdown_exit, ShutdownExit::Immediately);
        assert_eq!(conf.powerdown_flag, None);
        assert_eq!(conf.pollfail_log_throttle_max, -1);
        assert_eq!(conf.shutdown_cmd.as_deref(), Some("/sbin/shutdown -h +0"));
        assert_eq!(conf.warnings, []);
        let monitor = &conf.monitors[0];
        assert_eq!(monitor.system.ups, "ups");
        assert_eq!(monitor.system.host, "localhost");
        assert_eq!(monitor.system.port, 3493);
        assert_eq!(monitor.role, Role::Primary);
        assert_eq!(monitor.line, 1);
        assert!(!format!("{monitor:?}").contains("secret"));
    }

    #[test]
    fn every_directive() {
        let text = r#"
MONITOR ups@localhost 1 monuser pass1 primary
MONITOR other@[fe80::1]:3494 2 monuser "pass 2" secondary
MONITOR third@10.0.0.1:1234 0 u p master
MONITOR fourth 0 u p slave
MINSUPPLIES 2
SHUTDOWNCMD /sbin/shutdown -h "+0 it's now"
SHUTDOWNEXIT 30
NOTIFYCMD /usr/sbin/upssched --flag
NOTIFYMSG ONBATT "On battery: %s"
NOTIFYMSG shutdown_cancelled "back to normal"
NOTIFYFLAG ONBATT SYSLOG+EXEC
NOTIFYFLAG lowbatt IGNORE
POLLFREQ 10
POLLFREQALERT 2
HOSTSYNC 20
DEADTIME 30
FINALDELAY 0
RBWARNTIME 600
NOCOMMWARNTIME 120
POWERDOWNFLAG /run/nut/killpower
OFFDURATION -1
OVERDURATION 60
OBLBDURATION 7
ALARMCRITICAL 0
POLLFAIL_LOG_THROTTLE_MAX 10
RUN_AS_USER nut
CERTPATH /etc/nut/certs
CERTFILE /etc/nut/client.pem
CERTIDENT "my client" "db pw"
CERTHOST server.example "server cert" 1 0
CERTVERIFY 1
FORCESSL 1
debug_min 2
"#;
        let conf = parse(text).unwrap();
        assert_eq!(conf.warnings, []);
        let systems: Vec<(&str, &str, u16, Role, u32)> = conf
            .monitors
            .iter()
            .map(|m| (m.system.ups.as_str(), m.system.host.as_str(), m.system.port, m.role, m.power_value))
            .collect();
        assert_eq!(
            systems,
            [
                ("ups", "localhost", 3493, Role::Primary, 1),
                ("other", "fe80::1", 3494, Role::Secondary, 2),
                ("third", "10.0.0.1", 1234, Role::Primary, 0),
                ("fourth", "localhost", 3493, Role::Secondary, 0),
            ]
        );
        assert_eq!(conf.monitors[1].system.text, "other@[fe80::1]:3494");
        assert_eq!(conf.monitors[1].password, "pass 2");
        assert_eq!(conf.min_supplies, 2);
        assert_eq!(conf.shutdown_cmd.as_deref(), Some(r"/sbin/shutdown '-h' '+0 it'\''s now'"));
        assert_eq!(conf.shutdown_exit, ShutdownExit::After(Duration::from_secs(30)));
        assert_eq!(conf.notify.command, Some(vec!["/usr/sbin/upssched".to_string(), "--flag".to_string()]));
        assert_eq!(conf.notify.template(NotifyEvent::OnBatt), "On battery: %s");
        assert_eq!(conf.notify.template(NotifyEvent::ShutdownCancelled), "back to normal");
        let onbatt = conf.notify.flags(NotifyEvent::OnBatt);
        assert!(onbatt.logs() && onbatt.execs() && !onbatt.walls());
        assert!(conf.notify.flags(NotifyEvent::LowBatt).ignore);
        assert_eq!(conf.poll_freq, Duration::from_secs(10));
        assert_eq!(conf.poll_freq_alert, Duration::from_secs(2));
        assert_eq!(conf.host_sync, Duration::from_secs(20));
        assert_eq!(conf.dead_time, Duration::from_secs(30));
        assert_eq!(conf.final_delay, Duration::ZERO);
        assert_eq!(conf.rb_warn_time, Duration::from_secs(600));
        assert_eq!(conf.nocomm_warn_time, Duration::from_secs(120));
        assert_eq!(conf.powerdown_flag, Some(PathBuf::from("/run/nut/killpower")));
        assert_eq!(conf.off_duration, None);
        assert_eq!(conf.over_duration, Some(Duration::from_secs(60)));
        assert_eq!(conf.oblb_duration, Duration::from_secs(7));
        assert!(!conf.alarm_critical);
        assert_eq!(conf.pollfail_log_throttle_max, 10);
        assert_eq!(conf.run_as_user.as_deref(), Some("nut"));
        assert_eq!(conf.tls.cert_path, Some(PathBuf::from("/etc/nut/certs")));
        assert_eq!(conf.tls.cert_file, Some(PathBuf::from("/etc/nut/client.pem")));
        let ident = conf.tls.cert_ident.as_ref().unwrap();
        assert_eq!((ident.name.as_str(), ident.password.as_str()), ("my client", "db pw"));
        assert_eq!(
            conf.tls.cert_hosts,
            [CertHost {
                host: "server.example".into(),
                cert_name: "server cert".into(),
                verify: true,
                force_ssl: false
            }]
        );
        assert!(conf.tls.cert_verify && conf.tls.force_ssl);
        assert_eq!(conf.debug_min, Some(2));
    }

    #[test]
    fn shutdown_exit_forms() {
        for (value, expected) in [
            ("yes", ShutdownExit::Immediately),
            ("ON", ShutdownExit::Immediately),
            ("true", ShutdownExit::Immediately),
            ("0", ShutdownExit::Immediately),
            ("no", ShutdownExit::Never),
            ("off", ShutdownExit::Never),
            ("false", ShutdownExit::Never),
            ("-1", ShutdownExit::Never),
            ("5", ShutdownExit::After(Duration::from_secs(5))),
        ] {
            let conf = parse(&format!("{MINIMAL}SHUTDOWNEXIT {value}\n")).unwrap();
            assert_eq!(conf.shutdown_exit, expected, "{value}");
        }
        assert!(error(&format!("{MINIMAL}SHUTDOWNEXIT maybe\n")).contains("upsmon.conf:3: invalid SHUTDOWNEXIT"));
    }

    #[test]
    fn monitor_errors_name_file_and_line() {
        assert_eq!(
            error("\nMONITOR ups@localhost 1 secret primary\n"),
            "/etc/nut/upsmon.conf:2: old-style MONITOR line without a user name; write MONITOR <system> <powervalue> <username> <password> primary|secondary"
        );
        assert_eq!(
            error("MONITOR ups@localhost 1 user\n"),
            "/etc/nut/upsmon.conf:1: invalid MONITOR: expected <system> <powervalue> <username> <password> primary|secondary, found nothing"
        );
        assert_eq!(
            error("MONITOR ups@localhost 1 user pass bogus\n"),
            "/etc/nut/upsmon.conf:1: invalid MONITOR: expected primary or secondary (or master/slave), found \"bogus\""
        );
        assert_eq!(
            error("MONITOR ups@localhost x user pass primary\n"),
            "/etc/nut/upsmon.conf:1: invalid MONITOR: expected a power value, a whole number 0 or more, found \"x\""
        );
        assert!(error("MONITOR ups@localhost -1 user pass primary\n").contains("found \"-1\""));
        assert!(error("MONITOR ups@::1 1 u p primary\n").contains("expected an IPv6 address in brackets"));
        assert!(error("MONITOR ups@[::1 1 u p primary\n").contains("expected a closing ']'"));
        assert!(error("MONITOR ups@[::1]x 1 u p primary\n").contains("expected ':port' after ']'"));
        assert!(error("MONITOR ups@host:0 1 u p primary\n").contains("expected a port number"));
        assert!(error("MONITOR ups@host:99999 1 u p primary\n").contains("expected a port number"));
        assert!(error("MONITOR ups@host: 1 u p primary\n").contains("expected a port number"));
        assert!(error("MONITOR @host 1 u p primary\n").contains("expected a UPS name"));
        assert!(error("MONITOR ups@ 1 u p primary\n").contains("expected a host name"));
        assert!(error("MONITOR ups@:3493 1 u p primary\n").contains("expected a host name"));
    }

    #[test]
    fn duplicate_monitor_is_the_same_ups_on_the_same_server() {
        assert_eq!(
            error("MONITOR ups 1 u p primary\nMONITOR ups@LOCALHOST:3493 1 u p primary\n"),
            "/etc/nut/upsmon.conf:2: UPS ups@LOCALHOST:3493 is already monitored (line 1)"
        );
        // Same name on other servers, or another name on the same server: distinct UPSes.
        let conf = parse("MONITOR ups@a 1 u p primary\nMONITOR ups@b 1 u p primary\nMONITOR ups@a:3494 1 u p secondary\nMONITOR ups2@a 1 u p primary\nSHUTDOWNCMD x\n").unwrap();
        assert_eq!(conf.monitors.len(), 4);
    }

    #[test]
    fn no_monitor_and_insufficient_power_are_errors() {
        assert_eq!(
            error("MINSUPPLIES 0\n"),
            "/etc/nut/upsmon.conf: no MONITOR line: at least one UPS must be monitored"
        );
        assert_eq!(
            error("MONITOR a 1 u p primary\nMONITOR b 0 u p primary\nMINSUPPLIES 2\n"),
            "/etc/nut/upsmon.conf: insufficient power configured: the MONITOR power values add up to 1, less than MINSUPPLIES 2"
        );
        // Monitor-only setups are fine with MINSUPPLIES 0.
        let conf = parse("MONITOR a 0 u p secondary\nMINSUPPLIES 0\n").unwrap();
        assert_eq!(conf.min_supplies, 0);
        assert_eq!(conf.warnings, []);
    }

    #[test]
    fn numbers_must_be_whole_integers() {
        for (line, expected) in [
            ("POLLFREQ 5s", "/etc/nut/upsmon.conf:3: invalid POLLFREQ: expected a whole number, found \"5s\""),
            ("HOSTSYNC soon", "/etc/nut/upsmon.conf:3: invalid HOSTSYNC: expected a whole number, found \"soon\""),
            ("DEADTIME", "/etc/nut/upsmon.conf:3: invalid DEADTIME: expected a whole number, found nothing"),
            (
                "POLLFREQ 0",
                "/etc/nut/upsmon.conf:3: invalid POLLFREQ: expected a number of seconds, 1 or more, found \"0\"",
            ),
            (
                "FINALDELAY -3",
                "/etc/nut/upsmon.conf:3: invalid FINALDELAY: expected a number of seconds, 0 or more, found \"-3\"",
            ),
            (
                "MINSUPPLIES -1",
                "/etc/nut/upsmon.conf:3: invalid MINSUPPLIES: expected a whole number, 0 or more, found \"-1\"",
            ),
            (
                "OBLBDURATION 1.5",
                "/etc/nut/upsmon.conf:3: invalid OBLBDURATION: expected a whole number, found \"1.5\"",
            ),
            (
                "ALARMCRITICAL 2",
                "/etc/nut/upsmon.conf:3: invalid ALARMCRITICAL: expected 0 or 1 (or yes/no, on/off, true/false), found \"2\"",
            ),
            (
                "POLLFREQ 99999999999999999999",
                "/etc/nut/upsmon.conf:3: invalid POLLFREQ: expected a whole number, found \"99999999999999999999\"",
            ),
        ] {
            assert_eq!(error(&format!("{MINIMAL}{line}\n")), expected, "{line}");
        }
    }

    #[test]
    fn warnings_for_what_upsmon_logs_and_skips() {
        let conf = parse(&format!(
            "{MINIMAL}BOGUS 1\npollfreq 3\nNOTIFYFLAG ONBAT SYSLOG\nNOTIFYFLAG ONBATT SYSLOG+LOUD\nNOTIFYMSG NOPE \"x\"\nPOLLFREQ 4 extra\n"
        ))
        .unwrap();
        let warnings: Vec<String> = conf.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            warnings,
            [
                "/etc/nut/upsmon.conf:3: invalid directive 'BOGUS' ignored (directive names are case-sensitive)",
                "/etc/nut/upsmon.conf:4: invalid directive 'pollfreq' ignored (directive names are case-sensitive)",
                "/etc/nut/upsmon.conf:5: 'ONBAT' is not a valid notify event name; line ignored",
                "/etc/nut/upsmon.conf:6: invalid notify flag 'LOUD' ignored",
                "/etc/nut/upsmon.conf:7: 'NOPE' is not a valid notify event name; line ignored",
                "/etc/nut/upsmon.conf:8: extra values after POLLFREQ ignored",
            ]
        );
        // The valid part of a NOTIFYFLAG is kept, as upsmon does.
        assert!(conf.notify.flags(NotifyEvent::OnBatt).logs());
        assert!(!conf.notify.flags(NotifyEvent::OnBatt).walls());
        assert_eq!(conf.poll_freq, Duration::from_secs(4));
    }

    #[test]
    fn file_level_warnings() {
        let conf = parse("MONITOR a 1 u p primary\nDEADTIME 3\n").unwrap();
        let warnings: Vec<String> = conf.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            warnings,
            [
                "/etc/nut/upsmon.conf: no SHUTDOWNCMD: this host cannot shut itself down on power loss",
                "/etc/nut/upsmon.conf: DEADTIME (3s) is shorter than the poll interval (5s): a UPS on battery may be declared dead between two polls",
            ]
        );
    }

    #[test]
    fn parse_errors_and_unreadable_files() {
        assert_eq!(
            error("MONITOR a 1 u p primary\nNOTIFYMSG ONLINE \"bad # here\"\n"),
            "/etc/nut/upsmon.conf:2: parse error: unescaped '#' inside quotes; expected \\# or a closing quote first"
        );
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("upsmon.conf");
        let message = UpsmonConf::read(&missing).unwrap_err().to_string();
        assert!(message.starts_with(&format!("{}: cannot read:", missing.display())), "{message}");
        std::fs::write(&missing, MINIMAL).unwrap();
        assert_eq!(UpsmonConf::read(&missing).unwrap().monitors.len(), 1);
    }

    #[test]
    fn garbage_never_panics() {
        let samples: [&[u8]; 6] = [
            b"MONITOR",
            b"MONITOR \"\" \"\" \"\" \"\" \"\"",
            b"\xff\xfe\x00MONITOR a 1 u p primary",
            b"NOTIFYFLAG\nNOTIFYMSG\nCERTHOST a\nSHUTDOWNCMD \"\"\nPOWERDOWNFLAG \"\"",
            b"MONITOR a@[] 1 u p primary",
            b"\\\n\\\n\"",
        ];
        for sample in samples {
            let _ = UpsmonConf::parse("f", sample);
        }
    }
}
