//! aionut, the Python NUT client Home Assistant uses, against `hazel serve` and
//! against real NUT 2.8.0 on the same device files (`tests/aionut_client.py` does
//! what Home Assistant does and prints it): both must print the same, and what
//! they print must match the `.dev` files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use hazel_e2e::*;

/// (UPS name, file of NUT's device library): a USB UPS, a PDU (`device.type: pdu`),
/// a serial UPS whose file has empty values and trailing spaces.
const DEVICES: &[(&str, &str)] = &[
    ("apc", "APC__Back-UPS_BK650M2-CH__usbhid-ups__2.8.0__01.dev"),
    ("epdu", "Eaton__EPDU_MI_38U-A__snmp-ups__2.7.4__01.dev"),
    ("smartrt", "APC__Smart-UPS_RT_2000_XL__apcsmart__2.6.4__02.dev"),
];

/// The value the script writes into `ups.mfr` (spaces need quoting). An inner `"`
/// would cut it short on real NUT (nut-facts §g); the dummy's unit tests cover that.
const NEW_MFR: &str = "Hazel  Test Mfr";

fn dev_path(file: &str) -> PathBuf {
    repo_root().join("../shared/data/nut-ddl").join(file)
}

/// Run tests/aionut_client.py against `port` for `ups`; its standard output.
fn aionut_report(port: u16, ups: &str) -> String {
    let script = repo_root().join("tests/aionut_client.py");
    let assignment = format!("ups.mfr={NEW_MFR}");
    let args = [&port.to_string(), ups, ADMIN_USER, ADMIN_PASSWORD, "load.off", &assignment];
    let output = Command::new("python3")
        .arg(&script)
        .arg("127.0.0.1")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 {}: {e}", script.display()));
    assert!(output.status.success(), "{} failed for {ups} on port {port}:\n{}", script.display(), said(&output));
    stdout(&output)
}

/// The report without the differences that are not Hazel's to remove: the driver's
/// version values (Hazel's dummy names its own version where dummy-ups names NUT's,
/// 2.8.0 / 0.15), and dummy-ups switching `synchronous` from `auto` to `yes` when its
/// socket to upsd would block, which depends on machine load (seen with the big EPDU
/// dump while the tests run, never when it runs alone).
fn without_legitimate_differences(report: &str) -> String {
    report
        .lines()
        .map(|line| match line.split_once(": ") {
            Some((key @ ("var driver.version" | "var driver.version.internal"), _)) => format!("{key}: <version>\n"),
            Some(("var driver.parameter.synchronous", "yes")) => "var driver.parameter.synchronous: auto\n".to_string(),
            _ => format!("{line}\n"),
        })
        .collect()
}

/// The variables a `.dev` file sets with plain values (no quotes, escapes or
/// comments, which dummy-ups tokenises), lower-cased name → value with spaces
/// collapsed, last line winning. `driver.*` lines are ignored by dummy-ups, and
/// `device.mfr/model/serial` are overwritten by the `ups.*` ones at start-up.
fn plain_file_values(file: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut values = BTreeMap::new();
    for line in text.lines() {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        let special = |s: &str| s.contains(['"', '\\', '#', '\'']);
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() || name.contains(char::is_whitespace) || special(&name) || special(&value) {
            continue;
        }
        if value.is_empty() || value.len() > 127 || name.starts_with("driver.") || name.starts_with("device.") {
            // Empty values take a stale earlier value in dummy-ups; device.* may be overwritten.
            values.remove(&name);
            continue;
        }
        values.insert(name, value);
    }
    values
}

#[test]
fn aionut_sees_hazel_as_it_sees_real_nut() {
    let python = Command::new("python3").args(["-c", "import aionut"]).output();
    match python {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "Python module aionut is missing: install it with `python3 -m pip install aionut` \
             (`cargo xtask test` does):\n{}",
            said(&output)
        ),
        Err(e) => panic!("cannot run python3 (needed for aionut, Home Assistant's NUT client): {e}"),
    }
    let paths: Vec<(&str, PathBuf)> = DEVICES.iter().map(|(name, file)| (*name, dev_path(file))).collect();
    let devices: Vec<(&str, &Path)> = paths.iter().map(|(name, path)| (*name, path.as_path())).collect();
    let nut = RealNut::start(&devices);
    let hazel = HazelServe::start(&dummy_ups_conf(&devices), E2E_USERS, |dir| copy_dev_files(&devices, dir));

    for (name, path) in &devices {
        // Hazel loads devices in the background: wait for the data before asking.
        eventually(&format!("hazel serve to publish {name}"), || {
            let vars = NutSession::connect(hazel.port).request(&format!("LIST VAR {name}"));
            vars.iter().any(|line| line.starts_with(&format!("VAR {name} driver.name ")))
        });
        let from_nut = without_legitimate_differences(&aionut_report(nut.port(), name));
        let from_hazel = without_legitimate_differences(&aionut_report(hazel.port, name));
        let to_lines = |report: &str| report.lines().map(str::to_string).collect::<Vec<_>>();
        let difference = line_diff(&to_lines(&from_nut), &to_lines(&from_hazel));
        assert!(difference.is_empty(), "aionut sees {name} differently (- real NUT, + hazel):\n{difference}");

        // Independently of NUT: what the file says must be what aionut read.
        let lines: Vec<&str> = from_hazel.lines().collect();
        let has = |line: String| assert!(lines.contains(&line.as_str()), "{name}: expected `{line}` in:\n{from_hazel}");
        for (ups, _) in &devices {
            has(format!(
                "ups {ups}: {}",
                dev_file_description(&dev_path(DEVICES.iter().find(|d| d.0 == *ups).unwrap().1))
            ));
        }
        has(format!("description: {}", dev_file_description(path)));
        let file_values = plain_file_values(path);
        assert!(file_values.len() >= 10, "{name}: only {} plain values found in {}", file_values.len(), path.display());
        let published: BTreeMap<String, &str> = lines
            .iter()
            .filter_map(|line| line.strip_prefix("var ")?.split_once(": "))
            .map(|(var, value)| (var.to_ascii_lowercase(), value))
            .collect();
        for (var, value) in &file_values {
            assert_eq!(published.get(var), Some(&value.as_str()), "{name}: {var} from {}", path.display());
        }
        // dummy-ups advertises exactly one command, whatever the file's `#CMD:` comments say.
        assert_eq!(lines.iter().filter(|l| l.starts_with("command ")).count(), 1, "{name}:\n{from_hazel}");
        has("command load.off: Turn off the load immediately".to_string());
        has("run load.off without login: NUTCommandError: Error running: INSTCMD ".to_string()
            + name
            + " load.off: ERR USERNAME-REQUIRED");
        has("run load.off: OK".to_string());
        if let Some(mfr) = file_values.get("ups.mfr") {
            has(format!("get ups.mfr: {mfr}"));
        }
        has("set ups.mfr: OK".to_string());
        has(format!("get ups.mfr after set: {NEW_MFR}"));
    }
}
