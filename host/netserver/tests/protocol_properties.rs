//! Properties of the protocol core under arbitrary input: whatever line a
//! client sends (quotes, backslashes, NUL, invalid UTF-8, huge tokens, many
//! tokens), the core answers with a well-formed reply and never panics; and
//! values escaped by the server read back unchanged with NUT's tokenizer.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use hazel_netserver::{ReadOnlyControl, ServerContext, Session, UpsdConf, Users, handle_request};
use hazel_nutconf::parseconf::{self, Tokenizer};
use hazel_state::{DeviceState, Edit, StateStore, VarMeta};
use proptest::prelude::*;

/// upsd's longest reply line, newline included.
const MAX_REPLY_LINE: usize = 511;

const USERS: &str = "[admin]\npassword = adminpass\nactions = SET FSD\ninstcmds = ALL\n\
                     [mon]\npassword = monpass\nupsmon primary\n";

/// Two devices with writable and oddly valued variables.
fn context() -> ServerContext {
    context_and_device().0
}

/// The same, and its device `ups1`.
fn context_and_device() -> (ServerContext, Arc<DeviceState>) {
    let store = Arc::new(StateStore::new());
    let ups1 = DeviceState::new("ups1", Some("Rack \"A\"".into()));
    ups1.apply_update([
        Edit::SetValue("ups.status".into(), "OL".into()),
        Edit::SetValue("battery.charge".into(), "100".into()),
        Edit::SetValue("ups.id".into(), r#"a "quoted" \ value #1"#.into()),
        Edit::SetMeta("ups.id".into(), VarMeta { writable: true, string_max_len: Some(16) }),
        Edit::SetValue("ups.mfr".into(), "m".repeat(600)),
        Edit::AddCommand("load.off".into()),
        Edit::AddCommand("test.battery.start".into()),
    ]);
    let ups1 = store.insert(ups1);
    store.insert(DeviceState::new("empty", None));
    let users = Users::parse("upsd.users", USERS).expect("users");
    (ServerContext::new(store, Arc::new(ReadOnlyControl), users, &UpsdConf::default()), ups1)
}

fn session(context: &ServerContext) -> Session {
    Session::new(context, IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// First words a one-line reply may start with (besides `OK` and `ERR `).
const REPLY_WORDS: &[&str] = &[
    "VAR",
    "TYPE",
    "DESC",
    "CMDDESC",
    "UPSDESC",
    "NUMLOGINS",
    "ON",
    "OFF",
    "PENDING",
    "SUCCESS",
    "Network",
    "1.3",
    "Commands:",
];

/// Checks one reply; returns a description of what is wrong.
fn check_reply(reply: &[u8]) -> Result<(), String> {
    let shown = String::from_utf8_lossy(reply);
    if reply.is_empty() || !reply.ends_with(b"\n") {
        return Err(format!("empty or unterminated reply {shown:?}"));
    }
    let lines: Vec<&[u8]> = reply[..reply.len() - 1].split(|&b| b == b'\n').collect();
    for line in &lines {
        if line.len() + 1 > MAX_REPLY_LINE {
            return Err(format!("line longer than upsd's {MAX_REPLY_LINE} bytes in {shown:?}"));
        }
        if let Some(bad) = line.iter().find(|&&b| !(0x20..=0x7f).contains(&b)) {
            return Err(format!("byte {bad:#04x} upsd never sends in {shown:?}"));
        }
    }
    let text = |line: &[u8]| String::from_utf8(line.to_vec()).expect("checked ASCII");
    let first = text(lines[0]);
    if let Some(what) = first.strip_prefix("BEGIN LIST ") {
        let last = text(lines[lines.len() - 1]);
        if lines.len() < 2 || last != format!("END LIST {what}") {
            return Err(format!("list not closed by END LIST {what}: {shown:?}"));
        }
        let inner = &lines[1..lines.len() - 1];
        if inner.iter().any(|line| line.starts_with(b"BEGIN ") || line.starts_with(b"END ") || line.is_empty()) {
            return Err(format!("malformed list body: {shown:?}"));
        }
        return Ok(());
    }
    if lines.len() != 1 {
        return Err(format!("several lines without BEGIN LIST: {shown:?}"));
    }
    let word = first.split(' ').next().unwrap_or("");
    let known = first == "OK"
        || first.starts_with("OK ")
        || (first.starts_with("ERR ") && first.len() > 4)
        || REPLY_WORDS.contains(&word);
    if !known {
        return Err(format!("unexpected reply line {shown:?}"));
    }
    Ok(())
}

/// Feed `bytes` to the tokenizer and the core as a connection does; check
/// every reply.
fn converse(context: &ServerContext, bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut session = session(context);
    let mut tokenizer = Tokenizer::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (used, event) = tokenizer.push(rest);
        rest = &rest[used..];
        let Some(Ok(line)) = event else { continue };
        let tokens: Vec<&str> = line.tokens().collect();
        let response = handle_request(context, &mut session, &tokens);
        if let Err(problem) = check_reply(&response.reply) {
            return Err(TestCaseError::fail(format!("request {tokens:?}: {problem}")));
        }
        if response.close {
            session = self::session(context);
        }
    }
    Ok(())
}

/// A token: protocol words and names, or hostile bytes.
fn token() -> impl Strategy<Value = Vec<u8>> {
    let words = prop::sample::select(vec![
        "GET",
        "LIST",
        "SET",
        "INSTCMD",
        "LOGIN",
        "LOGOUT",
        "USERNAME",
        "PASSWORD",
        "FSD",
        "PRIMARY",
        "MASTER",
        "STARTTLS",
        "VER",
        "NETVER",
        "HELP",
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
        "CLIENT",
        "UPS",
        "TRACKING",
        "ON",
        "OFF",
        "ups1",
        "UPS1",
        "empty",
        "ups.id",
        "ups.status",
        "ups.mfr",
        "server.info",
        "load.off",
        "admin",
        "adminpass",
        "mon",
        "monpass",
        "=",
    ])
    .prop_map(|word| word.as_bytes().to_vec());
    prop_oneof![
        4 => words,
        2 => prop::collection::vec(any::<u8>(), 0..24),
        1 => prop::collection::vec(prop::sample::select(b"\"\\#\0 \t\r=x\xff\xc3".to_vec()), 0..16),
        1 => (any::<u8>(), 500usize..2000).prop_map(|(byte, len)| vec![byte; len]),
    ]
}

/// A request line: tokens separated by blanks, some in quotes.
fn line() -> impl Strategy<Value = Vec<u8>> {
    let quoted = (token(), any::<bool>()).prop_map(
        |(token, quote)| {
            if quote { [&b"\""[..], &token, b"\""].concat() } else { token }
        },
    );
    prop_oneof![
        6 => prop::collection::vec(quoted, 0..8),
        1 => prop::collection::vec(token(), 30..80),
    ]
    .prop_map(|tokens| {
        let mut line = tokens.join(&b' ');
        line.push(b'\n');
        line
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary bytes, including no line structure at all.
    #[test]
    fn arbitrary_bytes_get_well_formed_replies(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let context = context();
        let mut input = bytes;
        input.push(b'\n');
        converse(&context, &input)?;
    }

    /// Sequences of plausible and hostile requests on one connection, so
    /// that login, tracking and credentials change between them.
    #[test]
    fn request_sequences_get_well_formed_replies(lines in prop::collection::vec(line(), 1..12)) {
        let context = context();
        let mut setup = b"USERNAME admin\nPASSWORD adminpass\nSET TRACKING ON\n".to_vec();
        setup.extend(lines.concat());
        converse(&context, &lines.concat())?;
        converse(&context, &setup)?;
    }

    /// What `GET VAR` and `LIST VAR` send reads back, through NUT's
    /// tokenizer, as the stored value: exactly, minus the characters upsd
    /// can never send, when it fits upsd's line; a prefix when cut.
    #[test]
    fn escaped_values_read_back_unchanged(value in prop_oneof![
        any::<String>(),
        prop::collection::vec(prop::sample::select(vec!['"', '\\', '#', ' ', 'a', '=', '\'', 'é', '\n']), 0..600)
            .prop_map(|chars| chars.into_iter().collect::<String>()),
    ]) {
        let (context, device) = context_and_device();
        device.apply_update([Edit::SetValue("test.value".into(), value.clone())]);
        let sendable: String = value.chars().filter(|c| (' '..='\x7f').contains(c)).collect();
        let mut session = session(&context);

        let reply = handle_request(&context, &mut session, &["GET", "VAR", "ups1", "test.value"]).reply;
        let listed = handle_request(&context, &mut session, &["LIST", "VAR", "ups1"]).reply;
        let listed_line = listed
            .split_inclusive(|&b| b == b'\n')
            .find(|line| line.starts_with(b"VAR ups1 test.value "))
            .expect("LIST VAR shows the variable")
            .to_vec();
        prop_assert_eq!(&reply, &listed_line);

        let tokens: Vec<String> = parseconf::lines(&reply)
            .next()
            .expect("one line")
            .expect("the reply tokenizes")
            .tokens;
        prop_assert_eq!(&tokens[..3], &["VAR", "ups1", "test.value"]);
        prop_assert_eq!(tokens.len(), 4);
        let read_back = &tokens[3];
        let untruncated = format!("VAR ups1 test.value \"{}\"\n", parseconf::encode(&sendable)).len();
        if untruncated <= MAX_REPLY_LINE {
            prop_assert_eq!(read_back, &sendable);
        } else {
            prop_assert!(sendable.starts_with(read_back.as_str()), "{read_back:?} is not a prefix of {sendable:?}");
        }
    }

    /// The escaping alone: any text upsd can send survives encode + tokenize.
    #[test]
    fn encode_round_trips_through_the_tokenizer(value in "[ -\x7f]{0,400}") {
        let line = format!("X \"{}\"\n", parseconf::encode(&value));
        let tokens = parseconf::lines(line.as_bytes()).next().expect("one line").expect("tokenizes").tokens;
        prop_assert_eq!(tokens, vec!["X".to_string(), value]);
    }
}

#[test]
fn reply_checker_rejects_malformed_replies() {
    assert!(check_reply(b"OK\n").is_ok());
    assert!(check_reply(b"BEGIN LIST UPS\nUPS a \"b\"\nEND LIST UPS\n").is_ok());
    for bad in [
        &b""[..],
        b"OK",
        b"OK\nOK\n",
        b"BEGIN LIST UPS\nUPS a\n",
        b"BEGIN LIST UPS\nEND LIST VAR x\n",
        b"ERR \n",
        b"VAR a b \"\x01\"\n",
        b"hello\n",
    ] {
        assert!(check_reply(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
    }
}
