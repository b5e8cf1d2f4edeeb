//! State machine tests on a fake clock: time only moves when a test says so.

use super::*;
use crate::upsmon_conf::UpsmonConf;

const A: UpsId = UpsId(0);
const B: UpsId = UpsId(1);

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

fn millis(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// A machine driven by a fake clock.
struct Harness {
    machine: Machine,
    now: Duration,
}

impl Harness {
    fn new(conf: &str) -> Harness {
        let conf = UpsmonConf::parse("upsmon.conf", conf).unwrap();
        Harness { machine: Machine::new(&conf, Duration::ZERO), now: Duration::ZERO }
    }

    fn input(&mut self, input: Input) -> Vec<Action> {
        self.machine.handle(self.now, input)
    }

    fn status(&mut self, ups: UpsId, status: &str) -> Vec<Action> {
        self.input(Input::Poll { ups, result: PollResult::Status { status: status.to_string(), alarm: None } })
    }

    fn alarm(&mut self, ups: UpsId, status: &str, alarm: &str) -> Vec<Action> {
        let result = PollResult::Status { status: status.to_string(), alarm: Some(alarm.to_string()) };
        self.input(Input::Poll { ups, result })
    }

    fn fail(&mut self, ups: UpsId) -> Vec<Action> {
        self.input(Input::Poll { ups, result: PollResult::Failed(PollFailure::DataStale) })
    }

    /// Moves the clock to `until`, ticking at every wake-up on the way.
    fn advance(&mut self, until: Duration) -> Vec<Action> {
        let mut actions = Vec::new();
        for _ in 0..100_000 {
            match self.machine.wake_at() {
                Some(wake) if wake <= until => {
                    self.now = self.now.max(wake);
                    actions.extend(self.machine.handle(self.now, Input::Tick));
                }
                _ => {
                    self.now = until;
                    return actions;
                }
            }
        }
        panic!("the machine keeps asking to be woken before {until:?}");
    }
}

fn events(actions: &[Action]) -> Vec<NotifyEvent> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Notify(note) => Some(note.event),
            _ => None,
        })
        .collect()
}

fn notes(actions: &[Action]) -> Vec<(NotifyEvent, Option<String>, String)> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Notify(note) => Some((note.event, note.ups.clone(), note.message.clone())),
            _ => None,
        })
        .collect()
}

/// Everything but logs and polls: the actions that change the world.
fn effects(actions: &[Action]) -> Vec<Action> {
    actions
        .iter()
        .filter(|action| !matches!(action, Action::Log { .. } | Action::Poll { .. } | Action::Notify(_)))
        .cloned()
        .collect()
}

fn logs(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Log { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

fn polls(actions: &[Action]) -> Vec<UpsId> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Poll { ups } => Some(*ups),
            _ => None,
        })
        .collect()
}

const SHUTDOWN: &str = "SHUTDOWNCMD \"/sbin/shutdown -h +0\"\n";

fn primary() -> String {
    format!("MONITOR ups@localhost 1 monuser pw primary\n{SHUTDOWN}POWERDOWNFLAG /run/killpower\n")
}

fn secondary() -> String {
    format!("MONITOR ups@server 1 monuser pw secondary\n{SHUTDOWN}POWERDOWNFLAG /run/killpower\n")
}

fn run_shutdown_cmd() -> Action {
    Action::RunShutdownCmd { command: "/sbin/shutdown -h +0".to_string() }
}

/// Drives a primary through FSD and an empty NUMLOGINS to `FinalDelay`.
fn primary_to_final_delay(harness: &mut Harness) {
    let actions = harness.input(Input::Fsd { ups: A, result: Ok(()) });
    assert_eq!(effects(&actions), [Action::QueryNumLogins { ups: A }]);
    let actions = harness.input(Input::NumLogins { ups: A, result: Ok(1) });
    assert_eq!(events(&actions), [NotifyEvent::Shutdown]);
    assert!(matches!(harness.machine.phase(), Phase::FinalDelay { cancellable: false, .. }));
}

#[test]
fn polls_start_at_once_and_repeat_at_pollfreq() {
    let mut harness = Harness::new(&format!("{}MONITOR other@h 1 u p secondary\nPOLLFREQ 10\n", primary()));
    assert_eq!(harness.machine.wake_at(), Some(Duration::ZERO));
    assert_eq!(polls(&harness.advance(Duration::ZERO)), [A, B]);
    assert_eq!(harness.machine.wake_at(), Some(secs(10)));
    assert_eq!(polls(&harness.advance(secs(9))), []);
    assert_eq!(polls(&harness.advance(secs(10))), [A, B]);
    assert_eq!(harness.machine.phase(), &Phase::Monitoring);
}

#[test]
fn first_online_is_silent_then_onbatt_and_online_notify() {
    let mut harness = Harness::new(&primary());
    harness.advance(Duration::ZERO);
    assert_eq!(events(&harness.status(A, "OL")), []);
    assert_eq!(harness.machine.link(A), Some(Link::Alive));
    harness.advance(secs(5));
    assert_eq!(
        notes(&harness.status(A, "OB DISCHRG")),
        [(NotifyEvent::OnBatt, Some("ups@localhost".to_string()), "UPS ups@localhost on battery".to_string())]
    );
    harness.advance(secs(10));
    assert_eq!(events(&harness.status(A, "OB DISCHRG")), [], "no repeat while unchanged");
    assert_eq!(events(&harness.status(A, "OL CHRG")), [NotifyEvent::Online]);
    assert_eq!(harness.machine.phase(), &Phase::Monitoring);
}

#[test]
fn pollfreqalert_while_on_battery() {
    let mut harness = Harness::new(&format!("{}POLLFREQ 30\nPOLLFREQALERT 5\nDEADTIME 60\n", primary()));
    harness.advance(Duration::ZERO);
    harness.status(A, "OL");
    assert_eq!(harness.machine.poll_interval(), secs(30));
    assert_eq!(harness.machine.wake_at(), Some(secs(30)));
    harness.advance(secs(1));
    harness.status(A, "OB");
    assert_eq!(harness.machine.poll_interval(), secs(5));
    // The round issued at 0 is followed at 0 + POLLFREQALERT.
    assert_eq!(harness.machine.wake_at(), Some(secs(5)));
    assert_eq!(polls(&harness.advance(secs(5))), [A]);
    harness.status(A, "OL");
    assert_eq!(harness.machine.poll_interval(), secs(30));
    assert_eq!(harness.machine.wake_at(), Some(secs(35)));
}

#[test]
fn ob_lb_then_ol_within_the_debounce_window_does_not_shut_down() {
    let mut harness = Harness::new(&format!("{}OBLBDURATION 10\n", primary()));
    harness.advance(secs(5));
    harness.status(A, "OL");
    harness.advance(secs(10));
    let actions = harness.status(A, "OB LB");
    assert_eq!(events(&actions), [NotifyEvent::OnBatt, NotifyEvent::LowBatt]);
    assert_eq!(effects(&actions), []);
    assert_eq!(harness.machine.phase(), &Phase::ShutdownPending { since: secs(10) });
    assert_eq!(
        harness.machine.criticality(A),
        Some(Criticality::Pending { until: secs(20), reason: CriticalReason::OnBatteryLowBattery })
    );
    let actions = harness.advance(secs(15));
    assert_eq!(effects(&actions), []);
    let actions = harness.status(A, "OL CHRG");
    assert_eq!(
        notes(&actions),
        [
            (NotifyEvent::Online, Some("ups@localhost".to_string()), "UPS ups@localhost on line power".to_string()),
            (
                NotifyEvent::ShutdownCancelled,
                None,
                "Shutdown cancelled: power supplies recovered before the point of no return".to_string()
            ),
        ]
    );
    assert_eq!(harness.machine.phase(), &Phase::Monitoring);
    assert_eq!(effects(&harness.advance(secs(60))), []);
}

#[test]
fn ob_lb_lasting_the_debounce_shuts_down() {
    let mut harness = Harness::new(&format!("{}OBLBDURATION 10\n", primary()));
    harness.advance(secs(10));
    harness.status(A, "OB LB");
    // Still OB+LB when the debounce ends: the wake-up lands on it exactly.
    assert_eq!(harness.machine.wake_at(), Some(secs(15)));
    assert_eq!(effects(&harness.advance(secs(19))), []);
    let actions = harness.advance(secs(20));
    assert_eq!(effects(&actions), [Action::SendFsd { ups: A }]);
    assert!(logs(&actions).contains(&"Critical UPS: ups@localhost (on battery with a low battery)".to_string()));
}

#[test]
fn primary_full_shutdown_sequence_honours_finaldelay() {
    let mut harness = Harness::new(&format!("{}FINALDELAY 5\n", primary()));
    harness.advance(Duration::ZERO);
    harness.status(A, "OL");
    harness.advance(secs(5));
    let actions = harness.status(A, "OB LB");
    assert_eq!(events(&actions), [NotifyEvent::OnBatt, NotifyEvent::LowBatt]);
    assert_eq!(effects(&actions), [Action::SendFsd { ups: A }]);
    assert_eq!(harness.machine.phase(), &Phase::ForcingShutdown { since: secs(5), awaiting: vec![A] });
    // Polling stopped: the shutdown cannot be cancelled any more.
    assert_eq!(polls(&harness.advance(secs(6))), []);

    harness.now = secs(6);
    let actions = harness.input(Input::Fsd { ups: A, result: Ok(()) });
    assert_eq!(
        notes(&actions),
        [(
            NotifyEvent::Fsd,
            Some("ups@localhost".to_string()),
            "UPS ups@localhost: forced shutdown in progress".into()
        )]
    );
    assert_eq!(effects(&actions), [Action::QueryNumLogins { ups: A }]);
    assert!(matches!(harness.machine.phase(), Phase::AwaitingSecondaries { .. }));

    harness.now = millis(6100);
    let actions = harness.input(Input::NumLogins { ups: A, result: Ok(1) });
    assert_eq!(notes(&actions), [(NotifyEvent::Shutdown, None, "Auto logout and shutdown proceeding".to_string())]);
    assert_eq!(effects(&actions), []);
    assert_eq!(harness.machine.phase(), &Phase::FinalDelay { until: millis(11100), cancellable: false });

    assert_eq!(effects(&harness.advance(millis(11099))), []);
    let actions = harness.advance(millis(11100));
    assert_eq!(
        effects(&actions),
        [
            Action::WritePowerdownFlag { path: PathBuf::from("/run/killpower") },
            Action::StageLateShutdown,
            run_shutdown_cmd(),
            Action::Exit,
        ]
    );
    assert_eq!(harness.machine.phase(), &Phase::Exited);
    assert_eq!(harness.machine.wake_at(), None);
    assert_eq!(harness.input(Input::ForceShutdown), []);
    assert_eq!(harness.status(A, "OB LB"), []);
}

#[test]
fn point_of_no_return_is_the_fsd() {
    let mut harness = Harness::new(&primary());
    harness.advance(Duration::ZERO);
    assert_eq!(effects(&harness.status(A, "OB LB")), [Action::SendFsd { ups: A }]);
    // Mains returns right after: too late, the FSD is out.
    assert_eq!(harness.status(A, "OL CHRG"), []);
    primary_to_final_delay(&mut harness);
    let actions = harness.advance(secs(5));
    assert_eq!(effects(&actions)[2..], [run_shutdown_cmd(), Action::Exit]);
    assert!(!events(&actions).contains(&NotifyEvent::ShutdownCancelled));
}

/// The late shutdown is staged past the point of no return only, so no
/// cancellation can ever follow it (the host's stager relies on this: it
/// never unstages on SHUTDOWN_CANCELLED).
#[test]
fn nothing_cancels_a_staged_late_shutdown() {
    // SHUTDOWNEXIT no: the monitor stays, and keeps hearing about the UPS after staging.
    let mut harness = Harness::new(&format!("{}SHUTDOWNEXIT no\n", primary()));
    harness.advance(Duration::ZERO);
    harness.status(A, "OB LB");
    primary_to_final_delay(&mut harness);
    let actions = harness.advance(secs(5));
    assert!(effects(&actions).contains(&Action::StageLateShutdown), "{actions:?}");
    let mut later = harness.status(A, "OL CHRG");
    later.extend(harness.advance(secs(60)));
    later.extend(harness.status(A, "OL"));
    assert!(!events(&later).contains(&NotifyEvent::ShutdownCancelled), "{later:?}");
    assert!(matches!(harness.machine.phase(), Phase::ShutdownCommanded { .. }));

    // A secondary, whose shutdown can be cancelled in its FINALDELAY, never stages at all.
    let mut harness = Harness::new(&format!("{}HOSTSYNC 0\nFINALDELAY 10\n", secondary()));
    harness.advance(Duration::ZERO);
    let mut actions = harness.status(A, "OB LB");
    actions.extend(harness.advance(secs(20)));
    assert!(!effects(&actions).contains(&Action::StageLateShutdown), "{actions:?}");
}

#[test]
fn one_of_two_supplies_critical_with_minsupplies_1() {
    let conf = format!("MONITOR a@h1 1 u p primary\nMONITOR b@h2 1 u p primary\nMINSUPPLIES 1\n{SHUTDOWN}");
    let mut harness = Harness::new(&conf);
    harness.advance(Duration::ZERO);
    harness.status(A, "OL");
    harness.status(B, "OL");
    let actions = harness.status(A, "OB LB");
    assert_eq!(effects(&actions), []);
    assert_eq!(harness.machine.criticality(A), Some(Criticality::Critical(CriticalReason::OnBatteryLowBattery)));
    assert_eq!(harness.machine.phase(), &Phase::Monitoring);
    assert_eq!(effects(&harness.advance(secs(60))), []);
    // Both critical: the sum drops to 0 and FSD goes to every UPS this host is primary for.
    let actions = harness.status(B, "OB LB");
    assert_eq!(effects(&actions), [Action::SendFsd { ups: A }, Action::SendFsd { ups: B }]);
    assert!(logs(&actions).contains(&"Power supplies below minimum: 0 available, MINSUPPLIES 1".to_string()));
}

#[test]
fn two_monitor_lines_are_two_supplies_even_for_look_alike_devices() {
    // Two UPSes of the same model, same name, same readings: still two supplies.
    let conf = format!("MONITOR ups@h1 1 u p secondary\nMONITOR ups@h2 1 u p secondary\nMINSUPPLIES 2\n{SHUTDOWN}");
    let mut harness = Harness::new(&conf);
    harness.advance(Duration::ZERO);
    harness.status(A, "OL");
    harness.status(B, "OL");
    assert_eq!(harness.machine.phase(), &Phase::Monitoring);
    // One of them failing leaves one supply, fewer than the two needed.
    harness.status(B, "OL FSD");
    assert!(matches!(harness.machine.phase(), Phase::FinalDelay { .. }));

    let conf = format!("MONITOR ups@h1 1 u p secondary\nMONITOR ups@h2 1 u p secondary\nMINSUPPLIES 1\n{SHUTDOWN}");
    let mut harness = Harness::new(&conf);
    harness.advance(Duration::ZERO);
    harness.status(A, "OL");
    harness.status(B, "OL FSD");
    assert_eq!(harness.machine.phase(), &Phase::Monitoring, "the other one still feeds the host");
}

#[test]
fn fsd_from_the_server_shuts_a_secondary_down() {
    let mut harness = Harness::new(&secondary());
    harness.advance(Duration::ZERO);
    harness.status(A, "OB");
    let actions = harness.status(A, "FSD OB");
    assert_eq!(events(&actions), [NotifyEvent::Fsd, NotifyEvent::Shutdown]);
    assert_eq!(effects(&actions), [], "a secondary sends no FSD");
    assert_eq!(harness.machine.criticality(A), Some(Criticality::Critical(CriticalReason::ForcedShutdown)));
    assert_eq!(harness.machine.phase(), &Phase::FinalDelay { until: secs(5), cancellable: true });
    // FSD stays latched: the countdown continues.
    harness.advance(secs(3));
    assert_eq!(events(&harness.status(A, "FSD OB")), []);
    let actions = harness.advance(secs(5));
    // A secondary writes no flag and stages no late shutdown.
    assert_eq!(effects(&actions), [run_shutdown_cmd(), Action::Exit]);
}

#[test]
fn ups_dying_on_battery_becomes_critical_after_deadtime() {
    let mut harness = Harness::new(&format!("{}DEADTIME 15\n", primary()));
    harness.advance(Duration::ZERO);
    harness.status(A, "OB");
    harness.advance(secs(5));
    let actions = harness.fail(A);
    assert_eq!(events(&actions), [NotifyEvent::CommBad]);
    assert_eq!(logs(&actions), ["Poll UPS [ups@localhost] failed - Data stale"]);
    assert_eq!(harness.machine.link(A), Some(Link::Lost { since: secs(5) }));
    // OB alone is not one of the "critical if comms lost" conditions.
    assert_eq!(harness.machine.criticality(A), Some(Criticality::Healthy));
    harness.advance(secs(10));
    assert_eq!(effects(&harness.fail(A)), []);
    assert_eq!(effects(&harness.advance(millis(14999))), []);
    // No poll result needed: the wake-up at DEADTIME decides.
    let actions = harness.advance(secs(15));
    assert_eq!(effects(&actions), [Action::SendFsd { ups: A }]);
    let logged = logs(&actions);
    assert!(logged.contains(&"Promoting dead UPS: ups@localhost".to_string()), "{logged:?}");
    assert!(logged.contains(&"Critical UPS: ups@localhost (no answer for DEADTIME while on battery)".to_string()));
}

#[test]
fn ups_dying_on_line_is_not_critical() {
    let mut harness = Harness::new(&primary());
    harness.advance(Duration::ZERO);
    harness.status(A, "OL");
    harness.advance(secs(5));
    harness.fail(A);
    harness.advance(secs(600));
    assert_eq!(harness.machine.criticality(A), Some(Criticality::Healthy));
    assert_eq!(harness.machine.phase(), &Phase::Monitoring);
}

#[test]
fn secondary_that_never_logs_out_is_waited_for_hostsync_only() {
    let mut harness = Harness::new(&format!("{}HOSTSYNC 15\n", primary()));
    harness.advance(secs(2));
    assert_eq!(effects(&harness.status(A, "OB LB")), [Action::SendFsd { ups: A }]);
    harness.now = secs(3);
    assert_eq!(effects(&harness.input(Input::Fsd { ups: A, result: Ok(()) })), [Action::QueryNumLogins { ups: A }]);
    let actions = harness.input(Input::NumLogins { ups: A, result: Ok(2) });
    assert_eq!(
        notes(&actions),
        [(
            NotifyEvent::ShutdownHostsync,
            None,
            "Waiting for secondary systems to log out before shutting down".to_string()
        )]
    );
    // Ask again every 250 ms; notify only once.
    let mut rounds = 0;
    let actions = loop {
        let actions = harness.advance(harness.machine.wake_at().unwrap());
        if effects(&actions) != [Action::QueryNumLogins { ups: A }] {
            break actions;
        }
        rounds += 1;
        assert_eq!(events(&harness.input(Input::NumLogins { ups: A, result: Ok(2) })), []);
    };
    // Every 250 ms from 3.25 s until HOSTSYNC after the FSD sent at 2 s.
    assert_eq!(rounds, 55);
    assert_eq!(harness.now, secs(17));
    assert!(logs(&actions).contains(&"Host sync timer expired, forcing shutdown".to_string()));
    assert_eq!(events(&actions), [NotifyEvent::Shutdown]);
    assert_eq!(harness.machine.phase(), &Phase::FinalDelay { until: secs(22), cancellable: false });
}

#[test]
fn primary_proceeds_as_soon_as_numlogins_drops_to_one() {
    let conf = format!(
        "MONITOR a@h1 1 u p primary\nMONITOR b@h2 1 u p primary\nMONITOR c@h3 1 u p secondary\n{SHUTDOWN}MINSUPPLIES 3\n"
    );
    let mut harness = Harness::new(&conf);
    harness.advance(Duration::ZERO);
    assert_eq!(effects(&harness.status(A, "OB LB")), [Action::SendFsd { ups: A }, Action::SendFsd { ups: B }]);
    harness.input(Input::Fsd { ups: B, result: Ok(()) });
    assert!(matches!(harness.machine.phase(), Phase::ForcingShutdown { .. }));
    let actions = harness.input(Input::Fsd { ups: A, result: Ok(()) });
    assert_eq!(effects(&actions), [Action::QueryNumLogins { ups: A }, Action::QueryNumLogins { ups: B }]);
    // The largest answer of a round counts.
    harness.input(Input::NumLogins { ups: A, result: Ok(1) });
    assert_eq!(events(&harness.input(Input::NumLogins { ups: B, result: Ok(3) })), [NotifyEvent::ShutdownHostsync]);
    harness.advance(millis(250));
    harness.input(Input::NumLogins { ups: B, result: Ok(1) });
    assert!(matches!(harness.machine.phase(), Phase::AwaitingSecondaries { .. }), "A has not answered yet");
    // A failed answer does not hold the shutdown back.
    let actions = harness.input(Input::NumLogins { ups: A, result: Err("ERR DATA-STALE".to_string()) });
    assert_eq!(events(&actions), [NotifyEvent::Shutdown]);
    // Answers outside the waiting phase are ignored.
    assert_eq!(harness.input(Input::NumLogins { ups: A, result: Ok(5) }), []);
}

#[test]
fn refused_or_unanswered_fsd_does_not_stop_the_shutdown() {
    let mut harness = Harness::new(&primary());
    harness.advance(Duration::ZERO);
    harness.status(A, "OB LB");
    let actions = harness.input(Input::Fsd { ups: A, result: Err("ACCESS-DENIED".to_string()) });
    assert_eq!(logs(&actions), ["FSD set on UPS ups@localhost failed: ACCESS-DENIED"]);
    assert_eq!(events(&actions), []);
    assert_eq!(effects(&actions), [Action::QueryNumLogins { ups: A }]);

    let mut harness = Harness::new(&primary());
    harness.advance(secs(1));
    harness.status(A, "OB LB");
    assert_eq!(harness.machine.wake_at(), Some(secs(16)));
    let actions = harness.advance(secs(16));
    assert!(logs(&actions).contains(&"Host sync timer expired, forcing shutdown".to_string()));
    assert_eq!(events(&actions), [NotifyEvent::Shutdown]);
    // A late answer still announces the FSD, once.
    assert_eq!(events(&harness.input(Input::Fsd { ups: A, result: Ok(()) })), [NotifyEvent::Fsd]);
    assert_eq!(events(&harness.input(Input::Fsd { ups: A, result: Ok(()) })), []);
}

#[test]
fn commbad_then_nocomm_after_nocommwarntime_then_commok() {
    let mut harness = Harness::new(&format!("{}NOCOMMWARNTIME 60\n", primary()));
    harness.advance(Duration::ZERO);
    harness.status(A, "OL");
    let mut nocomm_at = Vec::new();
    for second in (5..=200).step_by(5) {
        harness.advance(secs(second));
        let actions = harness.fail(A);
        let events = events(&actions);
        if second == 5 {
            assert_eq!(events, [NotifyEvent::CommBad]);
        } else if events == [NotifyEvent::NoComm] {
            nocomm_at.push(second);
        } else {
            assert_eq!(events, [], "at {second}");
        }
    }
    // Silent since the good poll at 0: NOCOMM at 60, then at most every 60 s.
    assert_eq!(nocomm_at, [60, 120, 180]);
    harness.advance(secs(205));
    let actions = harness.status(A, "OL");
    assert_eq!(
        notes(&actions),
        [(
            NotifyEvent::CommOk,
            Some("ups@localhost".into()),
            "Communications with UPS ups@localhost established".into()
        )]
    );
    assert_eq!(harness.machine.link(A), Some(Link::Alive));
    // A new outage starts over with COMMBAD.
    harness.advance(secs(210));
    assert_eq!(events(&harness.fail(A)), [NotifyEvent::CommBad]);
}

#[test]
fn a_ups_never_reached_gets_commbad_then_commok() {
    let mut harness = Harness::new(&primary());
    harness.advance(Duration::ZERO);
    let actions = harness.input(Input::Poll {
        ups: A,
        result: PollResult::Failed(PollFailure::ConnectionLost("connection refused".to_string())),
    });
    assert_eq!(events(&actions), [NotifyEvent::CommBad]);
    assert_eq!(logs(&actions), ["Poll UPS [ups@localhost] failed - connection lost: connection refused"]);
    // Never heard from: counts as healthy, no shutdown.
    assert_eq!(harness.machine.criticality(A), Some(Criticality::Healthy));
    harness.advance(secs(5));
    assert_eq!(events(&harness.status(A, "OL")), [NotifyEvent::CommOk]);
}

#[test]
fn poll_failures_are_logged_per_throttle() {
    let mut harness = Harness::new(&format!("{}POLLFAIL_LOG_THROTTLE_MAX 3\n", primary()));
    let mut logged = Vec::new();
    for attempt in 1..=7 {
        let result = match attempt {
            1 => PollFailure::UnknownUps,
            2 => PollFailure::DriverNotConnected,
            3 => PollFailure::LoginRefused("ACCESS-DENIED".into()),
            _ => PollFailure::Other("timeout".into()),
        };
        let actions = harness.input(Input::Poll { ups: A, result: PollResult::Failed(result) });
        logged.extend(logs(&actions));
    }
    assert_eq!(
        logged,
        [
            "Poll UPS [ups@localhost] failed - [ups] does not exist on server localhost",
            "Poll UPS [ups@localhost] failed - login refused: ACCESS-DENIED",
            "Poll UPS [ups@localhost] failed - timeout",
        ]
    );
    let mut harness = Harness::new(&format!("{}POLLFAIL_LOG_THROTTLE_MAX 0\n", primary()));
    let count: usize = (0..5).map(|_| logs(&harness.fail(A)).len()).sum();
    assert_eq!(count, 1, "0 logs only the change of state");
}

#[test]
fn empty_status_counts_as_a_failure() {
    let mut harness = Harness::new(&primary());
    harness.status(A, "OL");
    let actions = harness.status(A, "  ");
    assert_eq!(events(&actions), [NotifyEvent::CommBad]);
    assert_eq!(logs(&actions), ["Poll UPS [ups@localhost] failed - empty status"]);
}

#[test]
fn replbatt_is_throttled_by_rbwarntime() {
    let mut harness = Harness::new(&format!("{}RBWARNTIME 100\n", primary()));
    let mut warned_at = Vec::new();
    for second in (0..=250).step_by(10) {
        harness.advance(secs(second));
        if events(&harness.status(A, "OL RB")) == [NotifyEvent::ReplBatt] {
            warned_at.push(second);
        }
    }
    assert_eq!(warned_at, [0, 100, 200]);
    assert_eq!(
        harness.machine.monitor(A).map(|monitor| monitor.system.text.as_str()),
        Some("ups@localhost"),
        "REPLBATT is per UPS"
    );
}

#[test]
fn calibration_on_battery_low_is_not_critical() {
    let mut harness = Harness::new(&primary());
    harness.advance(Duration::ZERO);
    let actions = harness.status(A, "CAL OB LB");
    assert_eq!(events(&actions), [NotifyEvent::OnBatt, NotifyEvent::LowBatt, NotifyEvent::Cal]);
    assert_eq!(effects(&actions), []);
    assert_eq!(harness.machine.criticality(A), Some(Criticality::Healthy));
    harness.advance(secs(60));
    assert_eq!(harness.machine.phase(), &Phase::Monitoring);
    // Calibration ends with the battery still low: now it counts.
    let actions = harness.status(A, "OB LB");
    assert_eq!(events(&actions), [NotifyEvent::NotCal]);
    assert_eq!(effects(&actions), [Action::SendFsd { ups: A }]);
}

#[test]
fn off_past_offduration_is_critical() {
    let mut harness = Harness::new(&format!("{}OFFDURATION 30\n", primary()));
    harness.advance(secs(10));
    let actions = harness.status(A, "OFF");
    assert_eq!(events(&actions), [NotifyEvent::Off]);
    assert_eq!(
        harness.machine.criticality(A),
        Some(Criticality::Pending { until: secs(40), reason: CriticalReason::OffTooLong })
    );
    assert_eq!(harness.machine.phase(), &Phase::ShutdownPending { since: secs(10) });
    harness.advance(secs(20));
    harness.status(A, "OFF");
    assert_eq!(effects(&harness.advance(millis(39999))), []);
    assert_eq!(effects(&harness.advance(secs(40))), [Action::SendFsd { ups: A }]);

    // Back on before OFFDURATION: cancelled.
    let mut harness = Harness::new(&format!("{}OFFDURATION 30\n", primary()));
    harness.status(A, "OFF");
    harness.advance(secs(20));
    let actions = harness.status(A, "OL");
    assert_eq!(events(&actions), [NotifyEvent::NotOff, NotifyEvent::ShutdownCancelled]);

    // OFFDURATION 0: at once; negative: never.
    let mut harness = Harness::new(&format!("{}OFFDURATION 0\n", primary()));
    assert_eq!(effects(&harness.status(A, "OFF")), [Action::SendFsd { ups: A }]);
    let mut harness = Harness::new(&format!("{}OFFDURATION -1\n", primary()));
    harness.status(A, "OFF");
    harness.advance(secs(3600));
    assert_eq!(harness.machine.phase(), &Phase::Monitoring);
    harness.fail(A);
    assert_eq!(harness.machine.criticality(A), Some(Criticality::Healthy), "not even when comms are lost");
}

#[test]
fn comms_lost_while_bypass_cal_alarm_off_is_critical() {
    for (status, reason, before) in [
        ("OL BYPASS", CriticalReason::LostWhileOnBypass, Phase::Monitoring),
        ("OL CAL", CriticalReason::LostWhileCalibrating, Phase::Monitoring),
        ("OL ALARM", CriticalReason::LostWhileAlarmed, Phase::Monitoring),
        // OFF already counts down OFFDURATION; losing the link ends the wait.
        ("OFF", CriticalReason::LostWhileOff, Phase::ShutdownPending { since: Duration::ZERO }),
    ] {
        let mut harness = Harness::new(&primary());
        harness.advance(Duration::ZERO);
        harness.status(A, status);
        assert_eq!(harness.machine.phase(), &before, "{status}");
        harness.advance(secs(5));
        let actions = harness.fail(A);
        assert_eq!(effects(&actions), [Action::SendFsd { ups: A }], "{status}");
        assert_eq!(harness.machine.criticality(A), Some(Criticality::Critical(reason)));
    }
    // Not with ALARMCRITICAL 0, and never for TRIM/BOOST/OVER without OVERDURATION.
    for (conf, status) in [("ALARMCRITICAL 0\n", "OL ALARM"), ("", "OL TRIM"), ("", "OL BOOST"), ("", "OL OVER")] {
        let mut harness = Harness::new(&format!("{}{conf}", primary()));
        harness.status(A, status);
        harness.advance(secs(5));
        assert_eq!(effects(&harness.fail(A)), [], "{status}");
        assert_eq!(effects(&harness.advance(secs(600))), [], "{status}");
    }
}

#[test]
fn comms_lost_while_overloaded_is_critical_after_overduration() {
    let mut harness = Harness::new(&format!("{}OVERDURATION 20\n", primary()));
    harness.advance(secs(10));
    harness.status(A, "OL OVER");
    harness.advance(secs(15));
    assert_eq!(effects(&harness.fail(A)), []);
    assert_eq!(effects(&harness.advance(millis(29999))), []);
    let actions = harness.advance(secs(30));
    assert_eq!(effects(&actions), [Action::SendFsd { ups: A }]);
    assert!(logs(&actions).contains(&"Critical UPS: ups@localhost (communication lost while overloaded)".to_string()));
}

#[test]
fn secondary_is_critical_only_hostsync_after_last_noncritical() {
    let mut harness = Harness::new(&format!("{}HOSTSYNC 15\n", secondary()));
    harness.advance(Duration::ZERO);
    harness.status(A, "OB");
    harness.advance(secs(5));
    harness.status(A, "OB");
    // Last non-critical reading at 5 s.
    harness.advance(secs(10));
    assert_eq!(effects(&harness.status(A, "OB LB")), []);
    assert_eq!(
        harness.machine.criticality(A),
        Some(Criticality::Pending { until: secs(20), reason: CriticalReason::OnBatteryLowBattery })
    );
    assert_eq!(harness.machine.phase(), &Phase::ShutdownPending { since: secs(10) });
    harness.advance(secs(15));
    assert_eq!(events(&harness.status(A, "OB LB")), []);
    assert_eq!(events(&harness.advance(millis(19999))), []);
    let actions = harness.advance(secs(20));
    assert_eq!(events(&actions), [NotifyEvent::Shutdown]);
    assert_eq!(harness.machine.phase(), &Phase::FinalDelay { until: secs(25), cancellable: true });
}

#[test]
fn secondary_final_delay_is_cancelled_when_power_returns() {
    let mut harness = Harness::new(&format!("{}HOSTSYNC 0\nFINALDELAY 10\n", secondary()));
    harness.advance(Duration::ZERO);
    assert_eq!(events(&harness.status(A, "OB LB")), [NotifyEvent::OnBatt, NotifyEvent::LowBatt, NotifyEvent::Shutdown]);
    assert_eq!(harness.machine.phase(), &Phase::FinalDelay { until: secs(10), cancellable: true });
    // Polling goes on during a cancellable final delay.
    assert_eq!(polls(&harness.advance(secs(5))), [A]);
    let actions = harness.status(A, "OL CHRG");
    assert_eq!(events(&actions), [NotifyEvent::Online, NotifyEvent::ShutdownCancelled]);
    assert_eq!(harness.machine.phase(), &Phase::Monitoring);
    assert_eq!(effects(&harness.advance(secs(60))), []);
}

#[test]
fn manual_fsd_request() {
    // A secondary-only host goes straight to a final delay that recovery cannot cancel.
    let mut harness = Harness::new(&secondary());
    harness.status(A, "OL");
    let actions = harness.input(Input::ForceShutdown);
    assert_eq!(logs(&actions)[0], "Forced shutdown requested by the administrator");
    assert_eq!(events(&actions), [NotifyEvent::Shutdown]);
    assert_eq!(harness.machine.phase(), &Phase::FinalDelay { until: secs(5), cancellable: false });
    assert_eq!(effects(&harness.advance(secs(5))), [run_shutdown_cmd(), Action::Exit]);

    // A primary sets FSD first.
    let mut harness = Harness::new(&primary());
    harness.status(A, "OL");
    assert_eq!(effects(&harness.input(Input::ForceShutdown)), [Action::SendFsd { ups: A }]);
    assert_eq!(harness.input(Input::ForceShutdown), [], "already past the point of no return");

    // A request during a secondary's cancellable countdown makes it final.
    let mut harness = Harness::new(&format!("{}HOSTSYNC 0\n", secondary()));
    harness.status(A, "OB LB");
    harness.input(Input::ForceShutdown);
    assert_eq!(harness.machine.phase(), &Phase::FinalDelay { until: secs(5), cancellable: false });
    assert_eq!(harness.status(A, "OL"), [], "past the point of no return, polls are not even read");
    assert_eq!(harness.machine.phase(), &Phase::FinalDelay { until: secs(5), cancellable: false });
}

#[test]
fn minsupplies_0_never_shuts_down() {
    let mut harness = Harness::new("MONITOR ups@h 1 u p primary\nMINSUPPLIES 0\n");
    harness.advance(Duration::ZERO);
    let actions = harness.status(A, "OB LB FSD");
    assert_eq!(events(&actions), [NotifyEvent::OnBatt, NotifyEvent::LowBatt, NotifyEvent::Fsd]);
    assert_eq!(effects(&actions), []);
    harness.fail(A);
    harness.advance(secs(3600));
    assert_eq!(harness.machine.phase(), &Phase::Monitoring);
}

#[test]
fn zero_power_value_ups_is_ignored_in_the_sum() {
    let conf = format!("MONITOR feeds@h1 1 u p secondary\nMONITOR watched@h2 0 u p secondary\n{SHUTDOWN}");
    let mut harness = Harness::new(&conf);
    harness.advance(Duration::ZERO);
    harness.status(A, "OL");
    let actions = harness.status(B, "OB LB FSD");
    assert_eq!(events(&actions), [NotifyEvent::OnBatt, NotifyEvent::LowBatt, NotifyEvent::Fsd], "still monitored");
    assert_eq!(harness.machine.criticality(B), Some(Criticality::Critical(CriticalReason::ForcedShutdown)));
    assert_eq!(harness.machine.phase(), &Phase::Monitoring);
    assert_eq!(
        events(&harness.status(A, "OB LB FSD")),
        [NotifyEvent::OnBatt, NotifyEvent::LowBatt, NotifyEvent::Fsd, NotifyEvent::Shutdown]
    );
}

#[test]
fn finaldelay_zero_runs_the_command_at_once() {
    let mut harness = Harness::new(&format!("{}FINALDELAY 0\n", secondary()));
    let actions = harness.status(A, "OB LB FSD");
    assert_eq!(effects(&actions), [run_shutdown_cmd(), Action::Exit]);
}

#[test]
fn shutdownexit_never_and_after() {
    let mut harness = Harness::new(&format!("{}SHUTDOWNEXIT no\n", secondary()));
    harness.status(A, "FSD");
    assert_eq!(effects(&harness.advance(secs(5))), [run_shutdown_cmd()]);
    assert_eq!(harness.machine.phase(), &Phase::ShutdownCommanded { exit_at: None });
    assert_eq!(harness.machine.wake_at(), None);

    let mut harness = Harness::new(&format!("{}SHUTDOWNEXIT 30\n", secondary()));
    harness.status(A, "FSD");
    assert_eq!(effects(&harness.advance(secs(5))), [run_shutdown_cmd()]);
    assert_eq!(effects(&harness.advance(millis(34999))), []);
    assert_eq!(effects(&harness.advance(secs(35))), [Action::Exit]);
    assert_eq!(harness.machine.phase(), &Phase::Exited);
}

#[test]
fn powerdown_flag_only_when_configured_and_not_disabled() {
    let mut harness = Harness::new(&primary());
    harness.machine.disable_powerdown_flag();
    harness.status(A, "OB LB");
    primary_to_final_delay(&mut harness);
    assert_eq!(effects(&harness.advance(secs(5))), [Action::StageLateShutdown, run_shutdown_cmd(), Action::Exit]);

    let mut harness = Harness::new(&format!("MONITOR ups 1 u p primary\n{SHUTDOWN}"));
    harness.status(A, "OB LB");
    primary_to_final_delay(&mut harness);
    assert_eq!(effects(&harness.advance(secs(5))), [Action::StageLateShutdown, run_shutdown_cmd(), Action::Exit]);
}

#[test]
fn missing_shutdowncmd_is_logged_and_the_monitor_still_exits() {
    let mut harness = Harness::new("MONITOR ups 1 u p secondary\n");
    harness.status(A, "FSD");
    let actions = harness.advance(secs(5));
    assert_eq!(effects(&actions), [Action::Exit]);
    assert!(logs(&actions).contains(&"No SHUTDOWNCMD configured: this host cannot shut down".to_string()));
}

#[test]
fn status_change_notifications() {
    let mut harness = Harness::new(&format!("{}OFFDURATION -1\n", primary()));
    harness.advance(Duration::ZERO);
    assert_eq!(events(&harness.status(A, "OL")), []);
    let steps: [(&str, &[NotifyEvent]); 12] = [
        ("OL CAL", &[NotifyEvent::Cal]),
        ("OL", &[NotifyEvent::NotCal]),
        ("OFF", &[NotifyEvent::Off]),
        ("OL", &[NotifyEvent::NotOff]),
        ("OL BYPASS ECO", &[NotifyEvent::Bypass, NotifyEvent::Eco]),
        ("OL", &[NotifyEvent::NotBypass, NotifyEvent::NotEco]),
        ("OL OVER TRIM", &[NotifyEvent::Over, NotifyEvent::Trim]),
        ("OL BOOST", &[NotifyEvent::NotOver, NotifyEvent::NotTrim, NotifyEvent::Boost]),
        ("OL", &[NotifyEvent::NotBoost]),
        ("OL WAIT", &[NotifyEvent::Other]),
        ("OL WAIT", &[]),
        ("OL", &[NotifyEvent::NotOther]),
    ];
    for (status, expected) in steps {
        assert_eq!(events(&harness.status(A, status)), expected, "{status}");
    }
    assert_eq!(
        notes(&harness.status(A, "OL WAIT VENDOR")),
        [(
            NotifyEvent::Other,
            Some("ups@localhost".into()),
            "UPS ups@localhost: has at least one unclassified status token: [WAIT VENDOR]".into()
        )]
    );
    harness.status(A, "OL");
    assert_eq!(
        notes(&harness.alarm(A, "ALARM OL", "Fan failure")),
        [(
            NotifyEvent::Alarm,
            Some("ups@localhost".into()),
            "UPS ups@localhost: one or more active alarms: [Fan failure]".into()
        )]
    );
    assert_eq!(events(&harness.alarm(A, "ALARM OL", "Fan failure")), []);
    assert_eq!(events(&harness.alarm(A, "ALARM OL", "Fan failure, Overheat")), [NotifyEvent::Alarm]);
    assert_eq!(events(&harness.status(A, "OL")), [NotifyEvent::NotAlarm]);
    // LB only notifies when it appears.
    assert_eq!(events(&harness.status(A, "OL LB")), [NotifyEvent::LowBatt]);
    assert_eq!(events(&harness.status(A, "OL LB")), []);
}

#[test]
fn notify_settings_shape_the_notifications() {
    let conf = format!(
        "{}NOTIFYMSG ONBATT \"%s lost mains (100%%)\"\nNOTIFYFLAG ONBATT EXEC\nNOTIFYCMD /bin/notify\n",
        primary()
    );
    let mut harness = Harness::new(&conf);
    let actions = harness.status(A, "OB");
    let Some(Action::Notify(note)) = actions.iter().find(|action| matches!(action, Action::Notify(_))) else {
        panic!("no notification in {actions:?}")
    };
    assert_eq!(note.message, "ups@localhost lost mains (100%)");
    assert!(note.flags.execs() && !note.flags.logs());
}

#[test]
fn login_and_primary_answers_are_logged_and_polling_continues() {
    let mut harness = Harness::new(&primary());
    harness.advance(Duration::ZERO);
    assert_eq!(
        logs(&harness.input(Input::Login { ups: A, result: Ok(()) })),
        ["Login to UPS [ups@localhost] succeeded"]
    );
    let actions = harness.input(Input::Primary { ups: A, result: Err("ACCESS-DENIED".into()) });
    assert_eq!(logs(&actions), ["Primary managerial mode on UPS [ups@localhost] failed: ACCESS-DENIED"]);
    assert_eq!(polls(&harness.advance(secs(5))), [A]);
    // Unknown UPS ids are ignored, never a panic.
    assert_eq!(harness.input(Input::Login { ups: UpsId(9), result: Ok(()) }), []);
    assert_eq!(harness.status(UpsId(9), "OB LB"), []);
    assert_eq!(harness.input(Input::Fsd { ups: UpsId(9), result: Ok(()) }), []);
    assert_eq!(harness.machine.criticality(UpsId(9)), None);
}

#[test]
fn time_never_runs_backwards() {
    let mut harness = Harness::new(&format!("{}OBLBDURATION 10\n", primary()));
    harness.now = secs(100);
    harness.status(A, "OB LB");
    // An input stamped earlier is taken as happening at the latest time seen.
    harness.now = secs(50);
    harness.status(A, "OB LB");
    assert_eq!(
        harness.machine.criticality(A),
        Some(Criticality::Pending { until: secs(110), reason: CriticalReason::OnBatteryLowBattery })
    );
}

#[test]
fn secondary_final_delay_falls_back_to_pending_then_cancels() {
    let mut harness = Harness::new(&format!("{}HOSTSYNC 0\nFINALDELAY 10\nOFFDURATION 30\n", secondary()));
    harness.status(A, "OB LB");
    assert_eq!(harness.machine.phase(), &Phase::FinalDelay { until: secs(10), cancellable: true });
    // No longer critical, but a debounce (OFFDURATION) is running: back to pending, not yet cancelled.
    harness.now = secs(2);
    let actions = harness.status(A, "OFF");
    assert_eq!(events(&actions), [NotifyEvent::Off]);
    assert_eq!(harness.machine.phase(), &Phase::ShutdownPending { since: secs(2) });
    assert_eq!(effects(&harness.advance(secs(10))), [], "the final delay no longer runs");
    let actions = harness.status(A, "OL");
    assert_eq!(events(&actions), [NotifyEvent::Online, NotifyEvent::NotOff, NotifyEvent::ShutdownCancelled]);
    assert_eq!(harness.machine.phase(), &Phase::Monitoring);
}

#[test]
fn fsd_answered_after_hostsync_goes_straight_to_the_final_delay() {
    let mut harness = Harness::new(&format!("{}HOSTSYNC 15\n", primary()));
    harness.status(A, "OB LB");
    // The answer arrives late, before any tick: no NUMLOGINS round is started.
    harness.now = secs(20);
    let actions = harness.input(Input::Fsd { ups: A, result: Ok(()) });
    assert_eq!(events(&actions), [NotifyEvent::Fsd, NotifyEvent::Shutdown]);
    assert_eq!(effects(&actions), []);
    assert!(logs(&actions).contains(&"Host sync timer expired, forcing shutdown".to_string()));
    assert_eq!(harness.machine.phase(), &Phase::FinalDelay { until: secs(25), cancellable: false });
}
