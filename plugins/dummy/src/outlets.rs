//! Switchable outlets for tests of virtual devices (clone, clone-outlet):
//! with the Hazel-only `switchable_outlets` flag, each outlet the file
//! defines (`outlet.N.status`) gets a real ePDU's instant commands, and its
//! `outlet.N.timer.shutdown`/`timer.start` count down. Without the flag the
//! dummy stays exactly NUT's dummy-ups, which handles no command.
//!
//! Commands, per outlet `outlet.N`:
//! - `load.off` / `load.on`: switch now (and cancel any timer);
//! - `load.off.delay`: switch off after `outlet.N.delay.shutdown` seconds;
//! - `shutdown.return`: the same, then on again after `outlet.N.delay.start`
//!   seconds (0 when the file has none);
//! - `shutdown.stop`: cancel the timers.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// The commands each switchable outlet advertises.
pub const OUTLET_COMMANDS: &[&str] = &["load.off", "load.on", "load.off.delay", "shutdown.return", "shutdown.stop"];

/// What a command does to one outlet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutletCommand {
    /// Off now.
    Off,
    /// On now.
    On,
    /// Off after the shutdown delay.
    OffDelayed,
    /// Off after the shutdown delay, on after the start delay.
    Return,
    /// Cancel the timers.
    Stop,
}

/// Split `outlet.N.<command>` into the outlet prefix and the command.
pub fn parse_command(name: &str) -> Option<(String, OutletCommand)> {
    let rest = name.strip_prefix("outlet.")?;
    let (number, command) = rest.split_once('.')?;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let command = match command {
        "load.off" => OutletCommand::Off,
        "load.on" => OutletCommand::On,
        "load.off.delay" => OutletCommand::OffDelayed,
        "shutdown.return" => OutletCommand::Return,
        "shutdown.stop" => OutletCommand::Stop,
        _ => return None,
    };
    Some((alloc::format!("outlet.{number}"), command))
}

/// The outlet prefixes (`outlet.N`) among variable names: those with an `outlet.N.status`.
pub fn outlet_prefixes<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    names
        .into_iter()
        .filter_map(|name| name.strip_suffix(".status"))
        .filter(|prefix| parse_command(&alloc::format!("{prefix}.load.off")).is_some())
        .map(str::to_string)
        .collect()
}

/// The running timers of one outlet, as monotonic deadlines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutletTimers {
    /// When it switches off.
    pub off_at_ms: Option<u64>,
    /// After switching off, how long until it switches on again (`shutdown.return`).
    pub return_after_ms: Option<u64>,
    /// When it switches on.
    pub on_at_ms: Option<u64>,
}

/// What an outlet shows at one moment: (status change, timer.shutdown, timer.start).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutletView {
    /// `Some("off"/"on")` when the outlet switched at this moment.
    pub switch_to: Option<&'static str>,
    /// `outlet.N.timer.shutdown`: whole seconds left, or -1.
    pub timer_shutdown: i64,
    /// `outlet.N.timer.start`: whole seconds left, or -1.
    pub timer_start: i64,
}

fn seconds_left(deadline_ms: u64, now_ms: u64) -> i64 {
    i64::try_from(deadline_ms.saturating_sub(now_ms).div_ceil(1000)).unwrap_or(i64::MAX)
}

impl OutletTimers {
    /// Advance to `now_ms`: switch when a deadline passed, report the timers.
    pub fn advance(&mut self, now_ms: u64) -> OutletView {
        let mut switch_to = None;
        if let Some(off_at) = self.off_at_ms
            && now_ms >= off_at
        {
            self.off_at_ms = None;
            switch_to = Some("off");
            self.on_at_ms = self.return_after_ms.take().map(|after| off_at + after);
        }
        if let Some(on_at) = self.on_at_ms
            && now_ms >= on_at
        {
            self.on_at_ms = None;
            switch_to = Some("on");
        }
        OutletView {
            switch_to,
            timer_shutdown: self.off_at_ms.map_or(-1, |t| seconds_left(t, now_ms)),
            timer_start: self.on_at_ms.map_or(-1, |t| seconds_left(t, now_ms)),
        }
    }
}

/// The timers of every outlet, by prefix.
pub type Outlets = BTreeMap<String, OutletTimers>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_name_an_outlet() {
        assert_eq!(parse_command("outlet.1.load.off"), Some(("outlet.1".into(), OutletCommand::Off)));
        assert_eq!(parse_command("outlet.12.shutdown.return"), Some(("outlet.12".into(), OutletCommand::Return)));
        assert_eq!(parse_command("outlet.load.off"), None);
        assert_eq!(parse_command("outlet.1.beeper.off"), None);
        assert_eq!(parse_command("load.off"), None);
        let names = ["outlet.1.status", "outlet.1.desc", "outlet.2.status", "outlet.status", "ups.status"];
        assert_eq!(outlet_prefixes(names), ["outlet.1", "outlet.2"]);
    }

    #[test]
    fn shutdown_return_counts_down_switches_off_then_on() {
        let mut timers = OutletTimers { off_at_ms: Some(10_000), return_after_ms: Some(3_000), on_at_ms: None };
        assert_eq!(timers.advance(0), OutletView { switch_to: None, timer_shutdown: 10, timer_start: -1 });
        assert_eq!(timers.advance(9_500), OutletView { switch_to: None, timer_shutdown: 1, timer_start: -1 });
        assert_eq!(timers.advance(10_200), OutletView { switch_to: Some("off"), timer_shutdown: -1, timer_start: 3 });
        assert_eq!(timers.advance(13_000), OutletView { switch_to: Some("on"), timer_shutdown: -1, timer_start: -1 });
        assert_eq!(timers, OutletTimers::default());
    }
}
