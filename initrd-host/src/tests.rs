use hazel_killpower::{FORMAT_VERSION, PluginRef};

use super::*;

fn args(list: &[&str]) -> Result<Args, String> {
    parse_args(list.iter().map(|s| s.to_string()))
}

#[test]
fn verbs_and_options_parse() {
    let parsed = args(&[]).unwrap();
    assert_eq!((parsed.bundle, parsed.flag, parsed.verb), (PathBuf::from("/run/hazel/killpower"), None, Verb::None));
    let parsed = args(&["--bundle", "/b", "--flag", "/f", "poweroff"]).unwrap();
    assert_eq!((parsed.bundle, parsed.flag, parsed.verb), ("/b".into(), Some("/f".into()), Verb::Poweroff));
    // systemd-shutdown hands the exitrd its verb as the only argument.
    for (word, verb) in [("halt", Verb::Halt), ("reboot", Verb::Reboot), ("kexec", Verb::Reboot)] {
        assert_eq!(args(&[word]).unwrap().verb, verb);
    }
    assert!(args(&["explode"]).unwrap_err().contains("unknown verb"));
    assert!(args(&["none", "halt"]).unwrap_err().contains("unexpected"));
    assert!(args(&["--bundle"]).is_err());
}

fn ups(mode: KillMode, returns: ReturnsWhileOnMains) -> UpsEntry {
    UpsEntry {
        name: "u".into(),
        driver: "nutdrv_qx".into(),
        plugin: PluginRef { file: "megatec.cwasm".into(), sha256: "0".repeat(64) },
        device: DeviceGrant::Serial { path: "/dev/ttyS1".into() },
        settings: Vec::new(),
        kill_mode: mode,
        returns_while_on_mains: returns,
    }
}

fn manifest(wait: u64) -> Manifest {
    Manifest {
        format: FORMAT_VERSION,
        powerdown_flag: "/run/killpower".into(),
        power_race_wait_secs: wait,
        upses: vec![],
    }
}

#[test]
fn a_hook_returns_whatever_happened() {
    let unknown = ups(KillMode::Return, ReturnsWhileOnMains::Unknown);
    assert_eq!(finish(Verb::None, &[&unknown], Some(&manifest(120))), Finish::Return);
    assert_eq!(finish(Verb::None, &[], None), Finish::Return);
}

#[test]
fn nothing_killed_means_the_verb_at_once() {
    assert_eq!(finish(Verb::Poweroff, &[], None), Finish::Perform(Verb::Poweroff));
    assert_eq!(finish(Verb::Halt, &[], Some(&manifest(120))), Finish::Perform(Verb::Halt));
}

#[test]
fn the_power_race_turns_a_halt_into_a_wait_then_a_reboot() {
    let unknown = ups(KillMode::Return, ReturnsWhileOnMains::Unknown);
    let cycles = ups(KillMode::Return, ReturnsWhileOnMains::Yes);
    let ignores = ups(KillMode::Return, ReturnsWhileOnMains::No);
    let wait = Finish::WaitThenReboot(Duration::from_secs(120));
    assert_eq!(finish(Verb::Poweroff, &[&unknown], Some(&manifest(120))), wait);
    assert_eq!(finish(Verb::Halt, &[&cycles, &ignores], Some(&manifest(120))), wait);
    assert_eq!(finish(Verb::Reboot, &[&cycles], Some(&manifest(120))), wait);
    // Every UPS cycles its load whatever the mains does: the verb can stand.
    assert_eq!(finish(Verb::Poweroff, &[&cycles], Some(&manifest(120))), Finish::Perform(Verb::Poweroff));
    // Stay-off leaves the load off for good once cut; mains back means it was never cut: wait.
    let stay_off = ups(KillMode::StayOff, ReturnsWhileOnMains::Yes);
    assert_eq!(finish(Verb::Halt, &[&stay_off], Some(&manifest(120))), wait);
    // No wait configured: the verb as given.
    assert_eq!(finish(Verb::Halt, &[&unknown], Some(&manifest(0))), Finish::Perform(Verb::Halt));
}

#[test]
fn a_usb_hid_device_is_found_as_the_running_system_found_it() {
    let matched = UsbHidDevice {
        port: "auto".into(),
        vendorid: Some("0764".into()),
        product: Some("CP1500.*".into()),
        bus: Some("003".into()),
        ..UsbHidDevice::default()
    };
    let expected = UsbMatch {
        vendorid: Some("0764".into()),
        product: Some("CP1500.*".into()),
        bus: Some("003".into()),
        ..UsbMatch::default()
    };
    assert_eq!(usb_hid_source(&matched), UsbHidSource::Match(expected));
    // A replay wins over any match option.
    let replayed = UsbHidDevice { replay: Some("/data/ups.txt".into()), ..matched };
    assert_eq!(usb_hid_source(&replayed), UsbHidSource::Replay("/data/ups.txt".into()));
}

#[test]
fn the_power_race_log_names_each_ups_and_its_answer() {
    let unknown = ups(KillMode::Return, ReturnsWhileOnMains::Unknown);
    let cycles = UpsEntry { name: "v".into(), ..ups(KillMode::Return, ReturnsWhileOnMains::Yes) };
    assert_eq!(
        power_race_answers(&[&unknown, &cycles]),
        "'u' Return, returns while on mains: Unknown; 'v' Return, returns while on mains: Yes"
    );
}
