//! upsmon's decisions as a sans-I/O state machine.
//!
//! The machine never reads a clock, a socket or a file. The monitor's loop
//! feeds it [`Input`]s, each with the current time as a [`Duration`] on a
//! monotonic clock whose origin does not matter (tests use a fake clock),
//! and performs the [`Action`]s it returns, in order. Between inputs the
//! loop sleeps until [`Machine::wake_at`] and then sends [`Input::Tick`].
//!
//! # Per-UPS tracking
//!
//! Each `MONITOR` line is one UPS, identified by its [`UpsId`] (its index in
//! [`UpsmonConf::monitors`]); nothing a device reports, such as a serial
//! number, ever merges two of them. Per UPS the machine keeps:
//! - its [`Link`]: `NeverReached` → `Alive` on a successful poll, → `Lost`
//!   on a failed one (`COMMBAD` on entering `Lost`, also from
//!   `NeverReached`; `NOCOMM` once `NOCOMMWARNTIME` passed since the last
//!   good poll, repeated at most every `NOCOMMWARNTIME`; `COMMOK` on
//!   `Lost` → `Alive`);
//! - its last known [`Status`] and alarm text, and since when it has been
//!   OB+LB, OFF and OVER, and when it was last not OB+LB ("last
//!   non-critical");
//! - its [`Criticality`], evaluated after every input by upsmon's rules in
//!   order (spec `shutdown.md` §3): `FSD`; while the link is lost, a last
//!   known OVER (past `OVERDURATION`), ALARM (with `ALARMCRITICAL`), CAL,
//!   BYPASS or OFF; OFF for `OFFDURATION`; then OB+LB (not while CAL) —
//!   after `OBLBDURATION`, at once for a primary, and for a secondary only
//!   `HOSTSYNC` after it was last non-critical, giving the primary time to
//!   set FSD. A UPS silent for `DEADTIME` whose last status was OB counts as
//!   OB+LB ("dead on battery", without the `OBLBDURATION` debounce, since
//!   `DEADTIME` is one already). A UPS never heard from counts as healthy.
//!   A rule still waiting for its time makes the UPS [`Criticality::Pending`].
//!
//! # The global [`Phase`]
//!
//! The power value of every UPS that is not critical is added up; a sum
//! below `MINSUPPLIES` means shutdown (`MINSUPPLIES 0` never shuts down).
//!
//! - `Monitoring` → `ShutdownPending` when the sum is still enough but would
//!   not be once the pending UPSes' debounce ends. `ShutdownPending` →
//!   `Monitoring` when they recover, with Hazel's `SHUTDOWN_CANCELLED`
//!   notification.
//! - `Monitoring`/`ShutdownPending` → shutdown when the sum is short, or on
//!   [`Input::ForceShutdown`] (`upsmon -c fsd`):
//!   - primary of at least one UPS: `FSD <ups>` to each of them →
//!     `ForcingShutdown` until every FSD is answered → `AwaitingSecondaries`,
//!     asking `NUMLOGINS` of each every 250 ms until none has more than one
//!     login (this host) → `FinalDelay`; `SHUTDOWN_HOSTSYNC` is notified on
//!     the first round with secondaries left, and both phases give up
//!     `HOSTSYNC` after the first FSD was sent ("Host sync timer expired").
//!   - secondary only: straight to `FinalDelay`.
//! - Entering `FinalDelay`: `SHUTDOWN` notification. After `FINALDELAY`:
//!   a primary writes `POWERDOWNFLAG` (when configured and not disabled at
//!   start) and stages the late shutdown; then `SHUTDOWNCMD` runs →
//!   `ShutdownCommanded` → `Exited` per `SHUTDOWNEXIT`. Only a primary
//!   writes the flag, as upsmon's manual says (upsmon's code writes it on
//!   secondaries too, where the late step then finds no device to cut).
//!   FSD goes to every UPS this host is primary for, whatever its power
//!   value: the late step cuts every local UPS, so all their secondaries
//!   must be down first.
//!
//! **Point of no return**: the first `FSD` sent to a server, or the start of
//! `SHUTDOWNCMD`. An FSD cannot be taken back (upsd keeps it until the
//! driver restarts, and the secondaries are already going down), so a
//! primary never cancels. Before that point a shutdown is cancelled when the
//! supplies recover: in `ShutdownPending`, and in a secondary's
//! `FinalDelay` when the shutdown came from power loss (not from
//! `ForceShutdown`); polling continues in those phases to notice it. NUT has
//! no such event; `SHUTDOWN_CANCELLED` is Hazel's.
//!
//! Timing thresholds are "at least": a UPS is dead once `DEADTIME` has
//! passed, OB+LB counts once it lasted `OBLBDURATION`, and so on.

use std::path::PathBuf;
use std::time::Duration;

use crate::notify::{Notification, NotifyEvent};
use crate::status::Status;
use crate::upsmon_conf::{Monitor, Role, ShutdownExit, UpsmonConf};

#[cfg(test)]
mod tests;

/// How often a waiting primary asks its servers for `NUMLOGINS`.
pub const NUMLOGINS_INTERVAL: Duration = Duration::from_millis(250);

/// A monitored UPS: the index of its `MONITOR` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UpsId(pub usize);

/// What a poll of a UPS (`GET VAR <ups> ups.status`, and `ups.alarm`
/// while `ALARM`) gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollResult {
    /// The server answered.
    Status {
        /// The `ups.status` value.
        status: String,
        /// The `ups.alarm` value, when read.
        alarm: Option<String>,
    },
    /// It did not.
    Failed(PollFailure),
}

/// Why a poll failed. Every kind means the UPS is not answering; they differ
/// only in what is logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollFailure {
    /// `ERR DATA-STALE`.
    DataStale,
    /// `ERR DRIVER-NOT-CONNECTED`.
    DriverNotConnected,
    /// `ERR UNKNOWN-UPS`.
    UnknownUps,
    /// The connection could not be made or broke.
    ConnectionLost(String),
    /// The server refused the login needed to poll.
    LoginRefused(String),
    /// Anything else, as reported.
    Other(String),
}

/// Something that happened, for [`Machine::handle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Time passed (the loop reached [`Machine::wake_at`]).
    Tick,
    /// A poll the machine asked for finished.
    Poll {
        /// Which UPS.
        ups: UpsId,
        /// What came back.
        result: PollResult,
    },
    /// `LOGIN <ups>` was answered after (re)connecting.
    Login {
        /// Which UPS.
        ups: UpsId,
        /// `Err` carries the server's reason.
        result: Result<(), String>,
    },
    /// `PRIMARY <ups>` (or `MASTER`) was answered.
    Primary {
        /// Which UPS.
        ups: UpsId,
        /// `Err` carries the server's reason.
        result: Result<(), String>,
    },
    /// `FSD <ups>` was answered.
    Fsd {
        /// Which UPS.
        ups: UpsId,
        /// `Err` carries the server's reason.
        result: Result<(), String>,
    },
    /// `GET NUMLOGINS <ups>` was answered.
    NumLogins {
        /// Which UPS.
        ups: UpsId,
        /// The number of sessions logged into the UPS, or why there is none.
        result: Result<u32, String>,
    },
    /// An administrator asked for a forced shutdown (`upsmon -c fsd`).
    ForceShutdown,
}

/// Severity of an [`Action::Log`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Routine.
    Info,
    /// Worth attention.
    Warning,
    /// Something failed.
    Error,
}

/// Something for the loop to do, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Poll the UPS and report [`Input::Poll`]. The loop (re)connects and
    /// logs in as needed, and does not start a second poll of a UPS whose
    /// previous one has not finished.
    Poll {
        /// Which UPS.
        ups: UpsId,
    },
    /// Announce an event per its flags (log, wall, `NOTIFYCMD`).
    Notify(Notification),
    /// Write a line to the log.
    Log {
        /// Severity.
        level: LogLevel,
        /// The line.
        message: String,
    },
    /// Send `FSD <ups>` and report [`Input::Fsd`].
    SendFsd {
        /// Which UPS.
        ups: UpsId,
    },
    /// Send `GET NUMLOGINS <ups>` and report [`Input::NumLogins`].
    QueryNumLogins {
        /// Which UPS.
        ups: UpsId,
    },
    /// Write the power-down flag file ([`crate::powerdown_flag::write`]).
    WritePowerdownFlag {
        /// `POWERDOWNFLAG`.
        path: PathBuf,
    },
    /// Prepare the late shutdown (the step that cuts the UPS's power after
    /// the OS is down), where the host has one.
    StageLateShutdown,
    /// Run `SHUTDOWNCMD` through the shell.
    RunShutdownCmd {
        /// The command line.
        command: String,
    },
    /// Stop the monitor (`SHUTDOWNEXIT`); for a secondary this logs it out
    /// of its server, which is what the primary waits for.
    Exit,
}

/// The state of the link to one UPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// No poll has succeeded yet.
    NeverReached,
    /// The last poll succeeded.
    Alive,
    /// Polls have been failing since `since`.
    Lost {
        /// Time of the first failure.
        since: Duration,
    },
}

/// Why a UPS counts (or will count) as critical.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CriticalReason {
    /// `FSD` is set.
    ForcedShutdown,
    /// On battery with a low battery.
    OnBatteryLowBattery,
    /// Silent for `DEADTIME`, last seen on battery.
    DeadOnBattery,
    /// Link lost while last known overloaded for `OVERDURATION`.
    LostWhileOverloaded,
    /// Link lost while last known alarmed (`ALARMCRITICAL`).
    LostWhileAlarmed,
    /// Link lost while last known calibrating.
    LostWhileCalibrating,
    /// Link lost while last known on bypass.
    LostWhileOnBypass,
    /// Link lost while last known off.
    LostWhileOff,
    /// Output off for `OFFDURATION`.
    OffTooLong,
}

impl CriticalReason {
    fn describe(self) -> &'static str {
        match self {
            CriticalReason::ForcedShutdown => "forced shutdown (FSD)",
            CriticalReason::OnBatteryLowBattery => "on battery with a low battery",
            CriticalReason::DeadOnBattery => "no answer for DEADTIME while on battery",
            CriticalReason::LostWhileOverloaded => "communication lost while overloaded",
            CriticalReason::LostWhileAlarmed => "communication lost while alarmed",
            CriticalReason::LostWhileCalibrating => "communication lost while calibrating",
            CriticalReason::LostWhileOnBypass => "communication lost while on bypass",
            CriticalReason::LostWhileOff => "communication lost while off",
            CriticalReason::OffTooLong => "output off for OFFDURATION",
        }
    }
}

/// Whether a UPS still feeds this host, per upsmon's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criticality {
    /// It does.
    Healthy,
    /// A critical condition holds but its debounce runs until `until`
    /// (`OBLBDURATION`, a secondary's `HOSTSYNC`, `OFFDURATION`).
    Pending {
        /// When it turns critical if nothing changes.
        until: Duration,
        /// The condition.
        reason: CriticalReason,
    },
    /// It no longer can be counted on.
    Critical(CriticalReason),
}

/// Where the host is on the way from monitoring to shutdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Enough supplies.
    Monitoring,
    /// Enough supplies now, not once the pending UPSes' debounce ends.
    ShutdownPending {
        /// When this phase began.
        since: Duration,
    },
    /// `FSD` sent to the UPSes this host is primary for; waiting for answers.
    ForcingShutdown {
        /// When the first FSD was sent; `HOSTSYNC` counts from here.
        since: Duration,
        /// UPSes whose FSD is not answered yet.
        awaiting: Vec<UpsId>,
    },
    /// Waiting for secondaries to log out of the UPSes this host is primary for.
    AwaitingSecondaries {
        /// When the first FSD was sent; `HOSTSYNC` counts from here.
        since: Duration,
        /// UPSes whose `NUMLOGINS` answer of this round is outstanding.
        awaiting: Vec<UpsId>,
        /// Most logins seen in this round.
        most_logins: u32,
        /// When the next round starts, once this one is complete.
        next_round: Option<Duration>,
        /// `SHUTDOWN_HOSTSYNC` was notified.
        hostsync_notified: bool,
    },
    /// `SHUTDOWN` was notified; `SHUTDOWNCMD` runs at `until`.
    FinalDelay {
        /// End of `FINALDELAY`.
        until: Duration,
        /// Before the point of no return: recovered supplies cancel it.
        cancellable: bool,
    },
    /// `SHUTDOWNCMD` was started.
    ShutdownCommanded {
        /// When to exit (`SHUTDOWNEXIT` seconds), or never.
        exit_at: Option<Duration>,
    },
    /// [`Action::Exit`] was given; nothing more happens.
    Exited,
}

/// Why a shutdown starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ShutdownCause {
    /// The supplies fell below `MINSUPPLIES`.
    PowerLost,
    /// [`Input::ForceShutdown`].
    Requested,
}

/// Everything known about one UPS.
#[derive(Debug, Clone)]
struct Tracked {
    monitor: Monitor,
    link: Link,
    /// Last successful poll, or the machine's start before any.
    last_poll: Duration,
    status: Option<Status>,
    alarm: Option<String>,
    /// `Some(true)` after OL, `Some(false)` after OB: ONLINE is only sent
    /// for OB → OL, never for the first OL after start.
    was_online: Option<bool>,
    last_noncritical: Option<Duration>,
    on_battery_low_since: Option<Duration>,
    off_since: Option<Duration>,
    overload_since: Option<Duration>,
    last_replbatt: Option<Duration>,
    last_nocomm: Option<Duration>,
    fsd_notified: bool,
    /// Poll failures in a row, for `POLLFAIL_LOG_THROTTLE_MAX`.
    failures: u64,
    logged_critical: bool,
    logged_dead: bool,
}

/// upsmon's decision logic for one `upsmon.conf`.
#[derive(Debug, Clone)]
pub struct Machine {
    conf: UpsmonConf,
    upses: Vec<Tracked>,
    phase: Phase,
    /// Latest time seen.
    now: Duration,
    /// When the last poll round was issued; `None` before the first.
    last_round: Option<Duration>,
    powerdown_flag_enabled: bool,
}

impl Machine {
    /// A machine for `conf`, started at `now`. The first poll round is due
    /// at once.
    pub fn new(conf: &UpsmonConf, now: Duration) -> Machine {
        let upses = conf
            .monitors
            .iter()
            .map(|monitor| Tracked {
                monitor: monitor.clone(),
                link: Link::NeverReached,
                last_poll: now,
                status: None,
                alarm: None,
                was_online: None,
                last_noncritical: None,
                on_battery_low_since: None,
                off_since: None,
                overload_since: None,
                last_replbatt: None,
                last_nocomm: None,
                fsd_notified: false,
                failures: 0,
                logged_critical: false,
                logged_dead: false,
            })
            .collect();
        Machine {
            conf: conf.clone(),
            upses,
            phase: Phase::Monitoring,
            now,
            last_round: None,
            powerdown_flag_enabled: conf.powerdown_flag.is_some(),
        }
    }

    /// Never write `POWERDOWNFLAG` in this run (the file at start had
    /// foreign content; see [`crate::powerdown_flag::clear_on_start`]).
    pub fn disable_powerdown_flag(&mut self) {
        self.powerdown_flag_enabled = false;
    }

    /// The current phase.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Every monitored UPS.
    pub fn ups_ids(&self) -> impl Iterator<Item = UpsId> + '_ {
        (0..self.upses.len()).map(UpsId)
    }

    /// The `MONITOR` line of a UPS.
    pub fn monitor(&self, ups: UpsId) -> Option<&Monitor> {
        self.upses.get(ups.0).map(|tracked| &tracked.monitor)
    }

    /// The link state of a UPS.
    pub fn link(&self, ups: UpsId) -> Option<Link> {
        self.upses.get(ups.0).map(|tracked| tracked.link)
    }

    /// The last known status of a UPS (`None` before the first good poll).
    pub fn status(&self, ups: UpsId) -> Option<&Status> {
        self.upses.get(ups.0).and_then(|tracked| tracked.status.as_ref())
    }

    /// Whether a UPS counts as critical at the latest time seen.
    pub fn criticality(&self, ups: UpsId) -> Option<Criticality> {
        self.upses.get(ups.0).map(|tracked| self.assess(tracked, self.now))
    }

    /// Time between poll rounds now: `POLLFREQALERT` while any UPS is on
    /// battery, off, on bypass, alarmed or overloaded, else `POLLFREQ`.
    pub fn poll_interval(&self) -> Duration {
        let alert = self.upses.iter().any(|tracked| tracked.status.as_ref().is_some_and(Status::wants_alert_polling));
        if alert { self.conf.poll_freq_alert } else { self.conf.poll_freq }
    }

    /// When the loop must send [`Input::Tick`] next (`None`: only on other
    /// inputs). A time not after the latest input's means "tick now"; each
    /// such tick acts on it, so ticking never loops on the same deadline.
    pub fn wake_at(&self) -> Option<Duration> {
        let mut times: Vec<Duration> = Vec::new();
        if self.polling() {
            times.push(self.next_round_at());
            for tracked in &self.upses {
                times.extend(self.deadlines(tracked).into_iter().filter(|&time| time > self.now));
            }
        }
        match &self.phase {
            Phase::Monitoring | Phase::ShutdownPending { .. } | Phase::Exited => {}
            Phase::ForcingShutdown { since, .. } => times.push(*since + self.conf.host_sync),
            Phase::AwaitingSecondaries { since, next_round, .. } => {
                times.push(*since + self.conf.host_sync);
                times.extend(*next_round);
            }
            Phase::FinalDelay { until, .. } => times.push(*until),
            Phase::ShutdownCommanded { exit_at } => times.extend(*exit_at),
        }
        times.into_iter().min()
    }

    /// Processes one input at time `now` and returns what to do, in order.
    /// Times earlier than one already seen are taken as that time.
    pub fn handle(&mut self, now: Duration, input: Input) -> Vec<Action> {
        let now = now.max(self.now);
        self.now = now;
        let mut actions = Vec::new();
        if self.phase == Phase::Exited {
            return actions;
        }
        match input {
            Input::Tick => self.on_tick(now, &mut actions),
            Input::Poll { ups, result } => {
                if self.upses.get(ups.0).is_some() && self.polling() {
                    match result {
                        PollResult::Status { status, alarm } if !status.trim().is_empty() => {
                            self.on_status(now, ups, &status, alarm, &mut actions);
                        }
                        PollResult::Status { .. } => self.on_poll_failure(now, ups, None, &mut actions),
                        PollResult::Failed(failure) => self.on_poll_failure(now, ups, Some(failure), &mut actions),
                    }
                    self.recalculate(now, &mut actions);
                }
            }
            Input::Login { ups, result } => self.on_session_answer(ups, "Login to", result, &mut actions),
            Input::Primary { ups, result } => {
                self.on_session_answer(ups, "Primary managerial mode on", result, &mut actions)
            }
            Input::Fsd { ups, result } => self.on_fsd_answer(now, ups, result, &mut actions),
            Input::NumLogins { ups, result } => self.on_numlogins(now, ups, result, &mut actions),
            Input::ForceShutdown => {
                if self.before_point_of_no_return() {
                    log(&mut actions, LogLevel::Warning, "Forced shutdown requested by the administrator".to_string());
                    self.start_shutdown(now, ShutdownCause::Requested, &mut actions);
                }
            }
        }
        actions
    }

    /// Whether statuses are still being polled: until the shutdown can no
    /// longer be cancelled.
    fn polling(&self) -> bool {
        matches!(
            self.phase,
            Phase::Monitoring | Phase::ShutdownPending { .. } | Phase::FinalDelay { cancellable: true, .. }
        )
    }

    fn before_point_of_no_return(&self) -> bool {
        self.polling()
    }

    fn next_round_at(&self) -> Duration {
        match self.last_round {
            None => self.now,
            Some(last) => last + self.poll_interval(),
        }
    }

    fn on_tick(&mut self, now: Duration, actions: &mut Vec<Action>) {
        if self.polling() {
            self.recalculate(now, actions);
        }
        match self.phase.clone() {
            Phase::Monitoring | Phase::ShutdownPending { .. } | Phase::Exited => {}
            Phase::ForcingShutdown { since, .. } => {
                if now >= since + self.conf.host_sync {
                    log(actions, LogLevel::Warning, "Host sync timer expired, forcing shutdown".to_string());
                    self.begin_final_delay(now, false, actions);
                }
            }
            Phase::AwaitingSecondaries { since, next_round, .. } => {
                if now >= since + self.conf.host_sync {
                    log(actions, LogLevel::Warning, "Host sync timer expired, forcing shutdown".to_string());
                    self.begin_final_delay(now, false, actions);
                } else if next_round.is_some_and(|at| now >= at) {
                    self.start_numlogins_round(since, actions);
                }
            }
            Phase::FinalDelay { until, .. } => {
                if now >= until {
                    self.run_shutdown(now, actions);
                }
            }
            Phase::ShutdownCommanded { exit_at } => {
                if exit_at.is_some_and(|at| now >= at) {
                    actions.push(Action::Exit);
                    self.phase = Phase::Exited;
                }
            }
        }
        if self.polling() && now >= self.next_round_at() {
            self.last_round = Some(now);
            actions.extend(self.ups_ids().map(|ups| Action::Poll { ups }));
        }
    }

    fn on_status(&mut self, now: Duration, ups: UpsId, text: &str, alarm: Option<String>, actions: &mut Vec<Action>) {
        let settings = &self.conf.notify;
        let rb_warn_time = self.conf.rb_warn_time;
        let Some(tracked) = self.upses.get_mut(ups.0) else { return };
        let system = tracked.monitor.system.text.clone();
        let notify = |actions: &mut Vec<Action>, event: NotifyEvent, detail: Option<&str>| {
            actions.push(Action::Notify(settings.notification(event, Some(&system), detail)));
        };
        if matches!(tracked.link, Link::Lost { .. }) {
            notify(actions, NotifyEvent::CommOk, None);
        }
        tracked.link = Link::Alive;
        tracked.last_poll = now;
        tracked.last_nocomm = None;
        tracked.failures = 0;
        tracked.logged_dead = false;

        let new = Status::parse(text);
        let old = tracked.status.clone().unwrap_or_default();
        if new.online {
            if tracked.was_online == Some(false) {
                notify(actions, NotifyEvent::Online, None);
            }
            tracked.was_online = Some(true);
        }
        if new.on_battery {
            if !old.on_battery {
                notify(actions, NotifyEvent::OnBatt, None);
            }
            tracked.was_online = Some(false);
        }
        if new.low_battery && !old.low_battery {
            notify(actions, NotifyEvent::LowBatt, None);
        }
        if new.forced_shutdown && !tracked.fsd_notified {
            notify(actions, NotifyEvent::Fsd, None);
        }
        tracked.fsd_notified = new.forced_shutdown || (tracked.fsd_notified && old.forced_shutdown);
        if new.replace_battery && tracked.last_replbatt.is_none_or(|last| now >= last + rb_warn_time) {
            notify(actions, NotifyEvent::ReplBatt, None);
            tracked.last_replbatt = Some(now);
        }
        let pairs = [
            (old.calibrating, new.calibrating, NotifyEvent::Cal, NotifyEvent::NotCal),
            (old.off, new.off, NotifyEvent::Off, NotifyEvent::NotOff),
            (old.bypass, new.bypass, NotifyEvent::Bypass, NotifyEvent::NotBypass),
            (old.eco, new.eco, NotifyEvent::Eco, NotifyEvent::NotEco),
            (old.overload, new.overload, NotifyEvent::Over, NotifyEvent::NotOver),
            (old.trim, new.trim, NotifyEvent::Trim, NotifyEvent::NotTrim),
            (old.boost, new.boost, NotifyEvent::Boost, NotifyEvent::NotBoost),
        ];
        for (was, is, set, cleared) in pairs {
            if is && !was {
                notify(actions, set, None);
            } else if was && !is {
                notify(actions, cleared, None);
            }
        }
        let alarm = if new.alarm { Some(alarm.unwrap_or_default()) } else { None };
        if new.alarm && (!old.alarm || alarm != tracked.alarm) {
            notify(actions, NotifyEvent::Alarm, alarm.as_deref());
        } else if old.alarm && !new.alarm {
            notify(actions, NotifyEvent::NotAlarm, None);
        }
        if !new.other.is_empty() && new.other != old.other {
            notify(actions, NotifyEvent::Other, Some(&new.other_tokens()));
        } else if new.other.is_empty() && !old.other.is_empty() {
            notify(actions, NotifyEvent::NotOther, None);
        }

        tracked.on_battery_low_since = since_while(new.on_battery_low(), tracked.on_battery_low_since, now);
        tracked.off_since = since_while(new.off, tracked.off_since, now);
        tracked.overload_since = since_while(new.overload, tracked.overload_since, now);
        if !new.on_battery_low() || new.calibrating || tracked.last_noncritical.is_none() {
            tracked.last_noncritical = Some(now);
        }
        tracked.status = Some(new);
        tracked.alarm = alarm;
    }

    fn on_poll_failure(&mut self, now: Duration, ups: UpsId, failure: Option<PollFailure>, actions: &mut Vec<Action>) {
        let nocomm_warn_time = self.conf.nocomm_warn_time;
        let throttle = self.conf.pollfail_log_throttle_max;
        let settings = &self.conf.notify;
        let Some(tracked) = self.upses.get_mut(ups.0) else { return };
        let system = &tracked.monitor.system;
        tracked.failures += 1;
        let log_this = match throttle {
            ..0 => true,
            0 => tracked.failures == 1,
            every => tracked.failures == 1 || tracked.failures % every.unsigned_abs() == 0,
        };
        if log_this {
            let reason = match failure {
                None => "empty status".to_string(),
                Some(PollFailure::DataStale) => "Data stale".to_string(),
                Some(PollFailure::DriverNotConnected) => "Driver not connected".to_string(),
                Some(PollFailure::UnknownUps) => format!("[{}] does not exist on server {}", system.ups, system.host),
                Some(PollFailure::ConnectionLost(reason)) => format!("connection lost: {reason}"),
                Some(PollFailure::LoginRefused(reason)) => format!("login refused: {reason}"),
                Some(PollFailure::Other(reason)) => reason,
            };
            log(actions, LogLevel::Warning, format!("Poll UPS [{}] failed - {reason}", system.text));
        }
        match tracked.link {
            Link::NeverReached | Link::Alive => {
                actions.push(Action::Notify(settings.notification(NotifyEvent::CommBad, Some(&system.text), None)));
                tracked.link = Link::Lost { since: now };
            }
            Link::Lost { .. } => {
                let silent_long_enough = now >= tracked.last_poll + nocomm_warn_time;
                let not_repeated_too_soon = tracked.last_nocomm.is_none_or(|last| now >= last + nocomm_warn_time);
                if silent_long_enough && not_repeated_too_soon {
                    actions.push(Action::Notify(settings.notification(NotifyEvent::NoComm, Some(&system.text), None)));
                    tracked.last_nocomm = Some(now);
                }
            }
        }
    }

    fn on_session_answer(&mut self, ups: UpsId, what: &str, result: Result<(), String>, actions: &mut Vec<Action>) {
        let Some(tracked) = self.upses.get(ups.0) else { return };
        let system = &tracked.monitor.system.text;
        match result {
            Ok(()) => log(actions, LogLevel::Info, format!("{what} UPS [{system}] succeeded")),
            // upsmon keeps polling after a refusal; the role still comes from the config.
            Err(reason) => log(actions, LogLevel::Error, format!("{what} UPS [{system}] failed: {reason}")),
        }
    }

    fn on_fsd_answer(&mut self, now: Duration, ups: UpsId, result: Result<(), String>, actions: &mut Vec<Action>) {
        let settings = &self.conf.notify;
        let Some(tracked) = self.upses.get_mut(ups.0) else { return };
        match result {
            Ok(()) => {
                if !tracked.fsd_notified {
                    let system = Some(tracked.monitor.system.text.as_str());
                    actions.push(Action::Notify(settings.notification(NotifyEvent::Fsd, system, None)));
                    tracked.fsd_notified = true;
                }
            }
            Err(reason) => {
                let message = format!("FSD set on UPS {} failed: {reason}", tracked.monitor.system.text);
                log(actions, LogLevel::Error, message);
            }
        }
        if let Phase::ForcingShutdown { since, awaiting } = &mut self.phase {
            awaiting.retain(|&waiting| waiting != ups);
            if awaiting.is_empty() {
                let since = *since;
                self.phase = Phase::AwaitingSecondaries {
                    since,
                    awaiting: Vec::new(),
                    most_logins: 0,
                    next_round: None,
                    hostsync_notified: false,
                };
                if now >= since + self.conf.host_sync {
                    log(actions, LogLevel::Warning, "Host sync timer expired, forcing shutdown".to_string());
                    self.begin_final_delay(now, false, actions);
                } else {
                    self.start_numlogins_round(since, actions);
                }
            }
        }
    }

    fn on_numlogins(&mut self, now: Duration, ups: UpsId, result: Result<u32, String>, actions: &mut Vec<Action>) {
        let Phase::AwaitingSecondaries { awaiting, most_logins, next_round, hostsync_notified, .. } = &mut self.phase
        else {
            return;
        };
        if !awaiting.contains(&ups) {
            return;
        }
        awaiting.retain(|&waiting| waiting != ups);
        match result {
            Ok(count) => *most_logins = (*most_logins).max(count),
            // An unanswerable server cannot hold the shutdown back; HOSTSYNC bounds the wait anyway.
            Err(reason) => {
                let system = self.upses.get(ups.0).map_or("?", |tracked| tracked.monitor.system.text.as_str());
                log(actions, LogLevel::Warning, format!("NUMLOGINS of UPS [{system}] failed: {reason}"));
            }
        }
        if !awaiting.is_empty() {
            return;
        }
        if *most_logins <= 1 {
            log(actions, LogLevel::Info, "Secondaries have logged out".to_string());
            self.begin_final_delay(now, false, actions);
            return;
        }
        if !*hostsync_notified {
            *hostsync_notified = true;
            actions.push(Action::Notify(self.conf.notify.notification(NotifyEvent::ShutdownHostsync, None, None)));
        }
        *next_round = Some(now + NUMLOGINS_INTERVAL);
    }

    fn primaries(&self) -> Vec<UpsId> {
        self.ups_ids().filter(|ups| self.upses[ups.0].monitor.role == Role::Primary).collect()
    }

    fn start_numlogins_round(&mut self, since: Duration, actions: &mut Vec<Action>) {
        let primaries = self.primaries();
        actions.extend(primaries.iter().map(|&ups| Action::QueryNumLogins { ups }));
        let hostsync_notified = matches!(self.phase, Phase::AwaitingSecondaries { hostsync_notified: true, .. });
        self.phase = Phase::AwaitingSecondaries {
            since,
            awaiting: primaries,
            most_logins: 0,
            next_round: None,
            hostsync_notified,
        };
    }

    /// Re-evaluates every UPS and the power sum, and moves the phase.
    fn recalculate(&mut self, now: Duration, actions: &mut Vec<Action>) {
        if !self.polling() {
            return;
        }
        let mut firm = 0u64;
        let mut available = 0u64;
        for index in 0..self.upses.len() {
            let criticality = self.assess(&self.upses[index], now);
            let dead = self.is_dead(&self.upses[index], now);
            let tracked = &mut self.upses[index];
            let system = tracked.monitor.system.text.clone();
            if dead && !tracked.logged_dead {
                tracked.logged_dead = true;
                log(actions, LogLevel::Warning, format!("Promoting dead UPS: {system}"));
            }
            let power = u64::from(tracked.monitor.power_value);
            match criticality {
                Criticality::Healthy => {
                    firm += power;
                    available += power;
                }
                Criticality::Pending { .. } => available += power,
                Criticality::Critical(_) => {}
            }
            let critical = matches!(criticality, Criticality::Critical(_));
            if critical != tracked.logged_critical {
                tracked.logged_critical = critical;
                if let Criticality::Critical(reason) = criticality {
                    log(actions, LogLevel::Warning, format!("Critical UPS: {system} ({})", reason.describe()));
                }
            }
        }
        let needed = u64::from(self.conf.min_supplies);
        if available < needed {
            if matches!(self.phase, Phase::Monitoring | Phase::ShutdownPending { .. }) {
                let message = format!("Power supplies below minimum: {available} available, MINSUPPLIES {needed}");
                log(actions, LogLevel::Warning, message);
            }
            self.start_shutdown(now, ShutdownCause::PowerLost, actions);
        } else if firm < needed {
            if self.phase == Phase::Monitoring {
                log(
                    actions,
                    LogLevel::Warning,
                    format!("Shutdown pending: supplies will fall below MINSUPPLIES {needed} unless power recovers"),
                );
            }
            if !matches!(self.phase, Phase::ShutdownPending { .. }) {
                self.phase = Phase::ShutdownPending { since: now };
            }
        } else if self.phase != Phase::Monitoring {
            // Only ShutdownPending and a cancellable FinalDelay reach here.
            actions.push(Action::Notify(self.conf.notify.notification(NotifyEvent::ShutdownCancelled, None, None)));
            self.phase = Phase::Monitoring;
        }
    }

    fn start_shutdown(&mut self, now: Duration, cause: ShutdownCause, actions: &mut Vec<Action>) {
        let primaries = self.primaries();
        if primaries.is_empty() {
            let cancellable = cause == ShutdownCause::PowerLost;
            if let Phase::FinalDelay { cancellable: was_cancellable, .. } = &mut self.phase {
                // Already counting down; a request only makes it final.
                *was_cancellable &= cancellable;
                return;
            }
            self.begin_final_delay(now, cancellable, actions);
            return;
        }
        for &ups in &primaries {
            log(actions, LogLevel::Warning, format!("Setting FSD on UPS {}", self.upses[ups.0].monitor.system.text));
            actions.push(Action::SendFsd { ups });
        }
        self.phase = Phase::ForcingShutdown { since: now, awaiting: primaries };
    }

    fn begin_final_delay(&mut self, now: Duration, cancellable: bool, actions: &mut Vec<Action>) {
        log(actions, LogLevel::Warning, "Executing automatic power-fail shutdown".to_string());
        actions.push(Action::Notify(self.conf.notify.notification(NotifyEvent::Shutdown, None, None)));
        self.phase = Phase::FinalDelay { until: now + self.conf.final_delay, cancellable };
        if self.conf.final_delay.is_zero() {
            self.run_shutdown(now, actions);
        }
    }

    fn run_shutdown(&mut self, now: Duration, actions: &mut Vec<Action>) {
        if !self.primaries().is_empty() {
            if let (Some(path), true) = (&self.conf.powerdown_flag, self.powerdown_flag_enabled) {
                actions.push(Action::WritePowerdownFlag { path: path.clone() });
            }
            // Past the point of no return: a primary got here through FSD, which is never
            // taken back, so no SHUTDOWN_CANCELLED follows a staged late shutdown.
            actions.push(Action::StageLateShutdown);
        }
        match &self.conf.shutdown_cmd {
            Some(command) => actions.push(Action::RunShutdownCmd { command: command.clone() }),
            None => log(actions, LogLevel::Error, "No SHUTDOWNCMD configured: this host cannot shut down".to_string()),
        }
        let exit_at = match self.conf.shutdown_exit {
            ShutdownExit::Immediately => Some(now),
            ShutdownExit::Never => None,
            ShutdownExit::After(delay) => Some(now + delay),
        };
        if exit_at == Some(now) {
            actions.push(Action::Exit);
            self.phase = Phase::Exited;
        } else {
            self.phase = Phase::ShutdownCommanded { exit_at };
        }
    }

    /// Silent for `DEADTIME` with OB as the last status.
    fn is_dead(&self, tracked: &Tracked, now: Duration) -> bool {
        tracked.status.as_ref().is_some_and(|status| status.on_battery)
            && now >= tracked.last_poll + self.conf.dead_time
    }

    /// upsmon's critical-UPS rules, in order.
    fn assess(&self, tracked: &Tracked, now: Duration) -> Criticality {
        let Some(status) = &tracked.status else { return Criticality::Healthy };
        if status.forced_shutdown {
            return Criticality::Critical(CriticalReason::ForcedShutdown);
        }
        if matches!(tracked.link, Link::Lost { .. }) {
            let over_too_long = match (self.conf.over_duration, tracked.overload_since) {
                (Some(limit), Some(since)) => now >= since + limit,
                _ => false,
            };
            if status.overload && over_too_long {
                return Criticality::Critical(CriticalReason::LostWhileOverloaded);
            }
            if status.alarm && self.conf.alarm_critical {
                return Criticality::Critical(CriticalReason::LostWhileAlarmed);
            }
            if status.calibrating {
                return Criticality::Critical(CriticalReason::LostWhileCalibrating);
            }
            if status.bypass {
                return Criticality::Critical(CriticalReason::LostWhileOnBypass);
            }
            if status.off && self.conf.off_duration.is_some() {
                return Criticality::Critical(CriticalReason::LostWhileOff);
            }
        }
        if let (true, Some(limit)) = (status.off, self.conf.off_duration) {
            let until = tracked.off_since.unwrap_or(now) + limit;
            return if now >= until {
                Criticality::Critical(CriticalReason::OffTooLong)
            } else {
                Criticality::Pending { until, reason: CriticalReason::OffTooLong }
            };
        }
        let dead = self.is_dead(tracked, now);
        if !(status.on_battery && (status.low_battery || dead)) || status.calibrating {
            return Criticality::Healthy;
        }
        let reason = if status.low_battery {
            // A brief low-battery reading (self-test, glitch) must last OBLBDURATION.
            let until = tracked.on_battery_low_since.unwrap_or(now) + self.conf.oblb_duration;
            if now < until {
                return Criticality::Pending { until, reason: CriticalReason::OnBatteryLowBattery };
            }
            CriticalReason::OnBatteryLowBattery
        } else {
            CriticalReason::DeadOnBattery
        };
        if tracked.monitor.role == Role::Primary {
            return Criticality::Critical(reason);
        }
        // A secondary gives the primary HOSTSYNC to set FSD first.
        let until = tracked.last_noncritical.unwrap_or(now) + self.conf.host_sync;
        if now >= until { Criticality::Critical(reason) } else { Criticality::Pending { until, reason } }
    }

    /// Times at which this UPS's criticality may change without new input.
    fn deadlines(&self, tracked: &Tracked) -> Vec<Duration> {
        let mut times = Vec::new();
        if let Criticality::Pending { until, .. } = self.assess(tracked, self.now) {
            times.push(until);
        }
        let Some(status) = &tracked.status else { return times };
        if status.on_battery {
            times.push(tracked.last_poll + self.conf.dead_time);
        }
        if let (true, Link::Lost { .. }, Some(limit), Some(since)) =
            (status.overload, tracked.link, self.conf.over_duration, tracked.overload_since)
        {
            times.push(since + limit);
        }
        times
    }
}

/// The start of a condition that holds now: kept while it lasts, `now` when
/// it begins, cleared when it ends.
fn since_while(holds: bool, since: Option<Duration>, now: Duration) -> Option<Duration> {
    if holds { Some(since.unwrap_or(now)) } else { None }
}

fn log(actions: &mut Vec<Action>, level: LogLevel, message: String) {
    actions.push(Action::Log { level, message });
}
