use std::os::unix::fs::PermissionsExt;

use super::*;

const BOOT: &str = "0b7e4d8a-1c2f-4b7e-9a51-3d6f0e2c8b11";
const PLUGIN: &[u8] = b"pretend precompiled code";

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    flag: PathBuf,
    manifest: Manifest,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run/hazel/killpower");
    let flag = tmp.path().join("killpower");
    let manifest = Manifest {
        format: FORMAT_VERSION,
        powerdown_flag: flag.clone(),
        power_race_wait_secs: 90,
        upses: vec![UpsEntry {
            name: "rack".into(),
            driver: "nutdrv_qx".into(),
            plugin: PluginRef { file: "megatec.cwasm".into(), sha256: sha256_hex(PLUGIN) },
            device: DeviceGrant::Serial { path: "/dev/ttyS0".into() },
            settings: vec![
                Setting { key: "port".into(), value: Some("/dev/ttyS0".into()) },
                Setting { key: "offdelay".into(), value: Some("12".into()) },
                Setting { key: "novendor".into(), value: None },
            ],
            kill_mode: KillMode::Return,
            returns_while_on_mains: ReturnsWhileOnMains::Unknown,
        }],
    };
    Fixture { _tmp: tmp, dir, flag, manifest }
}

fn plugins() -> Vec<PluginFile> {
    vec![PluginFile { file: "megatec.cwasm".into(), bytes: PLUGIN.to_vec() }]
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_staged_bundle_reads_back_with_private_modes_and_no_temporary_files() {
    let f = fixture();
    powerdown_flag::write(&f.flag).unwrap();
    stage(&f.dir, &f.manifest, &plugins(), BOOT).unwrap();

    let bundle = Bundle::load(&f.dir, BOOT, None).unwrap();
    assert_eq!(bundle.manifest(), &f.manifest);
    assert_eq!(bundle.intent().boot_id, BOOT);
    assert_eq!(bundle.read_plugin(&f.manifest.upses[0]).unwrap(), PLUGIN);

    assert_eq!(mode(&f.dir), 0o700);
    assert_eq!(mode(&f.dir.join(PLUGIN_DIR)), 0o700);
    for file in [MANIFEST_FILE, INTENT_FILE, "plugins/megatec.cwasm"] {
        assert_eq!(mode(&f.dir.join(file)), 0o600, "{file}");
    }
    let mut names: Vec<String> =
        fs::read_dir(&f.dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, [MANIFEST_FILE, INTENT_FILE, PLUGIN_DIR]);
}

#[test]
fn restaging_replaces_the_bundle_and_a_loose_directory_is_narrowed() {
    let f = fixture();
    fs::create_dir_all(&f.dir).unwrap();
    fs::set_permissions(&f.dir, fs::Permissions::from_mode(0o755)).unwrap();
    stage(&f.dir, &f.manifest, &plugins(), "an-older-boot").unwrap();
    assert_eq!(mode(&f.dir), 0o700);
    stage(&f.dir, &f.manifest, &plugins(), BOOT).unwrap();
    powerdown_flag::write(&f.flag).unwrap();
    assert_eq!(Bundle::load(&f.dir, BOOT, None).unwrap().intent().boot_id, BOOT);
}

#[test]
fn an_intent_from_another_boot_is_refused() {
    let f = fixture();
    powerdown_flag::write(&f.flag).unwrap();
    stage(&f.dir, &f.manifest, &plugins(), "an-earlier-boot").unwrap();
    let error = Bundle::load(&f.dir, BOOT, None).unwrap_err();
    assert!(
        matches!(&error, BundleError::OtherBoot { staged, current, .. } if staged == "an-earlier-boot" && current == BOOT)
    );
    assert!(error.to_string().contains("a leftover from an earlier boot"), "{error}");
}

#[test]
fn a_missing_or_foreign_flag_is_refused() {
    let f = fixture();
    stage(&f.dir, &f.manifest, &plugins(), BOOT).unwrap();
    let error = Bundle::load(&f.dir, BOOT, None).unwrap_err();
    assert!(matches!(&error, BundleError::FlagNotSet { reason, .. } if reason == "absent"), "{error}");

    fs::write(&f.flag, "something else\n").unwrap();
    let error = Bundle::load(&f.dir, BOOT, None).unwrap_err();
    assert!(
        matches!(&error, BundleError::FlagNotSet { reason, .. } if reason.contains("upsmon-shutdown-file")),
        "{error}"
    );

    // NUT's -K accepts the magic at the start of the first line.
    fs::write(&f.flag, "upsmon-shutdown-file\n").unwrap();
    Bundle::load(&f.dir, BOOT, None).unwrap();
    // An override names another flag file.
    let error = Bundle::load(&f.dir, BOOT, Some(&f.dir.join("nope"))).unwrap_err();
    assert!(matches!(error, BundleError::FlagNotSet { .. }));
}

#[test]
fn unstaging_disarms() {
    let f = fixture();
    powerdown_flag::write(&f.flag).unwrap();
    stage(&f.dir, &f.manifest, &plugins(), BOOT).unwrap();
    unstage(&f.dir).unwrap();
    assert!(matches!(Bundle::load(&f.dir, BOOT, None), Err(BundleError::NotArmed { .. })));
    unstage(&f.dir).unwrap();
}

#[test]
fn a_changed_plugin_or_manifest_is_refused() {
    let f = fixture();
    powerdown_flag::write(&f.flag).unwrap();
    stage(&f.dir, &f.manifest, &plugins(), BOOT).unwrap();
    let plugin = f.dir.join("plugins/megatec.cwasm");
    fs::write(&plugin, b"other code").unwrap();
    let bundle = Bundle::load(&f.dir, BOOT, None).unwrap();
    let error = bundle.read_plugin(&f.manifest.upses[0]).unwrap_err();
    assert!(matches!(&error, BundleError::DigestMismatch { path, .. } if *path == plugin), "{error}");

    // Editing the manifest (say, its digest) after staging breaks the intent's seal.
    let manifest_path = f.dir.join(MANIFEST_FILE);
    let text = fs::read_to_string(&manifest_path).unwrap();
    fs::write(&manifest_path, text.replace(&sha256_hex(PLUGIN), &sha256_hex(b"other code"))).unwrap();
    let error = Bundle::load(&f.dir, BOOT, None).unwrap_err();
    assert!(matches!(&error, BundleError::DigestMismatch { path, .. } if *path == manifest_path), "{error}");
}

#[test]
fn staging_refuses_plugins_that_do_not_match_the_manifest() {
    let f = fixture();
    let wrong = vec![PluginFile { file: "megatec.cwasm".into(), bytes: b"other".to_vec() }];
    assert!(matches!(stage(&f.dir, &f.manifest, &wrong, BOOT), Err(BundleError::DigestMismatch { .. })));
    assert!(matches!(stage(&f.dir, &f.manifest, &[], BOOT), Err(BundleError::Invalid { .. })));
    let mut escaping = f.manifest.clone();
    escaping.upses[0].plugin.file = "../megatec.cwasm".into();
    assert!(matches!(stage(&f.dir, &escaping, &plugins(), BOOT), Err(BundleError::Invalid { .. })));
    assert!(!f.dir.exists(), "nothing is written when the request is invalid");
}

#[test]
fn a_directory_others_can_write_is_refused() {
    let f = fixture();
    powerdown_flag::write(&f.flag).unwrap();
    stage(&f.dir, &f.manifest, &plugins(), BOOT).unwrap();
    fs::set_permissions(&f.dir, fs::Permissions::from_mode(0o777)).unwrap();
    assert!(matches!(Bundle::load(&f.dir, BOOT, None), Err(BundleError::Unsafe { .. })));
}

#[test]
fn io_errors_name_the_path() {
    let f = fixture();
    let error = Bundle::load(&f.dir, BOOT, None).unwrap_err();
    assert!(error.to_string().contains(&f.dir.display().to_string()), "{error}");
}

#[test]
fn the_boot_id_is_read_from_the_kernel() {
    let id = current_boot_id().unwrap();
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(current_boot_id().unwrap(), id);
}

#[test]
fn the_stayoff_flag_chooses_stay_off() {
    assert_eq!(KillMode::from_ups_conf_flag(true), KillMode::StayOff);
    assert_eq!(KillMode::from_ups_conf_flag(false), KillMode::Return);
    assert_eq!(KillMode::default(), KillMode::Return);
}

#[test]
fn usb_hid_devices_and_power_race_answers_read_back() {
    let mut f = fixture();
    let mut usb = f.manifest.upses[0].clone();
    usb.name = "desk".into();
    usb.driver = "usbhid-ups".into();
    usb.device = DeviceGrant::UsbHid(UsbHidDevice {
        port: "auto".into(),
        vendorid: Some("051d".into()),
        serial: Some("AS1234.*".into()),
        ..UsbHidDevice::default()
    });
    let mut replayed = usb.clone();
    replayed.name = "lab".into();
    replayed.device = DeviceGrant::UsbHid(UsbHidDevice {
        port: "replay:/data/apc.txt".into(),
        replay: Some("/data/apc.txt".into()),
        ..UsbHidDevice::default()
    });
    f.manifest.upses[0].returns_while_on_mains = ReturnsWhileOnMains::Yes;
    f.manifest.upses.extend([usb, replayed]);
    powerdown_flag::write(&f.flag).unwrap();
    stage(&f.dir, &f.manifest, &plugins(), BOOT).unwrap();
    let text = fs::read_to_string(f.dir.join(MANIFEST_FILE)).unwrap();
    assert!(text.contains("kind = \"usb-hid\""), "{text}");
    assert!(text.contains("returns_while_on_mains = \"yes\""), "{text}");
    // Unset match options are left out, not written as empty strings.
    assert!(!text.contains("productid"), "{text}");
    assert_eq!(Bundle::load(&f.dir, BOOT, None).unwrap().manifest(), &f.manifest);

    // A replayed capture must be named absolutely: the late host has no working directory to speak of.
    f.manifest.upses[2].device = DeviceGrant::UsbHid(UsbHidDevice {
        port: "replay:apc.txt".into(),
        replay: Some("apc.txt".into()),
        ..UsbHidDevice::default()
    });
    let error = stage(&f.dir, &f.manifest, &plugins(), BOOT).unwrap_err();
    assert!(error.to_string().contains("replayed capture apc.txt is not an absolute path"), "{error}");
}

#[test]
fn power_race_words_are_the_ones_the_bundle_writes() {
    #[derive(serde::Serialize)]
    struct Line {
        answer: ReturnsWhileOnMains,
    }
    for answer in ReturnsWhileOnMains::ALL {
        let written = toml::to_string(&Line { answer }).unwrap();
        assert_eq!(written.trim(), format!("answer = \"{}\"", answer.as_word()));
        assert_eq!(ReturnsWhileOnMains::from_word(answer.as_word()), Some(answer));
    }
    assert_eq!(ReturnsWhileOnMains::from_word("maybe"), None);
}
