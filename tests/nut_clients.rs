//! NUT's own clients (Debian's nut-client: upsc, upscmd, upsrw) against
//! `hazel serve` running dummy devices, compared with what the same tools
//! printed against real NUT 2.8.0 (upsd + dummy-ups) on the same files
//! (`tests/nut-facts/captures/`).

use hazel_e2e::*;

/// (device name used in the captures, data file in NUT's device library).
const DEVICES: &[(&str, &str)] = &[
    ("apc", "APC__Back-UPS_BK650M2-CH__usbhid-ups__2.8.0__01.dev"),
    ("cp1500", "Cyber_Power_Systems__CP1500EPFCLCD__usbhid-ups__2.7.3__01.dev"),
    ("epdu", "Eaton__EPDU_MI_38U-A__snmp-ups__2.7.4__01.dev"),
    ("digitus", "Digitus__DN-170076__nutdrv_qx__2.7.4__02.dev"),
    ("smartrt", "APC__Smart-UPS_RT_2000_XL__apcsmart__2.6.4__02.dev"),
];

const USERS: &str =
    "[admin]\n\tpassword = adminpass\n\tactions = SET\n\tinstcmds = ALL\n[viewer]\n\tpassword = viewpass\n";

fn start() -> HazelServe {
    let mut conf = String::new();
    for (name, _) in DEVICES {
        conf.push_str(&format!("[{name}]\n\tdriver = dummy-ups\n\tport = {name}.dev\n"));
    }
    HazelServe::start(&conf, USERS, |dir| {
        for (name, file) in DEVICES {
            let src = repo_root().join("../shared/data/nut-ddl").join(file);
            std::fs::copy(&src, dir.join(format!("{name}.dev"))).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        }
    })
}

fn capture(name: &str) -> String {
    let path = repo_root().join("tests/nut-facts/captures").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Lines that name versions differ by design (Hazel's and the plugin's, not NUT's).
fn without_versions(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with("driver.version") && !l.starts_with("Init SSL"))
        .map(str::to_string)
        .collect()
}

#[test]
fn upsc_upscmd_upsrw_see_what_they_see_with_nut() {
    let server = start();

    // upsc -l: every device.
    let listed = stdout(&nut_tool("upsc", &["-l", &format!("127.0.0.1:{}", server.port)]));
    let mut names: Vec<&str> = listed.lines().collect();
    names.sort();
    let mut expected: Vec<&str> = DEVICES.iter().map(|(n, _)| *n).collect();
    expected.sort();
    assert_eq!(names, expected, "upsc -l");

    for (name, _) in DEVICES {
        // Wait for the first poll, then compare the full listing with real NUT's.
        eventually(&format!("{name} data"), || nut_tool("upsc", &[&server.ups(name)]).status.success());
        let ours = without_versions(&stdout(&nut_tool("upsc", &[&server.ups(name)])));
        let nut = without_versions(&capture(&format!("{name}.upsc.txt")));
        assert_eq!(ours, nut, "upsc {name} differs from real NUT; server log:\n{}", server.log());

        let ours = stdout(&nut_tool("upscmd", &["-l", &server.ups(name)]));
        let nut = capture(&format!("{name}.upscmd-l.txt"));
        assert_eq!(ours.trim_end(), nut.trim_end(), "upscmd -l {name}");
    }

    // Instant commands: handed to the device (OK); dummy-ups does not implement
    // them, which a waiting client learns from the tracking result.
    let cmd = |args: &[&str]| {
        let mut all = vec!["-u", "admin", "-p", "adminpass"];
        all.extend_from_slice(args);
        nut_tool("upscmd", &all)
    };
    let out = cmd(&[&server.ups("cp1500"), "load.off"]);
    assert_eq!((said(&out).trim(), out.status.success()), ("OK", true));
    let out = cmd(&["-w", &server.ups("cp1500"), "load.off"]);
    assert_eq!(said(&out).trim(), "ERR UNKNOWN");
    let out = cmd(&[&server.ups("cp1500"), "beeper.disable"]);
    assert!(!out.status.success());
    assert!(said(&out).contains("ERR CMD-NOT-SUPPORTED"), "{out:?}");

    // Wrong password and missing permission are both ACCESS-DENIED, as in upsd.
    let out = nut_tool("upscmd", &["-u", "admin", "-p", "wrong", &server.ups("cp1500"), "load.off"]);
    assert!(said(&out).contains("ERR ACCESS-DENIED"), "{out:?}");
    let out = nut_tool("upsrw", &["-s", "battery.charge=42", "-u", "viewer", "-p", "viewpass", &server.ups("apc")]);
    assert!(said(&out).contains("ERR ACCESS-DENIED"), "{out:?}");

    // SET VAR reaches the plugin and sticks, as with dummy-ups.
    let set = |assignment: &str, wait: bool| {
        let mut args = vec!["-s", assignment, "-u", "admin", "-p", "adminpass"];
        if wait {
            args.insert(0, "-w");
        }
        let ups = server.ups("apc");
        args.push(&ups);
        nut_tool("upsrw", &args)
    };
    let out = set("battery.charge=42", true);
    assert_eq!(said(&out).trim(), "SUCCESS", "{out:?}");
    eventually("battery.charge = 42", || {
        stdout(&nut_tool("upsc", &[&server.ups("apc"), "battery.charge"])).trim() == "42"
    });
    let out = set("driver.name=x", false);
    assert!(said(&out).contains("ERR READONLY"), "{out:?}");
    let out = set("brand.new.var=1", false);
    assert!(said(&out).contains("ERR VAR-NOT-SUPPORTED"), "{out:?}");
}
