//! `upsd.conf`: where the server listens and how it judges data staleness.
//!
//! One directive per line, `NAME value…` on NUT's tokenizer, names upper-case
//! and case-sensitive (except `DEBUG_MIN`), as in NUT `server/conf.c` (spec
//! `net-protocol.md` §7). Unknown and obsolete directives become
//! [`Warning`]s, and so do the TLS settings of upsd's NSS build (`CERTPATH`,
//! `CERTIDENT`: Hazel takes a PEM `CERTFILE`); a directive with a missing or malformed value is an
//! [`UpsdConfError`] naming the file and line (upsd only logs those and
//! carries on with its default, which for `LISTEN` or `MAXAGE` is rarely what
//! the administrator meant).
//!
//! Environment overrides upsd honours (`NUT_STATEPATH`,
//! `ALLOW_NO_DEVICE`, `ALLOW_NOT_ALL_LISTENERS`) are the caller's business.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hazel_nutconf::parseconf;

use crate::warning::Warning;

/// IANA port of the NUT protocol.
pub const DEFAULT_PORT: u16 = 3493;
/// Seconds without news from a device before its data is stale (`MAXAGE`).
pub const DEFAULT_MAXAGE: Duration = Duration::from_secs(15);
/// How long tracking results are kept (`TRACKINGDELAY`).
pub const DEFAULT_TRACKING_DELAY: Duration = Duration::from_secs(3600);
/// Simultaneous client connections when `MAXCONN` is not set. upsd's default
/// is the process's file limit; a fixed number keeps a flood from starving
/// the rest of the host of file descriptors.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// One `LISTEN <address> [<port>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenAddr {
    /// An IP literal, `*` (every IPv4 and IPv6 address) or a host name
    /// (resolved at bind time; the first address is used, as upsd does).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl ListenAddr {
    /// A listen address.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        ListenAddr { host: host.into(), port }
    }

    /// upsd's listeners when `LISTEN` is absent: `::1` and `127.0.0.1` on 3493.
    pub fn defaults() -> Vec<ListenAddr> {
        vec![
            ListenAddr::new(Ipv6Addr::LOCALHOST.to_string(), DEFAULT_PORT),
            ListenAddr::new(Ipv4Addr::LOCALHOST.to_string(), DEFAULT_PORT),
        ]
    }

    /// Whether this names the local host only (`localhost`, a loopback
    /// address). upsd tolerates such listeners failing when others work,
    /// since several names often resolve to the same socket.
    pub fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self.host.eq_ignore_ascii_case("localhost6")
            || self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// `CERTREQUEST`: whether TLS clients must present a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertRequest {
    /// `NO` / `0`.
    No,
    /// `REQUEST` / `1`: ask, do not require.
    Request,
    /// `REQUIRE` / `2`.
    Require,
}

/// `CERTIDENT <name> <password>`: the server certificate's name and the
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
        // Never print the password in logs.
        f.debug_struct("CertIdent").field("name", &self.name).finish_non_exhaustive()
    }
}

/// The parsed `upsd.conf`. [`Default`] is an absent file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpsdConf {
    /// `LISTEN` lines in file order; empty means [`ListenAddr::defaults`].
    pub listen: Vec<ListenAddr>,
    /// `MAXAGE`.
    pub maxage: Duration,
    /// `TRACKINGDELAY`.
    pub tracking_delay: Duration,
    /// `MAXCONN`: most simultaneous client connections.
    pub max_connections: usize,
    /// `STATEPATH`: driver socket directory (NUT drivers; stored for the host).
    pub statepath: Option<PathBuf>,
    /// `DATAPATH`: where upsd reads `cmdvartab` (stored; Hazel has the table built in).
    pub datapath: Option<PathBuf>,
    /// `CERTFILE`: PEM certificate and key (OpenSSL builds of upsd).
    pub certfile: Option<PathBuf>,
    /// `CERTPATH`: certificate database directory (NSS builds of upsd).
    pub certpath: Option<PathBuf>,
    /// `CERTIDENT`.
    pub certident: Option<CertIdent>,
    /// `CERTREQUEST`.
    pub certrequest: Option<CertRequest>,
    /// `DISABLE_WEAK_SSL`.
    pub disable_weak_ssl: Option<bool>,
    /// `ALLOW_NO_DEVICE`: start even with no device configured.
    pub allow_no_device: bool,
    /// `ALLOW_NOT_ALL_LISTENERS`: start if at least one listener works.
    pub allow_not_all_listeners: bool,
    /// `DEBUG_MIN`.
    pub debug_min: Option<u32>,
    /// Oddities found while parsing, for the caller to log.
    pub warnings: Vec<Warning>,
}

impl Default for UpsdConf {
    fn default() -> Self {
        UpsdConf {
            listen: Vec::new(),
            maxage: DEFAULT_MAXAGE,
            tracking_delay: DEFAULT_TRACKING_DELAY,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            statepath: None,
            datapath: None,
            certfile: None,
            certpath: None,
            certident: None,
            certrequest: None,
            disable_weak_ssl: None,
            allow_no_device: false,
            allow_not_all_listeners: false,
            debug_min: None,
            warnings: Vec::new(),
        }
    }
}

/// An `upsd.conf` line that cannot be used; names the file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpsdConfError {
    /// A line had an unescaped `#` inside quotes.
    #[error(
        "{}:{line}: parse error: unescaped '#' inside quotes; expected \\# or a closing quote first",
        .path.display()
    )]
    Parse {
        /// File being read.
        path: PathBuf,
        /// Line of the offending `#`.
        line: usize,
    },
    /// A directive's value is missing or malformed.
    #[error("{}:{line}: invalid {directive}: expected {expected}, found {found}", .path.display())]
    InvalidValue {
        /// File being read.
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
}

impl UpsdConf {
    /// Parse the contents of `path` (the path is only used in messages).
    pub fn parse(path: impl AsRef<Path>, text: impl AsRef<[u8]>) -> Result<UpsdConf, UpsdConfError> {
        let path = path.as_ref();
        let mut conf = UpsdConf::default();
        for line in parseconf::lines(text.as_ref()) {
            let line = line.map_err(|e| UpsdConfError::Parse { path: path.to_path_buf(), line: e.line })?;
            if let Some((name, args)) = line.tokens.split_first() {
                let directive = Directive { path, line: line.number, name, args };
                conf.apply(&directive)?;
            }
        }
        Ok(conf)
    }

    /// The addresses to listen on: the `LISTEN` lines, or upsd's defaults.
    pub fn listen_addrs(&self) -> Vec<ListenAddr> {
        if self.listen.is_empty() { ListenAddr::defaults() } else { self.listen.clone() }
    }

    fn apply(&mut self, directive: &Directive<'_>) -> Result<(), UpsdConfError> {
        let used_args = match directive.name.as_str() {
            "MAXAGE" => {
                self.maxage = Duration::from_secs(directive.number(0)?);
                1
            }
            "TRACKINGDELAY" => {
                self.tracking_delay = Duration::from_secs(directive.number(0)?);
                1
            }
            "MAXCONN" => {
                let count = directive.number(0)?;
                if count == 0 {
                    return Err(directive.invalid(0, "a positive number of connections"));
                }
                self.max_connections = usize::try_from(count).unwrap_or(usize::MAX);
                1
            }
            "ALLOW_NO_DEVICE" => {
                self.allow_no_device = directive.boolean(0)?;
                1
            }
            "ALLOW_NOT_ALL_LISTENERS" => {
                self.allow_not_all_listeners = directive.boolean(0)?;
                1
            }
            "DISABLE_WEAK_SSL" => {
                self.disable_weak_ssl = Some(directive.boolean(0)?);
                1
            }
            "STATEPATH" => {
                self.statepath = Some(directive.path_arg(0)?);
                1
            }
            "DATAPATH" => {
                self.datapath = Some(directive.path_arg(0)?);
                1
            }
            "CERTFILE" => {
                self.certfile = Some(directive.path_arg(0)?);
                1
            }
            "CERTPATH" => {
                self.certpath = Some(directive.path_arg(0)?);
                self.warnings.push(directive.nss_only());
                1
            }
            "CERTIDENT" => {
                let expected = "a certificate name and a password";
                let name = directive.text(0, expected)?.to_string();
                let password = directive.text(1, expected)?.to_string();
                self.certident = Some(CertIdent { name, password });
                self.warnings.push(directive.nss_only());
                2
            }
            "CERTREQUEST" => {
                let request = directive.cert_request(0)?;
                if request != CertRequest::No {
                    let message = "CERTREQUEST ignored: Hazel does not ask TLS clients for certificates";
                    self.warnings.push(Warning::new(directive.line, message));
                }
                self.certrequest = Some(request);
                1
            }
            "LISTEN" => {
                self.listen.push(directive.listen_addr()?);
                2
            }
            "ACCEPT" | "REJECT" | "ACL" => {
                let message = format!("{} is no longer supported (ignored); use LISTEN", directive.name);
                self.warnings.push(Warning::new(directive.line, message));
                return Ok(());
            }
            name if name.eq_ignore_ascii_case("DEBUG_MIN") => {
                self.debug_min = Some(u32::try_from(directive.number(0)?).unwrap_or(u32::MAX));
                1
            }
            name => {
                let message = format!("unknown directive '{name}' ignored (directive names are case-sensitive)");
                self.warnings.push(Warning::new(directive.line, message));
                return Ok(());
            }
        };
        if directive.args.len() > used_args {
            let message = format!("extra values after {} ignored", directive.name);
            self.warnings.push(Warning::new(directive.line, message));
        }
        Ok(())
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
    fn invalid(&self, index: usize, expected: &'static str) -> UpsdConfError {
        UpsdConfError::InvalidValue {
            path: self.path.to_path_buf(),
            line: self.line,
            directive: self.name.clone(),
            expected,
            found: self.args.get(index).map_or_else(|| "nothing".to_string(), |arg| format!("{arg:?}")),
        }
    }

    /// NSS-build settings (certificate database) that Hazel reads but cannot use.
    fn nss_only(&self) -> Warning {
        let message = format!(
            "{} ignored: it configures upsd's NSS certificate database; Hazel supports only CERTFILE \
             (one PEM file with the certificate chain and private key) or [tls] in hazel.toml",
            self.name
        );
        Warning::new(self.line, message)
    }

    fn text(&self, index: usize, expected: &'static str) -> Result<&str, UpsdConfError> {
        self.args.get(index).map(String::as_str).ok_or_else(|| self.invalid(index, expected))
    }

    fn path_arg(&self, index: usize) -> Result<PathBuf, UpsdConfError> {
        let text = self.text(index, "a path")?;
        if text.is_empty() {
            return Err(self.invalid(index, "a path"));
        }
        Ok(PathBuf::from(text))
    }

    /// A whole number the way upsd reads it: must start with a digit, the
    /// leading digits count (`atoi`).
    fn number(&self, index: usize) -> Result<u64, UpsdConfError> {
        let expected = "a whole number";
        let text = self.text(index, expected)?;
        let digits: &str = text.split(|c: char| !c.is_ascii_digit()).next().unwrap_or("");
        if digits.is_empty() {
            return Err(self.invalid(index, expected));
        }
        digits.parse().map_err(|_| self.invalid(index, expected))
    }

    fn boolean(&self, index: usize) -> Result<bool, UpsdConfError> {
        let expected = "true/on/yes/1 or false/off/no/0";
        let text = self.text(index, expected)?;
        if text.starts_with(|c: char| c.is_ascii_digit()) {
            return Ok(self.number(index)? != 0);
        }
        match text.to_ascii_lowercase().as_str() {
            "true" | "on" | "yes" => Ok(true),
            "false" | "off" | "no" => Ok(false),
            _ => Err(self.invalid(index, expected)),
        }
    }

    fn cert_request(&self, index: usize) -> Result<CertRequest, UpsdConfError> {
        let expected = "NO, REQUEST or REQUIRE (or 0, 1, 2)";
        match self.text(index, expected)?.to_ascii_uppercase().as_str() {
            "NO" | "0" => Ok(CertRequest::No),
            "REQUEST" | "1" => Ok(CertRequest::Request),
            "REQUIRE" | "2" => Ok(CertRequest::Require),
            _ => Err(self.invalid(index, expected)),
        }
    }

    fn listen_addr(&self) -> Result<ListenAddr, UpsdConfError> {
        let host = self.text(0, "an address (IP, host name or *)")?;
        // upsd takes IPv6 literals bare; accept the bracketed form too.
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        if host.is_empty() {
            return Err(self.invalid(0, "an address (IP, host name or *)"));
        }
        let port = match self.args.get(1) {
            None => DEFAULT_PORT,
            Some(port) if port.bytes().all(|b| b.is_ascii_digit()) => {
                port.parse().map_err(|_| self.invalid(1, "a port number (0-65535)"))?
            }
            Some(_) => return Err(self.invalid(1, "a port number (0-65535)")),
        };
        Ok(ListenAddr::new(host, port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_when_empty() {
        let conf = UpsdConf::parse("upsd.conf", "# nothing\n").unwrap();
        assert_eq!(conf, UpsdConf::default());
        let addrs: Vec<String> = conf.listen_addrs().iter().map(ToString::to_string).collect();
        assert_eq!(addrs, ["[::1]:3493", "127.0.0.1:3493"]);
        assert_eq!(conf.maxage, Duration::from_secs(15));
        assert_eq!(conf.tracking_delay, Duration::from_secs(3600));
    }

    #[test]
    fn every_directive() {
        let text = r#"
MAXAGE 30
TRACKINGDELAY 60
MAXCONN 64
ALLOW_NO_DEVICE yes
ALLOW_NOT_ALL_LISTENERS 1
DISABLE_WEAK_SSL off
STATEPATH /run/nut
DATAPATH "/usr/share/nut"
CERTFILE /etc/nut/upsd.pem
CERTPATH /etc/nut/cert
CERTIDENT "my server" "secret pw"
CERTREQUEST REQUIRE
LISTEN 127.0.0.1
LISTEN ::1 3494
LISTEN [fe80::1] 3495
LISTEN * 13493
LISTEN localhost
debug_min 3
"#;
        let conf = UpsdConf::parse("upsd.conf", text).unwrap();
        assert_eq!(conf.maxage, Duration::from_secs(30));
        assert_eq!(conf.tracking_delay, Duration::from_secs(60));
        assert_eq!(conf.max_connections, 64);
        assert!(conf.allow_no_device && conf.allow_not_all_listeners);
        assert_eq!(conf.disable_weak_ssl, Some(false));
        assert_eq!(conf.statepath.as_deref(), Some(Path::new("/run/nut")));
        assert_eq!(conf.datapath.as_deref(), Some(Path::new("/usr/share/nut")));
        assert_eq!(conf.certfile.as_deref(), Some(Path::new("/etc/nut/upsd.pem")));
        assert_eq!(conf.certpath.as_deref(), Some(Path::new("/etc/nut/cert")));
        let ident = conf.certident.clone().unwrap();
        assert_eq!((ident.name.as_str(), ident.password.as_str()), ("my server", "secret pw"));
        assert!(!format!("{ident:?}").contains("secret"));
        assert_eq!(conf.certrequest, Some(CertRequest::Require));
        assert_eq!(
            conf.listen,
            [
                ListenAddr::new("127.0.0.1", 3493),
                ListenAddr::new("::1", 3494),
                ListenAddr::new("fe80::1", 3495),
                ListenAddr::new("*", 13493),
                ListenAddr::new("localhost", 3493),
            ]
        );
        assert_eq!(conf.listen_addrs(), conf.listen);
        assert_eq!(conf.debug_min, Some(3));
        // The NSS settings and CERTREQUEST are read but cannot be honoured.
        let warned: Vec<(usize, &str)> =
            conf.warnings.iter().map(|w| (w.line, w.message.split(' ').next().unwrap_or(""))).collect();
        assert_eq!(warned, [(11, "CERTPATH"), (12, "CERTIDENT"), (13, "CERTREQUEST")]);
        assert!(conf.warnings[0].message.contains("only CERTFILE"), "{}", conf.warnings[0]);
    }

    #[test]
    fn numbers_read_like_atoi() {
        let conf = UpsdConf::parse("c", "MAXAGE 20s\nCERTREQUEST 1\nALLOW_NO_DEVICE 0\n").unwrap();
        assert_eq!(conf.maxage, Duration::from_secs(20));
        assert_eq!(conf.certrequest, Some(CertRequest::Request));
        assert!(!conf.allow_no_device);
    }

    #[test]
    fn bad_values_name_file_and_line() {
        let cases = [
            ("MAXAGE", "MAXAGE fifteen", "a whole number"),
            ("MAXAGE", "MAXAGE", "nothing"),
            ("MAXCONN", "MAXCONN 0", "positive"),
            ("ALLOW_NO_DEVICE", "ALLOW_NO_DEVICE maybe", "true/on/yes"),
            ("LISTEN", "LISTEN", "an address"),
            ("LISTEN", "LISTEN 0.0.0.0 nut", "a port number"),
            ("LISTEN", "LISTEN 0.0.0.0 70000", "a port number"),
            ("LISTEN", "LISTEN []", "an address"),
            ("CERTIDENT", "CERTIDENT onlyname", "a password"),
            ("CERTREQUEST", "CERTREQUEST maybe", "REQUIRE"),
            ("STATEPATH", "STATEPATH \"\"", "a path"),
            ("MAXAGE", "MAXAGE 99999999999999999999999", "a whole number"),
        ];
        for (directive, line, expected) in cases {
            let error = UpsdConf::parse("/etc/nut/upsd.conf", format!("# c\n{line}\n")).unwrap_err();
            let message = error.to_string();
            assert!(message.starts_with("/etc/nut/upsd.conf:2: invalid "), "{message}");
            assert!(message.contains(directive) && message.contains(expected), "{line}: {message}");
        }
        let error = UpsdConf::parse("u.conf", "LISTEN \"a#b\"\n").unwrap_err();
        assert_eq!(error, UpsdConfError::Parse { path: "u.conf".into(), line: 1 });
    }

    #[test]
    fn unknown_obsolete_and_extra_are_warnings() {
        let text = "maxage 5\nACL all 0.0.0.0/0\nACCEPT all\nMAXAGE 5 6\nFOO bar\n";
        let conf = UpsdConf::parse("c", text).unwrap();
        let lines: Vec<usize> = conf.warnings.iter().map(|w| w.line).collect();
        assert_eq!(lines, [1, 2, 3, 4, 5]);
        assert_eq!(conf.maxage, Duration::from_secs(5));
        assert!(conf.warnings[0].message.contains("case-sensitive"));
    }

    #[test]
    fn loopback_detection() {
        assert!(ListenAddr::new("localhost", 1).is_loopback());
        assert!(ListenAddr::new("::1", 1).is_loopback());
        assert!(ListenAddr::new("127.0.0.2", 1).is_loopback());
        assert!(!ListenAddr::new("*", 1).is_loopback());
        assert!(!ListenAddr::new("192.168.1.1", 1).is_loopback());
    }
}
