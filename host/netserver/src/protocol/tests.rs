//! The core against the golden upsd 2.8.0 transcript, plus the cases the
//! transcript does not exercise.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use hazel_nutconf::parseconf::{self, Tokenizer};
use hazel_state::{DeviceState, Edit, StateStore, ValueRange, VarMeta};

use super::{Response, Session, handle_request};
use crate::context::{ServerContext, ServerIdentity};
use crate::control::{Completion, ControlError, DeviceControl, HandoffError};
use crate::tls::ServerTls;
use crate::upsd_conf::UpsdConf;
use crate::users::Users;

const TRANSCRIPT: &str = include_str!("../../tests/data/upsd-2.8.0-transcript.txt");

/// The transcript's upsd.users: admin (SET, FSD, every command), upsmon (primary).
const USERS: &str = "[admin]\n password = adminpass\n actions = SET FSD\n instcmds = ALL\n\
                     [upsmon]\n password = pass\n upsmon primary\n";

/// A device side that behaves like the transcript's dummy-ups: SET succeeds,
/// `load.off` is advertised but answers "unknown".
#[derive(Default)]
struct FakeDevices {
    disconnected: AtomicBool,
    refuse_handoff: AtomicBool,
    handed_off: Mutex<Vec<String>>,
}

impl FakeDevices {
    fn handoff(&self, request: String, outcome: Result<(), ControlError>) -> Result<Completion, HandoffError> {
        if self.refuse_handoff.load(Ordering::Relaxed) {
            return Err(HandoffError::new("plugin not running"));
        }
        self.handed_off.lock().unwrap().push(request);
        Ok(Box::pin(async move { outcome }))
    }

    fn requests(&self) -> Vec<String> {
        self.handed_off.lock().unwrap().clone()
    }
}

impl DeviceControl for FakeDevices {
    fn instcmd(&self, device: &str, command: &str, argument: Option<&str>) -> Result<Completion, HandoffError> {
        let request = format!("{device}: INSTCMD {command} {argument:?}");
        self.handoff(request, Err(ControlError::Unknown))
    }

    fn set_var(&self, device: &str, variable: &str, value: &str) -> Result<Completion, HandoffError> {
        self.handoff(format!("{device}: SET {variable} {value:?}"), Ok(()))
    }

    fn is_connected(&self, _device: &str) -> bool {
        !self.disconnected.load(Ordering::Relaxed)
    }
}

/// The payload of every `S:` line of the transcript's first session (the
/// one that lists everything about ups1).
fn basics_replies() -> Vec<&'static str> {
    TRANSCRIPT.split("=== SESSION: ").nth(1).unwrap_or("").lines().filter_map(|line| line.strip_prefix("S: ")).collect()
}

fn tokens_of(line: &str) -> Vec<String> {
    parseconf::lines(line.as_bytes()).next().and_then(Result::ok).map(|line| line.tokens).unwrap_or_default()
}

/// ups1 exactly as the transcript lists it: values from `LIST VAR`,
/// writability from `LIST RW`, types from `GET TYPE` (RW variables without a
/// `GET TYPE` line get dummy-ups's default, `RW STRING:32`), commands from
/// `LIST CMD`, description from `LIST UPS`.
fn transcript_device() -> DeviceState {
    let mut description = None;
    let mut edits = Vec::new();
    let mut rw_defaults = Vec::new();
    let mut typed = Vec::new();
    let mut in_list_var = false;
    for reply in basics_replies() {
        let tokens = tokens_of(reply);
        let words: Vec<&str> = tokens.iter().map(String::as_str).collect();
        match words.as_slice() {
            ["BEGIN", "LIST", "VAR", _] => in_list_var = true,
            ["END", "LIST", "VAR", _] => in_list_var = false,
            ["UPS", "ups1", desc] => description = Some(desc.to_string()),
            ["VAR", "ups1", name, value] if in_list_var => {
                edits.push(Edit::SetValue(name.to_string(), value.to_string()));
            }
            ["RW", "ups1", name, _] => {
                rw_defaults.push((name.to_string(), VarMeta { writable: true, string_max_len: Some(32) }));
            }
            ["TYPE", "ups1", name, type_words @ ..] => {
                let meta = VarMeta {
                    writable: type_words.contains(&"RW"),
                    string_max_len: type_words
                        .iter()
                        .find_map(|word| word.strip_prefix("STRING:"))
                        .and_then(|n| n.parse().ok()),
                };
                typed.push((name.to_string(), meta));
            }
            ["CMD", "ups1", command] => edits.push(Edit::AddCommand(command.to_string())),
            _ => {}
        }
    }
    // GET TYPE refines the LIST RW default
    let metas = rw_defaults.into_iter().chain(typed);
    edits.extend(metas.map(|(name, meta)| Edit::SetMeta(name, meta)));
    let device = DeviceState::new("ups1", description);
    device.apply_update(edits);
    device
}

struct Harness {
    store: Arc<StateStore>,
    devices: Arc<FakeDevices>,
    context: ServerContext,
}

impl Harness {
    fn new() -> Self {
        let store = Arc::new(StateStore::new());
        store.insert(transcript_device());
        Harness::with_store(store)
    }

    fn with_store(store: Arc<StateStore>) -> Self {
        let devices = Arc::new(FakeDevices::default());
        let users = Users::parse("upsd.users", USERS).expect("test users");
        let context = ServerContext::new(store.clone(), devices.clone(), users, &UpsdConf::default());
        Harness { store, devices, context }
    }

    /// The same, offering STARTTLS with a fresh self-signed certificate.
    fn with_tls(self) -> Self {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
        let dir = tempfile::tempdir().expect("temp dir");
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, certified.cert.pem()).expect("write cert");
        std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key");
        let tls = ServerTls::from_pem_files(&cert, &key).expect("load certificate");
        Harness { context: self.context.with_tls(tls), ..self }
    }

    fn session(&self) -> Session {
        Session::new(&self.context, IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    fn device(&self) -> Arc<DeviceState> {
        self.store.get("ups1").expect("ups1")
    }
}

/// Feed raw bytes through the tokenizer into the core, as a connection does;
/// pending device work is completed before the next request, so tracking
/// results are deterministic.
async fn exchange(harness: &Harness, session: &mut Session, tokenizer: &mut Tokenizer, bytes: &[u8]) -> Vec<Response> {
    let mut responses = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (used, event) = tokenizer.push(rest);
        rest = &rest[used..];
        if let Some(Ok(line)) = event {
            let tokens: Vec<&str> = line.tokens().collect();
            responses.push(handle_request(&harness.context, session, &tokens));
        }
    }
    for response in &mut responses {
        if let Some(pending) = response.pending_write.take() {
            pending.await;
        }
    }
    responses
}

/// One request line (tokens) and its reply text.
async fn ask(harness: &Harness, session: &mut Session, request: &str) -> String {
    let mut tokenizer = Tokenizer::new();
    let responses = exchange(harness, session, &mut tokenizer, format!("{request}\n").as_bytes()).await;
    responses.iter().map(|r| String::from_utf8_lossy(&r.reply).into_owned()).collect()
}

async fn logged_in(harness: &Harness, user: &str, password: &str) -> Session {
    let mut session = harness.session();
    assert_eq!(ask(harness, &mut session, &format!("USERNAME {user}")).await, "OK\n");
    assert_eq!(ask(harness, &mut session, &format!("PASSWORD {password}")).await, "OK\n");
    session
}

// ---------------------------------------------------------------- transcript

/// What the transcript says the server did after one client line.
#[derive(Debug, PartialEq)]
enum Expected {
    Line(String),
    Closed,
    Silence,
}

struct TranscriptExchange {
    client: String,
    bytes: Vec<u8>,
    expected: Vec<Expected>,
}

struct TranscriptSession {
    title: String,
    exchanges: Vec<TranscriptExchange>,
}

/// Turn a transcript `C:` line into the bytes the client sent.
fn client_bytes(text: &str) -> Vec<u8> {
    if text == "<empty line>" {
        return b"\n".to_vec();
    }
    let mut text = text.trim_end_matches(" (pipelined in one write)").trim_end_matches(" (closing quote)").to_string();
    if let Some(args) = text.strip_suffix(" ... (100 args)") {
        let mut expanded = args.to_string();
        // "GET VAR x x" so far: 4 tokens; make it 100
        for _ in 0..96 {
            expanded.push_str(" x");
        }
        text = expanded;
    }
    if let (Some(start), Some(end)) = (text.find('<'), text.find(" x 'a'>")) {
        let count: usize = text[start + 1..end].parse().expect("repeat count");
        text = format!("{}{}", &text[..start], "a".repeat(count));
    }
    let text = text.replace("<CR>", "\r").replace("<LF>", "\n").replace("<TAB>", "\t").replace("<NUL>", "\0");
    let mut bytes = text.into_bytes();
    if bytes.last() != Some(&b'\n') {
        bytes.push(b'\n');
    }
    bytes
}

fn transcript_sessions() -> Vec<TranscriptSession> {
    let mut sessions: Vec<TranscriptSession> = Vec::new();
    for line in TRANSCRIPT.lines() {
        if let Some(title) = line.strip_prefix("=== SESSION: ") {
            let title = title.trim_end_matches(" ===").to_string();
            sessions.push(TranscriptSession { title, exchanges: Vec::new() });
        } else if let Some(client) = line.strip_prefix("C: ") {
            let session = sessions.last_mut().expect("C: inside a session");
            session.exchanges.push(TranscriptExchange {
                client: client.to_string(),
                bytes: client_bytes(client),
                expected: Vec::new(),
            });
        } else if let Some(server) = line.strip_prefix("S: ").or_else(|| line.strip_prefix("S+ ")) {
            let session = sessions.last_mut().expect("S: inside a session");
            let exchange = session.exchanges.last_mut().expect("S: after C:");
            exchange.expected.push(match server {
                "<EOF: server closed connection>" => Expected::Closed,
                s if s.starts_with("<no reply within") => Expected::Silence,
                s => Expected::Line(s.to_string()),
            });
        }
    }
    sessions
}

/// Replies that depend on how the dummy-ups driver behaved, not on upsd:
/// by this point the driver had applied one of the earlier SETs.
const DEVICE_SPECIFIC: &[&str] = &[r#"VAR ups1 ups.id "trackedid""#];

#[tokio::test]
async fn replays_the_upsd_transcript_byte_for_byte() {
    let sessions = transcript_sessions();
    assert_eq!(sessions.len(), 18, "transcript has {} sessions", sessions.len());
    let mut harness = Harness::new();
    // transcript tracking id -> the id this server handed out instead
    let mut tracking_ids: Vec<(String, String)> = Vec::new();
    let mut compared = 0;
    for transcript_session in sessions {
        let title = transcript_session.title.as_str();
        // The stale and killed-driver sessions were recorded against a freshly
        // started upsd (the FSD latch of earlier sessions is gone there).
        if title.starts_with("stale data") {
            harness = Harness::new();
            harness.device().mark_stale("driver stopped");
        }
        if title.starts_with("after SIGCONT") {
            harness.device().apply_update([]);
        }
        if title.starts_with("driver process killed") {
            harness.devices.disconnected.store(true, Ordering::Relaxed);
        }
        let mut session = harness.session();
        let mut tokenizer = Tokenizer::new();
        for step in transcript_session.exchanges {
            let mut bytes = String::from_utf8(step.bytes).unwrap();
            for (theirs, ours) in &tracking_ids {
                bytes = bytes.replace(theirs.as_str(), ours);
            }
            let responses = exchange(&harness, &mut session, &mut tokenizer, bytes.as_bytes()).await;
            let context = format!("session {title:?}, client line {:?}", step.client);

            let reply: String = responses.iter().map(|r| String::from_utf8(r.reply.clone()).unwrap()).collect();
            let expected_lines: Vec<&str> = step
                .expected
                .iter()
                .filter_map(|e| match e {
                    Expected::Line(line) => Some(line.as_str()),
                    _ => None,
                })
                .collect();
            if expected_lines.iter().any(|line| DEVICE_SPECIFIC.contains(line)) {
                continue;
            }
            let mut expected_reply = String::new();
            for line in &expected_lines {
                let line = match line.strip_prefix("OK TRACKING ") {
                    Some(theirs) => {
                        let ours = reply
                            .lines()
                            .find_map(|l| l.strip_prefix("OK TRACKING "))
                            .unwrap_or_else(|| panic!("{context}: expected a tracking id, got {reply:?}"));
                        tracking_ids.push((theirs.to_string(), ours.to_string()));
                        format!("OK TRACKING {ours}")
                    }
                    None => line.to_string(),
                };
                expected_reply.push_str(&line);
                expected_reply.push('\n');
            }
            assert_eq!(reply, expected_reply, "{context}");
            let closed = responses.last().is_some_and(|r| r.close);
            assert_eq!(closed, step.expected.contains(&Expected::Closed), "{context}: connection close");
            if step.expected.contains(&Expected::Silence) {
                assert!(responses.is_empty(), "{context}: expected silence");
            }
            compared += 1;
        }
    }
    // every client line but the device-specific one
    assert_eq!(compared, 163, "exchanges compared");
}

#[test]
fn transcript_fixture_has_the_listed_state() {
    let device = transcript_device();
    let snapshot = device.snapshot();
    assert_eq!(snapshot.vars().len(), 61);
    assert_eq!(snapshot.var("ups.status").unwrap().type_words(), "RW STRING:32");
    assert_eq!(snapshot.var("battery.charge").unwrap().type_words(), "RW NUMBER");
    assert_eq!(snapshot.var("driver.name").unwrap().type_words(), "NUMBER");
    assert_eq!(snapshot.commands().collect::<Vec<_>>(), ["load.off"]);
    assert_eq!(device.description(), Some("Dummy APC Smart-UPS 1"));
}

// ---------------------------------------------------------------- beyond it

#[tokio::test]
async fn versions_and_argument_counts() {
    let harness = Harness::new();
    let mut s = harness.session();
    assert_eq!(ask(&harness, &mut s, "VER extra").await, "ERR INVALID-ARGUMENT\n");
    assert_eq!(ask(&harness, &mut s, "netver 1").await, "ERR INVALID-ARGUMENT\n");
    assert_eq!(ask(&harness, &mut s, "HELP me").await, "ERR INVALID-ARGUMENT\n");
    assert_eq!(ask(&harness, &mut s, "LOGOUT now").await, "ERR INVALID-ARGUMENT\n");
    assert_eq!(ask(&harness, &mut s, "STARTTLS").await, "ERR FEATURE-NOT-CONFIGURED\n");
    assert_eq!(ask(&harness, &mut s, "USERNAME a b").await, "ERR INVALID-ARGUMENT\n");
    assert_eq!(ask(&harness, &mut s, "PASSWORD a=b").await, "ERR INVALID-ARGUMENT\n");
    assert_eq!(ask(&harness, &mut s, "ATTACH ups1").await, "ERR UNKNOWN-COMMAND\n");
    assert_eq!(ask(&harness, &mut s, "GET UPSDESC ups1 extra").await, "UPSDESC ups1 \"Dummy APC Smart-UPS 1\"\n");
    assert_eq!(ask(&harness, &mut s, "LIST UPS extra").await.lines().count(), 3);

    let custom = Harness::new();
    let context =
        ServerContext::new(custom.store.clone(), custom.devices.clone(), Users::empty(), &UpsdConf::default())
            .with_identity(ServerIdentity { version: "0.1.0".into(), url: "https://hazel.example/".into() });
    let mut s = Session::new(&context, IpAddr::V4(Ipv4Addr::LOCALHOST));
    let reply = handle_request(&context, &mut s, &["VER"]);
    assert_eq!(reply.reply, b"Network UPS Tools upsd 0.1.0 - https://hazel.example/\n");
}

#[tokio::test]
async fn server_variables_ignore_the_ups_name() {
    let harness = Harness::new();
    let mut s = harness.session();
    assert_eq!(
        ask(&harness, &mut s, "GET VAR nosuchups SERVER.INFO").await,
        "VAR nosuchups server.info \"Network UPS Tools upsd 2.8.0 - http://www.networkupstools.org/\"\n"
    );
    assert_eq!(ask(&harness, &mut s, "GET VAR x server.version").await, "VAR x server.version \"2.8.0\"\n");
    assert_eq!(ask(&harness, &mut s, "GET VAR ups1 server.other").await, "ERR VAR-NOT-SUPPORTED\n");
    harness.devices.disconnected.store(true, Ordering::Relaxed);
    assert_eq!(ask(&harness, &mut s, "GET VAR ups1 server.version").await, "VAR ups1 server.version \"2.8.0\"\n");
}

#[tokio::test]
async fn descriptions_and_types() {
    let harness = Harness::new();
    let mut s = harness.session();
    assert_eq!(
        ask(&harness, &mut s, "GET DESC ups1 upstream.battery.charge").await,
        "DESC ups1 upstream.battery.charge \"Battery charge (percent of full)\"\n"
    );
    assert_eq!(
        ask(&harness, &mut s, "get cmddesc UPS1 LOAD.OFF").await,
        "CMDDESC UPS1 LOAD.OFF \"Turn off the load immediately\"\n"
    );
    assert_eq!(ask(&harness, &mut s, "GET DESC nosuchups x").await, "ERR UNKNOWN-UPS\n");
    assert_eq!(ask(&harness, &mut s, "GET TYPE ups1 DRIVER.NAME").await, "TYPE ups1 DRIVER.NAME NUMBER\n");

    harness.device().apply_update([
        Edit::SetValue("input.sensitivity".into(), "high".into()),
        Edit::SetEnum("input.sensitivity".into(), vec!["low".into(), "high".into(), "a \"q\"".into()]),
        Edit::SetValue("x.numeric".into(), "5".into()),
        Edit::SetMeta("x.numeric".into(), VarMeta { writable: true, string_max_len: None }),
        Edit::SetEnum("x.numeric".into(), vec!["5".into()]),
        Edit::SetRanges("x.numeric".into(), vec![ValueRange { min: 1, max: 10 }, ValueRange { min: 20, max: 30 }]),
    ]);
    assert_eq!(
        ask(&harness, &mut s, "GET TYPE ups1 input.sensitivity").await,
        "TYPE ups1 input.sensitivity RW ENUM STRING:32\n"
    );
    assert_eq!(ask(&harness, &mut s, "GET TYPE ups1 x.numeric").await, "TYPE ups1 x.numeric RW ENUM RANGE NUMBER\n");
    assert_eq!(
        ask(&harness, &mut s, "LIST ENUM ups1 INPUT.SENSITIVITY").await,
        "BEGIN LIST ENUM ups1 INPUT.SENSITIVITY\nENUM ups1 INPUT.SENSITIVITY \"low\"\n\
         ENUM ups1 INPUT.SENSITIVITY \"high\"\nENUM ups1 INPUT.SENSITIVITY \"a \\\"q\\\"\"\n\
         END LIST ENUM ups1 INPUT.SENSITIVITY\n"
    );
    assert_eq!(
        ask(&harness, &mut s, "LIST RANGE ups1 x.numeric").await,
        "BEGIN LIST RANGE ups1 x.numeric\nRANGE ups1 x.numeric \"1\" \"10\"\nRANGE ups1 x.numeric \"20\" \"30\"\n\
         END LIST RANGE ups1 x.numeric\n"
    );
}

#[tokio::test]
async fn values_are_escaped_in_replies() {
    let harness = Harness::new();
    harness.device().apply_update([Edit::SetValue("ups.id".into(), r#"say "hi" \ #1"#.into())]);
    let mut s = harness.session();
    let expected = "VAR ups1 ups.id \"say \\\"hi\\\" \\\\ \\#1\"\n";
    assert_eq!(ask(&harness, &mut s, "GET VAR ups1 ups.id").await, expected);
    assert!(ask(&harness, &mut s, "LIST VAR ups1").await.contains(expected));
    // a reply read back with NUT's tokenizer gives the value back
    assert_eq!(tokens_of(expected.trim_end())[3], r#"say "hi" \ #1"#);
}

#[tokio::test]
async fn fsd_latch_prefixes_status_in_get_and_list_var_only() {
    let harness = Harness::new();
    let mut admin = logged_in(&harness, "admin", "adminpass").await;
    assert_eq!(ask(&harness, &mut admin, "FSD ups1 now").await, "ERR INVALID-ARGUMENT\n");
    assert!(!harness.context.fsd_latched("ups1"));
    assert_eq!(ask(&harness, &mut admin, "FSD UPS1").await, "OK FSD-SET\n");
    assert!(harness.context.fsd_latched("Ups1"));
    let mut s = harness.session();
    assert_eq!(ask(&harness, &mut s, "GET VAR ups1 UPS.Status").await, "VAR ups1 UPS.Status \"FSD OL\"\n");
    let list = ask(&harness, &mut s, "LIST VAR ups1").await;
    assert!(list.contains("VAR ups1 ups.status \"FSD OL\"\n"));
    let rw = ask(&harness, &mut s, "LIST RW ups1").await;
    assert!(rw.contains("RW ups1 ups.status \"OL\"\n"), "{rw}");
    // FSD is accepted on stale data; the latch survives staleness and recovery
    harness.device().mark_stale("gone");
    assert_eq!(ask(&harness, &mut admin, "FSD ups1").await, "OK FSD-SET\n");
    harness.device().apply_update([]);
    assert_eq!(ask(&harness, &mut s, "GET VAR ups1 ups.status").await, "VAR ups1 ups.status \"FSD OL\"\n");
    // removing the device clears it
    harness.context.device_removed("UPS1");
    assert!(!harness.context.fsd_latched("ups1"));
}

#[tokio::test]
async fn set_var_checks_in_upsd_order() {
    let harness = Harness::new();
    harness.device().apply_update([
        Edit::SetValue("x.enum".into(), "a".into()),
        Edit::SetMeta("x.enum".into(), VarMeta { writable: true, string_max_len: Some(8) }),
        Edit::SetEnum("x.enum".into(), vec!["a".into(), "b c".into()]),
        Edit::SetValue("x.range".into(), "5".into()),
        Edit::SetMeta("x.range".into(), VarMeta { writable: true, string_max_len: None }),
        Edit::SetRanges("x.range".into(), vec![ValueRange { min: 1, max: 10 }, ValueRange { min: -5, max: -3 }]),
        Edit::SetValue("x.broken".into(), "v".into()),
        Edit::SetMeta("x.broken".into(), VarMeta { writable: true, string_max_len: Some(0) }),
    ]);
    let mut admin = logged_in(&harness, "admin", "adminpass").await;
    let cases = [
        ("SET VAR nosuchups x.enum a", "ERR UNKNOWN-UPS"),
        ("SET VAR ups1 nosuch 1", "ERR VAR-NOT-SUPPORTED"),
        ("SET VAR ups1 driver.name x", "ERR READONLY"),
        ("SET VAR ups1 x.enum toolongvalue", "ERR TOO-LONG"),
        ("SET VAR ups1 x.enum A", "ERR INVALID-VALUE"),
        ("SET VAR ups1 x.enum \"b c\"", "OK"),
        ("SET VAR ups1 X.ENUM a extra ignored", "OK"),
        ("SET VAR ups1 x.range 11", "ERR INVALID-VALUE"),
        ("SET VAR ups1 x.range -4", "OK"),
        ("SET VAR ups1 x.range 10abc", "OK"),
        ("SET VAR ups1 x.range abc", "ERR INVALID-VALUE"),
        ("SET VAR ups1 x.broken v", "ERR SET-FAILED"),
        ("SET VAR ups1 battery.charge notanumber", "OK"),
        ("SET FOO ups1", "ERR INVALID-ARGUMENT"),
        ("SET VAR", "ERR INVALID-ARGUMENT"),
        ("SET", "ERR INVALID-ARGUMENT"),
    ];
    for (request, expected) in cases {
        assert_eq!(ask(&harness, &mut admin, request).await, format!("{expected}\n"), "{request}");
    }
    // names reach the device as the device spells them
    assert_eq!(
        harness.devices.requests(),
        [
            "ups1: SET x.enum \"b c\"",
            "ups1: SET x.enum \"a\"",
            "ups1: SET x.range \"-4\"",
            "ups1: SET x.range \"10abc\"",
            "ups1: SET battery.charge \"notanumber\""
        ]
    );
    // availability comes before rights, rights before the variable
    let mut nobody = logged_in(&harness, "nobody", "x").await;
    assert_eq!(ask(&harness, &mut nobody, "SET VAR ups1 nosuch 1").await, "ERR ACCESS-DENIED\n");
    harness.device().mark_stale("gone");
    assert_eq!(ask(&harness, &mut nobody, "SET VAR ups1 nosuch 1").await, "ERR DATA-STALE\n");
    harness.devices.disconnected.store(true, Ordering::Relaxed);
    assert_eq!(ask(&harness, &mut nobody, "SET VAR ups1 nosuch 1").await, "ERR DRIVER-NOT-CONNECTED\n");
}

#[tokio::test]
async fn instcmd_argument_rules_and_handoff_failures() {
    let harness = Harness::new();
    harness.device().apply_update([Edit::AddCommand("Beeper.Toggle".into())]);
    let mut admin = logged_in(&harness, "admin", "adminpass").await;
    assert_eq!(ask(&harness, &mut admin, "INSTCMD ups1").await, "ERR INVALID-ARGUMENT\n");
    assert_eq!(ask(&harness, &mut admin, "INSTCMD ups1 load.off 30").await, "OK\n");
    assert_eq!(ask(&harness, &mut admin, "INSTCMD ups1 load.off 30 extra").await, "OK\n");
    assert_eq!(ask(&harness, &mut admin, "INSTCMD ups1 beeper.toggle").await, "OK\n");
    assert_eq!(
        harness.devices.requests(),
        ["ups1: INSTCMD load.off Some(\"30\")", "ups1: INSTCMD load.off None", "ups1: INSTCMD Beeper.Toggle None"]
    );
    harness.devices.refuse_handoff.store(true, Ordering::Relaxed);
    assert_eq!(ask(&harness, &mut admin, "INSTCMD ups1 load.off").await, "ERR INSTCMD-FAILED\n");
    assert_eq!(ask(&harness, &mut admin, "SET VAR ups1 ups.id x").await, "ERR SET-FAILED\n");
    // a failed hand-off leaves no tracking entry behind
    assert_eq!(ask(&harness, &mut admin, "SET TRACKING on").await, "OK\n");
    assert_eq!(ask(&harness, &mut admin, "INSTCMD ups1 load.off").await, "ERR INSTCMD-FAILED\n");
}

#[tokio::test]
async fn tracking_reports_pending_then_the_outcome() {
    let harness = Harness::new();
    let mut admin = logged_in(&harness, "admin", "adminpass").await;
    assert_eq!(ask(&harness, &mut admin, "GET TRACKING abc").await, "ERR FEATURE-NOT-CONFIGURED\n");
    assert_eq!(ask(&harness, &mut admin, "set tracking On").await, "OK\n");
    // drive the request by hand to see PENDING before the device answers
    let mut response = handle_request(&harness.context, &mut admin, &["SET", "VAR", "ups1", "ups.id", "new"]);
    let reply = String::from_utf8(response.reply.clone()).unwrap();
    let id = reply.trim_end().strip_prefix("OK TRACKING ").expect("tracking id").to_string();
    assert_eq!(ask(&harness, &mut admin, &format!("GET TRACKING {id}")).await, "PENDING\n");
    response.pending_write.take().expect("device work").await;
    assert_eq!(ask(&harness, &mut admin, &format!("GET TRACKING {}", id.to_lowercase())).await, "SUCCESS\n");
    // another connection with tracking on may ask about the same id
    let mut other = logged_in(&harness, "upsmon", "pass").await;
    assert_eq!(ask(&harness, &mut other, "SET TRACKING ON").await, "OK\n");
    assert_eq!(ask(&harness, &mut other, &format!("GET TRACKING {id}")).await, "SUCCESS\n");
    assert_eq!(ask(&harness, &mut other, "SET TRACKING OFF").await, "OK\n");
    assert_eq!(ask(&harness, &mut other, &format!("GET TRACKING {id}")).await, "ERR FEATURE-NOT-CONFIGURED\n");
}

#[tokio::test]
async fn logins_are_counted_until_the_session_ends() {
    let harness = Harness::new();
    let second = DeviceState::new("Second", None);
    second.apply_update([Edit::SetValue("ups.status".into(), "OB".into())]);
    harness.store.insert(second);

    let mut a = logged_in(&harness, "upsmon", "pass").await;
    assert_eq!(ask(&harness, &mut a, "LOGIN ups1 extra").await, "ERR INVALID-ARGUMENT\n");
    assert_eq!(ask(&harness, &mut a, "login UPS1").await, "OK\n");
    assert_eq!(a.login(), Some("ups1"));
    let mut b = Session::new(&harness.context, "::ffff:10.0.0.7".parse().unwrap());
    ask(&harness, &mut b, "USERNAME upsmon").await;
    ask(&harness, &mut b, "PASSWORD pass").await;
    assert_eq!(ask(&harness, &mut b, "LOGIN ups1").await, "OK\n");
    let mut c = logged_in(&harness, "upsmon", "pass").await;
    assert_eq!(ask(&harness, &mut c, "LOGIN second").await, "OK\n");

    let mut observer = harness.session();
    assert_eq!(ask(&harness, &mut observer, "GET NUMLOGINS Ups1").await, "NUMLOGINS Ups1 2\n");
    assert_eq!(ask(&harness, &mut observer, "GET NUMLOGINS SECOND").await, "NUMLOGINS SECOND 1\n");
    // newest first, configured name in the items, mapped IPv4 shown as IPv4
    assert_eq!(
        ask(&harness, &mut observer, "LIST CLIENT UPS1").await,
        "BEGIN LIST CLIENT UPS1\nCLIENT ups1 10.0.0.7\nCLIENT ups1 127.0.0.1\nEND LIST CLIENT UPS1\n"
    );
    assert_eq!(ask(&harness, &mut observer, "LIST CLIENT nosuchups").await, "ERR UNKNOWN-UPS\n");
    drop(b);
    assert_eq!(ask(&harness, &mut observer, "GET NUMLOGINS ups1").await, "NUMLOGINS ups1 1\n");
    // LIST CLIENT is not gated on freshness, NUMLOGINS is
    harness.device().mark_stale("gone");
    assert_eq!(ask(&harness, &mut observer, "LIST CLIENT ups1").await.lines().count(), 3);
    assert_eq!(ask(&harness, &mut observer, "GET NUMLOGINS ups1").await, "ERR DATA-STALE\n");
    assert_eq!(harness.context.login_count("UPS1"), 1);
    drop(a);
    assert_eq!(harness.context.login_count("ups1"), 0);
}

#[tokio::test]
async fn device_removal_kicks_its_clients() {
    let harness = Harness::new();
    let mut monitor = logged_in(&harness, "upsmon", "pass").await;
    ask(&harness, &mut monitor, "LOGIN ups1").await;
    let kicked = monitor.kick_signal();
    harness.context.device_removed("ups1");
    tokio::time::timeout(std::time::Duration::from_secs(1), kicked.notified())
        .await
        .expect("the connection is told to close");
}

#[tokio::test]
async fn primary_and_master_share_the_right() {
    let text = "[hand]\npassword = p\nactions = MASTER\n[new]\npassword = p\nactions = primary\n";
    let harness = Harness::new();
    harness.context.set_users(Users::parse("u", text).unwrap());
    for user in ["hand", "new"] {
        let mut s = logged_in(&harness, user, "p").await;
        assert_eq!(ask(&harness, &mut s, "PRIMARY ups1").await, "OK PRIMARY-GRANTED\n");
        assert_eq!(ask(&harness, &mut s, "MASTER ups1").await, "OK MASTER-GRANTED\n");
        assert_eq!(ask(&harness, &mut s, "MASTER").await, "ERR INVALID-ARGUMENT\n");
        assert_eq!(ask(&harness, &mut s, "LOGIN ups1").await, "ERR ACCESS-DENIED\n");
    }
    let mut old = logged_in(&harness, "admin", "adminpass").await;
    assert_eq!(ask(&harness, &mut old, "PRIMARY ups1").await, "ERR ACCESS-DENIED\n", "users were reloaded");
}

#[tokio::test]
async fn permissions_deny_alike() {
    let harness = Harness::new();
    for (user, password) in [("admin", "wrong"), ("nobody", "adminpass"), ("ADMIN", "adminpass"), ("upsmon", "pass")] {
        let mut s = logged_in(&harness, user, password).await;
        for request in ["SET VAR ups1 ups.id x", "INSTCMD ups1 load.off"] {
            assert_eq!(ask(&harness, &mut s, request).await, "ERR ACCESS-DENIED\n", "{user}/{password}: {request}");
        }
    }
    for (user, password) in [("admin", "wrong"), ("nobody", "x"), ("admin", "adminpass")] {
        let mut s = logged_in(&harness, user, password).await;
        for request in ["LOGIN ups1", "PRIMARY ups1", "MASTER ups1"] {
            assert_eq!(ask(&harness, &mut s, request).await, "ERR ACCESS-DENIED\n", "{user}/{password}: {request}");
        }
    }
    let mut wrong = logged_in(&harness, "admin", "wrong").await;
    assert!(!format!("{wrong:?}").contains("wrong"), "passwords stay out of Debug");
    assert_eq!(ask(&harness, &mut wrong, "FSD ups1").await, "ERR ACCESS-DENIED\n");
    // SET TRACKING needs only the gate
    assert_eq!(ask(&harness, &mut wrong, "SET TRACKING ON").await, "OK\n");
    // the gate comes before argument checks
    let mut anonymous = harness.session();
    assert_eq!(ask(&harness, &mut anonymous, "SET").await, "ERR USERNAME-REQUIRED\n");
    ask(&harness, &mut anonymous, "USERNAME admin").await;
    assert_eq!(ask(&harness, &mut anonymous, "FSD").await, "ERR PASSWORD-REQUIRED\n");
    assert_eq!(ask(&harness, &mut anonymous, "SET TRACKING ON").await, "ERR PASSWORD-REQUIRED\n");
}

#[tokio::test]
async fn freshness_gates() {
    let store = Arc::new(StateStore::new());
    store.insert(DeviceState::new("starting", Some("Not yet".into())));
    let harness = Harness::with_store(store);
    let mut s = harness.session();
    // a device that has not reported yet is stale, but listed and described
    assert_eq!(ask(&harness, &mut s, "GET VAR starting ups.status").await, "ERR DATA-STALE\n");
    assert_eq!(ask(&harness, &mut s, "LIST UPS").await, "BEGIN LIST UPS\nUPS starting \"Not yet\"\nEND LIST UPS\n");
    assert_eq!(ask(&harness, &mut s, "GET UPSDESC starting").await, "UPSDESC starting \"Not yet\"\n");

    // data older than MAXAGE is stale even if the plugin never said so
    let no_desc = DeviceState::new("old", None);
    no_desc.apply_update([Edit::SetValue("ups.status".into(), "OL".into())]);
    harness.store.insert(no_desc);
    assert_eq!(ask(&harness, &mut s, "GET VAR old ups.status").await, "VAR old ups.status \"OL\"\n");
    let zero_maxage = UpsdConf { maxage: std::time::Duration::ZERO, ..UpsdConf::default() };
    harness.context.apply_conf(&zero_maxage);
    // upsd's grace second: just past MAXAGE the data is still served...
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(ask(&harness, &mut s, "GET VAR old ups.status").await, "VAR old ups.status \"OL\"\n");
    // ...and stale once older than MAXAGE + 1 s.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(ask(&harness, &mut s, "GET VAR old ups.status").await, "ERR DATA-STALE\n");
    assert_eq!(ask(&harness, &mut s, "GET UPSDESC old").await, "UPSDESC old \"Unavailable\"\n");
    assert!(ask(&harness, &mut s, "LIST UPS").await.contains("UPS old \"Description unavailable\"\n"));
}

#[test]
fn random_requests_never_panic() {
    let harness = Harness::new();
    let mut session = harness.session();
    let words = [
        "GET",
        "LIST",
        "SET",
        "INSTCMD",
        "VAR",
        "RW",
        "CMD",
        "ENUM",
        "RANGE",
        "TYPE",
        "DESC",
        "CMDDESC",
        "UPSDESC",
        "NUMLOGINS",
        "TRACKING",
        "CLIENT",
        "UPS",
        "ups1",
        "UPS1",
        "ups.status",
        "load.off",
        "ON",
        "OFF",
        "USERNAME",
        "PASSWORD",
        "admin",
        "adminpass",
        "LOGIN",
        "LOGOUT",
        "FSD",
        "PRIMARY",
        "MASTER",
        "server.info",
        "",
        "é",
        "\"",
        "VER",
        "HELP",
        "STARTTLS",
    ];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..20_000 {
        let mut tokens = Vec::new();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        for n in 0..(seed % 7) {
            tokens.push(words[((seed >> (n * 5)) % words.len() as u64) as usize]);
        }
        let response = handle_request(&harness.context, &mut session, &tokens);
        assert!(response.reply.ends_with(b"\n"));
        if response.close {
            session = harness.session();
        }
    }
}

#[tokio::test]
async fn starttls_as_upsd() {
    // No certificate: refused, whatever the arguments (upsd does not count them).
    let harness = Harness::new();
    let mut s = harness.session();
    for request in [&["STARTTLS"][..], &["starttls", "extra", "args"]] {
        let response = handle_request(&harness.context, &mut s, request);
        assert_eq!(String::from_utf8_lossy(&response.reply), "ERR FEATURE-NOT-CONFIGURED\n");
        assert!(!response.start_tls && !s.tls());
    }

    // With one: accepted once, arguments ignored, after any other request;
    // the session keeps what was set before.
    let harness = Harness::new().with_tls();
    let mut s = logged_in(&harness, "upsmon", "pass").await;
    let response = handle_request(&harness.context, &mut s, &["STARTTLS", "now"]);
    assert_eq!(String::from_utf8_lossy(&response.reply), "OK STARTTLS\n");
    assert!(response.start_tls && !response.close && s.tls());
    let response = handle_request(&harness.context, &mut s, &["STARTTLS"]);
    assert_eq!(String::from_utf8_lossy(&response.reply), "ERR ALREADY-SSL-MODE\n");
    assert!(!response.start_tls && s.tls());
    assert_eq!(ask(&harness, &mut s, "USERNAME again").await, "ERR ALREADY-SET-USERNAME\n");
    assert_eq!(ask(&harness, &mut s, "LOGIN ups1").await, "OK\n");
}
