//! The ups.conf options dummy-ups understands, and how the running mode is
//! chosen (NUT `drivers/dummy-ups.c`, `upsdrv_initups`).

use alloc::format;
use alloc::string::{String, ToString};

use crate::api::DeviceError;

/// How the definition file is replayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Process the file to the end once; process it again only when it
    /// changes on disk. `SET VAR` changes stay until then.
    Once,
    /// Process the file again and again from the top.
    Loop,
}

/// The validated options of one device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The definition file, exactly as written in `port=` (the host
    /// resolves relative paths; the plugin must not alter it).
    pub port: String,
    /// How to replay it.
    pub mode: Mode,
    /// Published as `driver.parameter.mode`, as dummy-ups does even when
    /// ups.conf has no `mode`: the configured value as written, else
    /// `dummy-once` (`.dev`), `dummy-loop` (`.seq`) or `dummy`.
    pub mode_name: String,
    /// Hazel-only flag `cmd_comments`: also advertise the instant commands
    /// named by the file's `#CMD:` comments (to replay a device dump's
    /// command list). Off by default, as real dummy-ups treats those lines
    /// as plain comments and advertises only `load.off` (DUMMY-UPS.md §d).
    pub cmd_comments: bool,
    /// Hazel-only flag `switchable_outlets`: make the file's outlets
    /// (`outlet.N.status`) switchable like a real ePDU's (see
    /// [`crate::outlets`]). Off by default, as real dummy-ups handles no
    /// instant command.
    pub switchable_outlets: bool,
}

/// Options dummy-ups accepts besides `port` and `mode` (its
/// `upsdrv_makevartable` plus the repeater's credentials option). The
/// repeater-only ones are accepted so a config written for NUT loads, and
/// ignored.
const DRIVER_OPTIONS: &[&str] = &["repeater_disable_strict_start", "authconf"];

/// Hazel-only flag: advertise the commands of `#CMD:` comments too (see
/// [`Settings::cmd_comments`]). NUT's dummy-ups does not know it.
pub const CMD_COMMENTS_FLAG: &str = "cmd_comments";

/// Hazel-only flag: switchable outlets (see [`Settings::switchable_outlets`]).
pub const SWITCHABLE_OUTLETS_FLAG: &str = "switchable_outlets";

/// `default.<var>` and `override.<var>`: values the host publishes itself,
/// also passed to plugins for drivers that read them.
fn is_core_variable_option(key: &str) -> bool {
    key.starts_with("default.") || key.starts_with("override.")
}

/// Why repeater mode fails, in one place.
fn repeater_unsupported(port: &str) -> DeviceError {
    DeviceError::Invalid(format!(
        "repeater mode (port = {port}) is not supported by this plugin yet; \
         use a .dev/.seq file or set mode=dummy-once/dummy-loop"
    ))
}

/// Validate the device's settings, given as `(key, value)` pairs in
/// ups.conf order (a later duplicate wins, as in ups.conf).
///
/// # Errors
///
/// [`DeviceError::Invalid`] for an option dummy-ups does not have, a
/// missing `port`, an unknown `mode`, or repeater mode (not supported yet).
pub fn parse<'a>(settings: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> Result<Settings, DeviceError> {
    let mut port: Option<&str> = None;
    let mut mode: Option<&str> = None;
    let mut cmd_comments = false;
    let mut switchable_outlets = false;
    for (key, value) in settings {
        match key {
            "port" => {
                port =
                    Some(value.ok_or_else(|| {
                        DeviceError::Invalid("'port' needs a value: the definition file".to_string())
                    })?);
            }
            "mode" => {
                mode = Some(value.ok_or_else(|| DeviceError::Invalid("'mode' needs a value".to_string()))?);
            }
            CMD_COMMENTS_FLAG => {
                // A bare flag: `cmd_comments = no` must not turn it on.
                if value.is_some() {
                    return Err(DeviceError::Invalid(format!("'{CMD_COMMENTS_FLAG}' is a flag and takes no value")));
                }
                cmd_comments = true;
            }
            SWITCHABLE_OUTLETS_FLAG => {
                if value.is_some() {
                    return Err(DeviceError::Invalid(format!(
                        "'{SWITCHABLE_OUTLETS_FLAG}' is a flag and takes no value"
                    )));
                }
                switchable_outlets = true;
            }
            _ if DRIVER_OPTIONS.contains(&key) => {}
            // NUT's driver core applies these to the published variables for
            // every driver, and so does the host here; dummy-ups itself never
            // reads them (DUMMY-UPS.md).
            _ if is_core_variable_option(key) => {}
            _ => {
                return Err(DeviceError::Invalid(format!("'{key}' is not a valid variable name for this driver")));
            }
        }
    }
    let port = match port {
        Some(port) if !port.is_empty() => port,
        _ => {
            return Err(DeviceError::Invalid("'port' is required: the dummy-ups definition file".to_string()));
        }
    };

    let (mode, mode_name) = match mode {
        Some("dummy-once") => (Mode::Once, "dummy-once"),
        Some("dummy-loop") => (Mode::Loop, "dummy-loop"),
        // `dummy` is the pre-2.8.0 name of the looping mode.
        Some("dummy") => (Mode::Loop, "dummy"),
        Some("repeater") => return Err(repeater_unsupported(port)),
        Some(other) => {
            return Err(DeviceError::Invalid(format!("Unsupported mode was specified: {other}")));
        }
        None if port.contains('@') => return Err(repeater_unsupported(port)),
        // Case-sensitive like NUT's str_ends_with: `UPS.DEV` loops.
        None if port.ends_with(".seq") => (Mode::Loop, "dummy-loop"),
        None if port.ends_with(".dev") => (Mode::Once, "dummy-once"),
        // Files NUT cannot classify loop, under the legacy mode name.
        None => (Mode::Loop, "dummy"),
    };
    Ok(Settings { port: port.to_string(), mode, mode_name: mode_name.to_string(), cmd_comments, switchable_outlets })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_pairs(pairs: &[(&str, Option<&str>)]) -> Result<Settings, DeviceError> {
        parse(pairs.iter().copied())
    }

    #[test]
    fn mode_from_port() {
        let once = parse_pairs(&[("port", Some("ups1.dev"))]).unwrap();
        assert_eq!((once.mode, once.mode_name.as_str()), (Mode::Once, "dummy-once"));
        let seq = parse_pairs(&[("port", Some("/etc/nut/evolution.seq"))]).unwrap();
        assert_eq!((seq.mode, seq.mode_name.as_str()), (Mode::Loop, "dummy-loop"));
        let other = parse_pairs(&[("port", Some("data.txt"))]).unwrap();
        assert_eq!((other.mode, other.mode_name.as_str()), (Mode::Loop, "dummy"));
        assert_eq!(other.port, "data.txt");
    }

    #[test]
    fn mode_setting_wins() {
        let looped = parse_pairs(&[("port", Some("ups1.dev")), ("mode", Some("dummy-loop"))]).unwrap();
        assert_eq!(looped.mode, Mode::Loop);
        let once = parse_pairs(&[("port", Some("a@b.seq")), ("mode", Some("dummy-once"))]).unwrap();
        assert_eq!(once.mode, Mode::Once);
        assert!(matches!(
            parse_pairs(&[("port", Some("x.dev")), ("mode", Some("meta"))]),
            Err(DeviceError::Invalid(m)) if m.contains("meta")
        ));
    }

    #[test]
    fn repeater_is_refused_clearly() {
        for pairs in
            [&[("port", Some("ups1@localhost"))][..], &[("port", Some("ups1.dev")), ("mode", Some("repeater"))][..]]
        {
            match parse_pairs(pairs) {
                Err(DeviceError::Invalid(message)) => {
                    assert!(message.contains("repeater mode"), "{message}")
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn unknown_options_and_missing_port_are_invalid() {
        assert_eq!(
            parse_pairs(&[("port", Some("x.dev")), ("baudrate", Some("2400"))]),
            Err(DeviceError::Invalid("'baudrate' is not a valid variable name for this driver".to_string()))
        );
        assert!(matches!(parse_pairs(&[]), Err(DeviceError::Invalid(_))));
        assert!(matches!(parse_pairs(&[("port", None)]), Err(DeviceError::Invalid(_))));
        // The host applies default.*/override.* itself; dummy-ups accepts and ignores them.
        let with_core_options = parse_pairs(&[
            ("port", Some("x.dev")),
            ("default.battery.voltage.high", Some("27.3")),
            ("override.ups.mfr", Some("Acme")),
        ]);
        assert_eq!(with_core_options, parse_pairs(&[("port", Some("x.dev"))]));
        assert!(
            parse_pairs(&[
                ("port", Some("x.dev")),
                ("repeater_disable_strict_start", None),
                ("authconf", Some("none"))
            ])
            .is_ok()
        );
    }

    #[test]
    fn cmd_comments_is_an_optional_bare_flag() {
        assert!(!parse_pairs(&[("port", Some("x.dev"))]).unwrap().cmd_comments);
        let with_flag = parse_pairs(&[
            ("port", Some("x.dev")),
            ("mode", Some("dummy-once")),
            ("cmd_comments", None),
            ("repeater_disable_strict_start", None),
            ("authconf", Some("none")),
        ])
        .unwrap();
        assert!(with_flag.cmd_comments);
        assert_eq!(with_flag.mode, Mode::Once);
        assert!(matches!(
            parse_pairs(&[("port", Some("x.dev")), ("cmd_comments", Some("no"))]),
            Err(DeviceError::Invalid(m)) if m.contains("takes no value")
        ));
    }
}
