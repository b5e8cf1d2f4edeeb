//! Live conformance: `hazel serve` running the `dummy` plugin and real NUT 2.8.0
//! (`upsd` + `dummy-ups`) serve every device dump of NUT's device library from the
//! same ups.conf and the same `.dev` bytes; every read-only question a client can
//! ask about a device must get byte-identical answers from both.

use std::path::PathBuf;

use hazel_e2e::*;

/// Every `.dev` file of the device library, sorted, with the UPS name it gets (`dNN`).
fn devices() -> Vec<(String, PathBuf)> {
    let library = repo_root().join("../shared/data/nut-ddl");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&library)
        .unwrap_or_else(|e| panic!("{}: {e}", library.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "dev"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 30,
        "expected NUT's device library in {}, found {} .dev files",
        library.display(),
        files.len()
    );
    files.into_iter().enumerate().map(|(i, path)| (format!("d{:02}", i + 1), path)).collect()
}

/// Second field of a `VAR`/`RW`/`CMD` list line (`VAR ups name "value"` → `name`).
fn listed_names(reply: &[String], kind: &str) -> Vec<String> {
    let prefix = format!("{kind} ");
    reply.iter().filter_map(|line| line.strip_prefix(&prefix)?.split(' ').nth(1).map(str::to_string)).collect()
}

/// `LIST VAR` once it is served and no longer changing (both sides load data asynchronously).
fn settled_vars(session: &mut NutSession, ups: &str) -> Vec<String> {
    let mut previous = Vec::new();
    let mut answer = Vec::new();
    eventually(&format!("LIST VAR {ups} to settle"), || {
        previous = std::mem::replace(&mut answer, session.request(&format!("LIST VAR {ups}")));
        answer.first().is_some_and(|l| l.starts_with("BEGIN LIST")) && answer == previous
    });
    answer
}

/// Everything a client can read about `ups`, as `>>> request` lines each followed by the reply.
fn transcript(session: &mut NutSession, ups: &str) -> Vec<String> {
    let vars = settled_vars(session, ups);
    let mut out = vec![format!(">>> LIST VAR {ups}")];
    out.extend(vars.iter().cloned());
    // Pipelined in two batches: the second depends on the lists the first returns.
    let mut ask = |requests: Vec<String>| {
        let replies = session.requests(&requests);
        for (request, reply) in requests.iter().zip(&replies) {
            out.push(format!(">>> {request}"));
            out.extend(reply.iter().cloned());
        }
        replies
    };
    let mut first = vec![format!("LIST RW {ups}"), format!("LIST CMD {ups}"), format!("GET UPSDESC {ups}")];
    for var in listed_names(&vars, "VAR") {
        first.push(format!("GET TYPE {ups} {var}"));
        first.push(format!("GET DESC {ups} {var}"));
    }
    let replies = ask(first);
    let mut second = Vec::new();
    for var in listed_names(&replies[0], "RW") {
        second.push(format!("LIST ENUM {ups} {var}"));
        second.push(format!("LIST RANGE {ups} {var}"));
    }
    for cmd in listed_names(&replies[1], "CMD") {
        second.push(format!("GET CMDDESC {ups} {cmd}"));
    }
    ask(second);
    out
}

/// Hide the few differences that are not Hazel's to remove (each line of a transcript).
fn without_legitimate_differences(transcript: Vec<String>) -> Vec<String> {
    transcript
        .into_iter()
        .map(|line| {
            let words: Vec<&str> = line.splitn(4, ' ').collect();
            match words.as_slice() {
                // The driver's version is the plugin's own, not NUT's package version (2.8.0 / 0.15).
                ["VAR", ups, var @ ("driver.version" | "driver.version.internal"), _] => {
                    format!("VAR {ups} {var} <version>")
                }
                // dummy-ups with the default `synchronous = auto` switches itself to `yes` (and says so
                // in this variable) when its socket to upsd would block, i.e. when upsd is slow to read a
                // big dump: machine load, not the device (seen for the EPDU here, never when run alone).
                ["VAR", ups, "driver.parameter.synchronous", "\"yes\""] => {
                    format!("VAR {ups} driver.parameter.synchronous \"auto\"")
                }
                _ => line,
            }
        })
        .collect()
}

#[test]
fn hazel_answers_like_real_nut_for_every_device_dump() {
    let devices = devices();
    let refs: Vec<(&str, &std::path::Path)> = devices.iter().map(|(n, p)| (n.as_str(), p.as_path())).collect();
    let nut = RealNut::start(&refs);
    let hazel = HazelServe::start(&dummy_ups_conf(&refs), E2E_USERS, |dir| copy_dev_files(&refs, dir));
    let mut nut_session = NutSession::connect(nut.port());
    let mut hazel_session = NutSession::connect(hazel.port);

    let mut report = String::new();
    let mut differing = Vec::new();
    let nut_ups = nut_session.request("LIST UPS");
    let hazel_ups = hazel_session.request("LIST UPS");
    if nut_ups != hazel_ups {
        report.push_str(&format!("LIST UPS differs:\n{}", line_diff(&nut_ups, &hazel_ups)));
        differing.push("LIST UPS".to_string());
    }
    for (name, path) in &devices {
        let expected = without_legitimate_differences(transcript(&mut nut_session, name));
        let actual = without_legitimate_differences(transcript(&mut hazel_session, name));
        let difference = line_diff(&expected, &actual);
        if !difference.is_empty() {
            report.push_str(&format!("{name} ({}):\n{difference}", path.file_name().unwrap().to_string_lossy()));
            differing.push(format!("{name} {}", path.file_name().unwrap().to_string_lossy()));
        }
    }
    assert!(
        differing.is_empty(),
        "{report}\nHazel differs from real NUT for {} of {} devices:\n  {}\nhazel log:\n{}",
        differing.len(),
        devices.len(),
        differing.join("\n  "),
        hazel.log()
    );
}
