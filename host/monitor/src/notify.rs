//! Notifications: upsmon's events, their messages (`NOTIFYMSG`), where they
//! go (`NOTIFYFLAG`) and what `NOTIFYCMD` is given (spec `shutdown.md` §6).
//!
//! Everything here is data: the state machine produces [`Notification`]s and
//! the monitor's loop logs them, writes them to terminals or spawns
//! [`NotifyCommand`]s.

use std::fmt;

/// One upsmon event. Names (`ONLINE`, …) are matched case-insensitively in
/// `upsmon.conf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NotifyEvent {
    /// The UPS is back on line power (not sent for the first `OL` after start).
    Online,
    /// The UPS is on battery.
    OnBatt,
    /// The UPS battery is low.
    LowBatt,
    /// The UPS is in forced shutdown.
    Fsd,
    /// Communication with the UPS (re)established.
    CommOk,
    /// Communication with the UPS lost.
    CommBad,
    /// This system is shutting down.
    Shutdown,
    /// The primary waits for secondaries to log out.
    ShutdownHostsync,
    /// The battery needs replacing.
    ReplBatt,
    /// The UPS has been unreachable for `NOCOMMWARNTIME`.
    NoComm,
    /// upsmon's privileged parent died (two-process model).
    NoParent,
    /// Calibration started.
    Cal,
    /// Calibration ended.
    NotCal,
    /// Output administratively off.
    Off,
    /// Output no longer off.
    NotOff,
    /// On bypass.
    Bypass,
    /// No longer on bypass.
    NotBypass,
    /// In economy mode.
    Eco,
    /// No longer in economy mode.
    NotEco,
    /// Alarms active (second `%s`: the `ups.alarm` text).
    Alarm,
    /// No alarms any more.
    NotAlarm,
    /// Overloaded.
    Over,
    /// No longer overloaded.
    NotOver,
    /// Trimming the input voltage.
    Trim,
    /// No longer trimming.
    NotTrim,
    /// Boosting the input voltage.
    Boost,
    /// No longer boosting.
    NotBoost,
    /// Unclassified status tokens (second `%s`: the tokens).
    Other,
    /// No unclassified status tokens any more.
    NotOther,
    /// The OS is about to sleep.
    SuspendStarting,
    /// The OS woke up from sleep.
    SuspendFinished,
    /// The clock jumped without a known suspend.
    SuspendTimejumpUnexpected,
    /// Hazel's own event, not in NUT: a shutdown that had started (or was
    /// pending a debounce) was called off because the supplies recovered
    /// before the point of no return.
    ShutdownCancelled,
}

impl NotifyEvent {
    /// Every event, in a stable order.
    pub const ALL: [NotifyEvent; 33] = [
        NotifyEvent::Online,
        NotifyEvent::OnBatt,
        NotifyEvent::LowBatt,
        NotifyEvent::Fsd,
        NotifyEvent::CommOk,
        NotifyEvent::CommBad,
        NotifyEvent::Shutdown,
        NotifyEvent::ShutdownHostsync,
        NotifyEvent::ReplBatt,
        NotifyEvent::NoComm,
        NotifyEvent::NoParent,
        NotifyEvent::Cal,
        NotifyEvent::NotCal,
        NotifyEvent::Off,
        NotifyEvent::NotOff,
        NotifyEvent::Bypass,
        NotifyEvent::NotBypass,
        NotifyEvent::Eco,
        NotifyEvent::NotEco,
        NotifyEvent::Alarm,
        NotifyEvent::NotAlarm,
        NotifyEvent::Over,
        NotifyEvent::NotOver,
        NotifyEvent::Trim,
        NotifyEvent::NotTrim,
        NotifyEvent::Boost,
        NotifyEvent::NotBoost,
        NotifyEvent::Other,
        NotifyEvent::NotOther,
        NotifyEvent::SuspendStarting,
        NotifyEvent::SuspendFinished,
        NotifyEvent::SuspendTimejumpUnexpected,
        NotifyEvent::ShutdownCancelled,
    ];

    /// The name used in `upsmon.conf` and in `NOTIFYTYPE`.
    pub fn name(self) -> &'static str {
        match self {
            NotifyEvent::Online => "ONLINE",
            NotifyEvent::OnBatt => "ONBATT",
            NotifyEvent::LowBatt => "LOWBATT",
            NotifyEvent::Fsd => "FSD",
            NotifyEvent::CommOk => "COMMOK",
            NotifyEvent::CommBad => "COMMBAD",
            NotifyEvent::Shutdown => "SHUTDOWN",
            NotifyEvent::ShutdownHostsync => "SHUTDOWN_HOSTSYNC",
            NotifyEvent::ReplBatt => "REPLBATT",
            NotifyEvent::NoComm => "NOCOMM",
            NotifyEvent::NoParent => "NOPARENT",
            NotifyEvent::Cal => "CAL",
            NotifyEvent::NotCal => "NOTCAL",
            NotifyEvent::Off => "OFF",
            NotifyEvent::NotOff => "NOTOFF",
            NotifyEvent::Bypass => "BYPASS",
            NotifyEvent::NotBypass => "NOTBYPASS",
            NotifyEvent::Eco => "ECO",
            NotifyEvent::NotEco => "NOTECO",
            NotifyEvent::Alarm => "ALARM",
            NotifyEvent::NotAlarm => "NOTALARM",
            NotifyEvent::Over => "OVER",
            NotifyEvent::NotOver => "NOTOVER",
            NotifyEvent::Trim => "TRIM",
            NotifyEvent::NotTrim => "NOTTRIM",
            NotifyEvent::Boost => "BOOST",
            NotifyEvent::NotBoost => "NOTBOOST",
            NotifyEvent::Other => "OTHER",
            NotifyEvent::NotOther => "NOTOTHER",
            NotifyEvent::SuspendStarting => "SUSPEND_STARTING",
            NotifyEvent::SuspendFinished => "SUSPEND_FINISHED",
            NotifyEvent::SuspendTimejumpUnexpected => "SUSPEND_TIMEJUMP_UNEXPECTED",
            NotifyEvent::ShutdownCancelled => "SHUTDOWN_CANCELLED",
        }
    }

    /// The event named `name`, case-insensitively.
    pub fn from_name(name: &str) -> Option<NotifyEvent> {
        NotifyEvent::ALL.into_iter().find(|event| event.name().eq_ignore_ascii_case(name))
    }

    /// The stock message template. `%s` is the UPS system name (`ups@host`
    /// as written in `MONITOR`); `ALARM` and `OTHER` take a second `%s`.
    ///
    /// upsmon's wording for the events NUT defines; Hazel's wording for
    /// `SHUTDOWN_HOSTSYNC`, `SUSPEND_TIMEJUMP_UNEXPECTED` (whose stock text
    /// was not available to check against) and its own `SHUTDOWN_CANCELLED`.
    pub fn default_message(self) -> &'static str {
        match self {
            NotifyEvent::Online => "UPS %s on line power",
            NotifyEvent::OnBatt => "UPS %s on battery",
            NotifyEvent::LowBatt => "UPS %s battery is low",
            NotifyEvent::Fsd => "UPS %s: forced shutdown in progress",
            NotifyEvent::CommOk => "Communications with UPS %s established",
            NotifyEvent::CommBad => "Communications with UPS %s lost",
            NotifyEvent::Shutdown => "Auto logout and shutdown proceeding",
            NotifyEvent::ShutdownHostsync => "Waiting for secondary systems to log out before shutting down",
            NotifyEvent::ReplBatt => "UPS %s battery needs to be replaced",
            NotifyEvent::NoComm => "UPS %s is unavailable",
            NotifyEvent::NoParent => "upsmon parent process died - shutdown impossible",
            NotifyEvent::Cal => "UPS %s: calibration in progress",
            NotifyEvent::NotCal => "UPS %s: calibration finished",
            NotifyEvent::Off => "UPS %s: administratively OFF or asleep",
            NotifyEvent::NotOff => "UPS %s: no longer administratively OFF or asleep",
            NotifyEvent::Bypass => "UPS %s: on bypass (powered, not protecting)",
            NotifyEvent::NotBypass => "UPS %s: no longer on bypass",
            NotifyEvent::Eco => "UPS %s: in ECO mode (as defined by vendor)",
            NotifyEvent::NotEco => "UPS %s: no longer in ECO mode",
            NotifyEvent::Alarm => "UPS %s: one or more active alarms: [%s]",
            NotifyEvent::NotAlarm => "UPS %s is no longer in an alarm state (no active alarms)",
            NotifyEvent::Over => "UPS %s: overloaded",
            NotifyEvent::NotOver => "UPS %s: no longer overloaded",
            NotifyEvent::Trim => "UPS %s: trimming incoming voltage",
            NotifyEvent::NotTrim => "UPS %s: no longer trimming incoming voltage",
            NotifyEvent::Boost => "UPS %s: boosting incoming voltage",
            NotifyEvent::NotBoost => "UPS %s: no longer boosting incoming voltage",
            NotifyEvent::Other => "UPS %s: has at least one unclassified status token: [%s]",
            NotifyEvent::NotOther => "UPS %s has no unclassified status tokens anymore",
            NotifyEvent::SuspendStarting => "OS is entering sleep/suspend/hibernate mode",
            NotifyEvent::SuspendFinished => {
                "OS just finished sleep/suspend/hibernate mode, de-activating obsolete UPS readings to avoid an unfortunate shutdown"
            }
            NotifyEvent::SuspendTimejumpUnexpected => "The system clock jumped unexpectedly; UPS readings may be stale",
            NotifyEvent::ShutdownCancelled => {
                "Shutdown cancelled: power supplies recovered before the point of no return"
            }
        }
    }
}

impl fmt::Display for NotifyEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a notification goes (`NOTIFYFLAG TYPE SYSLOG+WALL+EXEC`, or `IGNORE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyFlags {
    /// Log it (syslog or the service log).
    pub syslog: bool,
    /// Write it to every logged-in user's terminal.
    pub wall: bool,
    /// Run `NOTIFYCMD` with it.
    pub exec: bool,
    /// `IGNORE` was given: do nothing, whatever else is set.
    pub ignore: bool,
}

impl NotifyFlags {
    /// upsmon's default for every event on Unix: `SYSLOG+WALL`.
    pub const DEFAULT: NotifyFlags = NotifyFlags { syslog: true, wall: true, exec: false, ignore: false };
    /// No flag at all.
    pub const NONE: NotifyFlags = NotifyFlags { syslog: false, wall: false, exec: false, ignore: false };

    /// Parses `SYSLOG+WALL+EXEC` / `IGNORE` (case-insensitive). Unknown flag
    /// names are returned separately: upsmon logs and skips them, keeping
    /// the valid ones.
    pub fn parse(text: &str) -> (NotifyFlags, Vec<String>) {
        let mut flags = NotifyFlags::NONE;
        let mut unknown = Vec::new();
        for name in text.split('+') {
            match name.to_ascii_uppercase().as_str() {
                "SYSLOG" => flags.syslog = true,
                "WALL" => flags.wall = true,
                "EXEC" => flags.exec = true,
                "IGNORE" => flags.ignore = true,
                _ => unknown.push(name.to_string()),
            }
        }
        (flags, unknown)
    }

    /// Whether the notification is to be logged.
    pub fn logs(self) -> bool {
        self.syslog && !self.ignore
    }

    /// Whether the notification is to be written to terminals.
    pub fn walls(self) -> bool {
        self.wall && !self.ignore
    }

    /// Whether `NOTIFYCMD` is to be run.
    pub fn execs(self) -> bool {
        self.exec && !self.ignore
    }
}

impl Default for NotifyFlags {
    fn default() -> Self {
        NotifyFlags::DEFAULT
    }
}

/// `NOTIFYCMD`, `NOTIFYMSG` and `NOTIFYFLAG` together: how each event is
/// announced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifySettings {
    /// `NOTIFYCMD`: program and its own arguments (the message is appended).
    pub command: Option<Vec<String>>,
    messages: Vec<(NotifyEvent, String)>,
    flags: Vec<(NotifyEvent, NotifyFlags)>,
}

impl NotifySettings {
    /// Overrides the message template of `event` (`NOTIFYMSG`).
    pub fn set_message(&mut self, event: NotifyEvent, template: impl Into<String>) {
        let template = template.into();
        match self.messages.iter_mut().find(|(known, _)| *known == event) {
            Some((_, existing)) => *existing = template,
            None => self.messages.push((event, template)),
        }
    }

    /// Replaces the flags of `event` (`NOTIFYFLAG`).
    pub fn set_flags(&mut self, event: NotifyEvent, flags: NotifyFlags) {
        match self.flags.iter_mut().find(|(known, _)| *known == event) {
            Some((_, existing)) => *existing = flags,
            None => self.flags.push((event, flags)),
        }
    }

    /// The template in force for `event`.
    pub fn template(&self, event: NotifyEvent) -> &str {
        self.messages
            .iter()
            .find(|(known, _)| *known == event)
            .map_or_else(|| event.default_message(), |(_, template)| template.as_str())
    }

    /// The flags in force for `event`.
    pub fn flags(&self, event: NotifyEvent) -> NotifyFlags {
        self.flags.iter().find(|(known, _)| *known == event).map_or(NotifyFlags::DEFAULT, |(_, flags)| *flags)
    }

    /// A notification of `event` about the UPS named `system` (`None` for
    /// events about this host, such as `SHUTDOWN`), with `detail` (alarm
    /// text or unknown tokens) for the second `%s`.
    pub fn notification(&self, event: NotifyEvent, system: Option<&str>, detail: Option<&str>) -> Notification {
        let mut arguments = Vec::with_capacity(2);
        arguments.push(system.unwrap_or(""));
        if let Some(detail) = detail {
            arguments.push(detail);
        }
        Notification {
            event,
            ups: system.map(str::to_string),
            message: format_template(self.template(event), &arguments),
            flags: self.flags(event),
        }
    }
}

/// Expands a printf-style template safely: each `%s` takes the next argument
/// (an empty string once they run out), `%%` is `%`, and any other
/// conversion (`%d`, `%5s`, `%n`…) is copied as written, so no template can
/// crash the monitor or read what it was not given.
pub fn format_template(template: &str, arguments: &[&str]) -> String {
    let mut output = String::with_capacity(template.len() + 32);
    let mut arguments = arguments.iter();
    let mut chars = template.chars().peekable();
    while let Some(character) = chars.next() {
        if character != '%' {
            output.push(character);
            continue;
        }
        match chars.peek() {
            Some('s') => {
                chars.next();
                output.push_str(arguments.next().copied().unwrap_or(""));
            }
            Some('%') => {
                chars.next();
                output.push('%');
            }
            _ => output.push('%'),
        }
    }
    output
}

/// One event to announce, produced by the state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// What happened.
    pub event: NotifyEvent,
    /// The UPS system name as written in `MONITOR`, or `None` for events
    /// about this host.
    pub ups: Option<String>,
    /// The expanded message.
    pub message: String,
    /// Where it goes.
    pub flags: NotifyFlags,
}

impl Notification {
    /// The `NOTIFYCMD` invocation for this notification, if `EXEC` is set
    /// and a command is configured: the command's tokens with the message
    /// appended as the last argument, and `UPSNAME` (empty for host events)
    /// and `NOTIFYTYPE` in the environment.
    pub fn command(&self, notify_cmd: Option<&[String]>) -> Option<NotifyCommand> {
        if !self.flags.execs() {
            return None;
        }
        let (program, arguments) = notify_cmd?.split_first()?;
        let mut arguments = arguments.to_vec();
        arguments.push(self.message.clone());
        Some(NotifyCommand {
            program: program.clone(),
            arguments,
            environment: vec![
                ("UPSNAME".to_string(), self.ups.clone().unwrap_or_default()),
                ("NOTIFYTYPE".to_string(), self.event.name().to_string()),
            ],
        })
    }
}

/// A `NOTIFYCMD` process to start (asynchronously: the monitor does not wait
/// for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyCommand {
    /// The program (first token of `NOTIFYCMD`).
    pub program: String,
    /// Its arguments, the message last.
    pub arguments: Vec<String>,
    /// Variables to add to the environment.
    pub environment: Vec<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_case_insensitively() {
        for event in NotifyEvent::ALL {
            assert_eq!(NotifyEvent::from_name(event.name()), Some(event));
            assert_eq!(NotifyEvent::from_name(&event.name().to_ascii_lowercase()), Some(event));
        }
        assert_eq!(NotifyEvent::from_name("ONBAT"), None);
    }

    #[test]
    fn stock_messages() {
        let settings = NotifySettings::default();
        let cases = [
            (NotifyEvent::Online, "UPS ups@host on line power"),
            (NotifyEvent::OnBatt, "UPS ups@host on battery"),
            (NotifyEvent::LowBatt, "UPS ups@host battery is low"),
            (NotifyEvent::Fsd, "UPS ups@host: forced shutdown in progress"),
            (NotifyEvent::CommOk, "Communications with UPS ups@host established"),
            (NotifyEvent::CommBad, "Communications with UPS ups@host lost"),
            (NotifyEvent::ReplBatt, "UPS ups@host battery needs to be replaced"),
            (NotifyEvent::NoComm, "UPS ups@host is unavailable"),
        ];
        for (event, expected) in cases {
            assert_eq!(settings.notification(event, Some("ups@host"), None).message, expected);
        }
        let shutdown = settings.notification(NotifyEvent::Shutdown, None, None);
        assert_eq!(shutdown.message, "Auto logout and shutdown proceeding");
        assert_eq!(shutdown.ups, None);
        let alarm = settings.notification(NotifyEvent::Alarm, Some("ups"), Some("Fan failure"));
        assert_eq!(alarm.message, "UPS ups: one or more active alarms: [Fan failure]");
        let other = settings.notification(NotifyEvent::Other, Some("ups"), Some("WAIT VENDOR"));
        assert_eq!(other.message, "UPS ups: has at least one unclassified status token: [WAIT VENDOR]");
    }

    #[test]
    fn every_stock_template_uses_only_plain_placeholders() {
        for event in NotifyEvent::ALL {
            let template = event.default_message();
            let stripped = template.replace("%s", "");
            assert!(!stripped.contains('%'), "{event}: {template}");
            let expected = if matches!(event, NotifyEvent::Alarm | NotifyEvent::Other) { 2 } else { 1 };
            assert!(template.matches("%s").count() <= expected, "{event}");
        }
    }

    #[test]
    fn templates_are_expanded_safely() {
        assert_eq!(format_template("UPS %s at 100%% (%d) %n %5s %", &["u"]), "UPS u at 100% (%d) %n %5s %");
        assert_eq!(format_template("%s and %s and %s", &["a"]), "a and  and ");
        assert_eq!(format_template("only %s", &["a", "extra"]), "only a");
        assert_eq!(format_template("", &["a"]), "");
        assert_eq!(format_template("%s", &["%s %d"]), "%s %d");
    }

    #[test]
    fn overrides_and_flags() {
        let mut settings = NotifySettings::default();
        settings.set_message(NotifyEvent::OnBatt, "power out on %s!");
        settings.set_message(NotifyEvent::OnBatt, "Power out on %s");
        let (flags, unknown) = NotifyFlags::parse("syslog+EXEC+Bogus");
        assert_eq!(unknown, ["Bogus"]);
        settings.set_flags(NotifyEvent::OnBatt, flags);
        let note = settings.notification(NotifyEvent::OnBatt, Some("ups@h"), None);
        assert_eq!(note.message, "Power out on ups@h");
        assert!(note.flags.logs() && note.flags.execs() && !note.flags.walls());
        assert_eq!(settings.flags(NotifyEvent::Online), NotifyFlags::DEFAULT);
        let (ignore, _) = NotifyFlags::parse("IGNORE+SYSLOG+WALL+EXEC");
        assert!(!ignore.logs() && !ignore.walls() && !ignore.execs());
    }

    #[test]
    fn notify_command_has_message_last_and_environment() {
        let mut settings = NotifySettings::default();
        settings.set_flags(NotifyEvent::OnBatt, NotifyFlags::parse("EXEC").0);
        let command = vec!["/usr/bin/notify".to_string(), "--tag".to_string(), "ups".to_string()];
        let note = settings.notification(NotifyEvent::OnBatt, Some("ups@h"), None);
        let spawn = note.command(Some(&command)).unwrap();
        assert_eq!(spawn.program, "/usr/bin/notify");
        assert_eq!(spawn.arguments, ["--tag", "ups", "UPS ups@h on battery"]);
        assert_eq!(
            spawn.environment,
            [("UPSNAME".to_string(), "ups@h".to_string()), ("NOTIFYTYPE".to_string(), "ONBATT".to_string())]
        );
        // Host events carry an empty UPSNAME.
        settings.set_flags(NotifyEvent::Shutdown, NotifyFlags::parse("EXEC").0);
        let spawn = settings.notification(NotifyEvent::Shutdown, None, None).command(Some(&command)).unwrap();
        assert_eq!(spawn.environment[0], ("UPSNAME".to_string(), String::new()));
        // No EXEC flag, no command, or an empty command: nothing to run.
        assert_eq!(settings.notification(NotifyEvent::Online, Some("u"), None).command(Some(&command)), None);
        assert_eq!(note.command(None), None);
        assert_eq!(note.command(Some(&[])), None);
    }
}
