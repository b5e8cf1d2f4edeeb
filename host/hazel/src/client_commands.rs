//! The thin NUT clients: `hazel status` (NUT's `upsc`), `hazel cmd` (`upscmd`)
//! and `hazel set` (`upsrw`). For the same arguments they print the same
//! standard output and standard error and exit with the same status as NUT
//! 2.8.0's tools, against Hazel or any NUT server, with these exceptions:
//!
//! - no `Init SSL without certificate database` line: that is NUT's TLS library
//!   saying it has no certificates, and Hazel's client does not try TLS;
//! - help and usage errors are Hazel's own (clap's), and a missing username,
//!   password or `-s` value is an error instead of a prompt;
//! - a reply that breaks the protocol is always `Error: Protocol error` (upsc
//!   sometimes prints a partial list and succeeds, or crashes);
//! - connecting gives up after 10 s (upsc waits for the system's TCP timeout).

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use hazel_nutclient::address::DEFAULT_HOST;
use hazel_nutclient::{Client, ConnectOptions, Error, ErrorCode, ServerAddress, TrackingStatus, UpsAddress, ValueKind};

/// `hazel status`: NUT's upsc. Parsed apart from the main command line because
/// upsc's `-c` (list clients) would clash with the global `-c CONFDIR`.
#[derive(Debug, Clone, Default, clap::Parser)]
#[command(
    name = "hazel status",
    version,
    about = "Show a UPS's variables, like NUT's upsc: same output, errors and exit status",
    after_help = "UPS is UPSNAME[@HOST[:PORT]]; HOST defaults to localhost, PORT to 3493; \
                  IPv6 addresses go in brackets (ups@[::1]:3493)."
)]
pub struct StatusArgs {
    /// List the UPS names on HOST[:PORT] (default localhost), one per line.
    #[arg(short = 'l')]
    pub list: bool,
    /// List the UPS names with their descriptions.
    #[arg(short = 'L')]
    pub list_with_descriptions: bool,
    /// List the clients logged in to UPS, one per line.
    #[arg(short = 'c')]
    pub clients: bool,
    /// UPS[@HOST[:PORT]], or HOST[:PORT] with -l / -L.
    #[arg(value_name = "UPS")]
    pub target: Option<String>,
    /// Show this variable only.
    pub variable: Option<String>,
    /// Ignored, as upsc ignores them.
    #[arg(hide = true)]
    pub ignored: Vec<String>,
}

/// The options upscmd and upsrw share: who makes the change, and whether to
/// wait for the driver's result.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WriteOptions {
    /// Username (from upsd.users).
    #[arg(short = 'u', value_name = "USERNAME")]
    pub username: Option<String>,
    /// Password.
    #[arg(short = 'p', value_name = "PASSWORD")]
    pub password: Option<String>,
    /// Wait for the driver to carry the request out and show its result.
    #[arg(short = 'w')]
    pub wait: bool,
    /// How long -w waits, in seconds.
    #[arg(short = 't', value_name = "TIMEOUT", default_value_t = 10)]
    pub timeout: u64,
}

/// `hazel cmd`: NUT's upscmd.
#[derive(Debug, Clone, Default, clap::Parser)]
#[command(
    name = "hazel cmd",
    version,
    about = "Run an instant command on a UPS, like NUT's upscmd: same output, errors and exit status",
    after_help = "Unlike upscmd, hazel does not prompt: -u and -p are required to run a command."
)]
pub struct CmdArgs {
    /// Show the instant commands of UPS.
    #[arg(short = 'l', value_name = "UPS")]
    pub list: Option<String>,
    /// Credentials and waiting.
    #[command(flatten)]
    pub write: WriteOptions,
    /// UPS[@HOST[:PORT]].
    #[arg(value_name = "UPS", required_unless_present = "list")]
    pub ups: Option<String>,
    /// The instant command, e.g. test.battery.start.
    #[arg(required_unless_present = "list")]
    pub command: Option<String>,
    /// Its parameter, if it takes one.
    pub value: Option<String>,
}

/// `hazel set`: NUT's upsrw.
#[derive(Debug, Clone, Default, clap::Parser)]
#[command(
    name = "hazel set",
    version,
    about = "Show or set a UPS's writable variables, like NUT's upsrw: same output, errors and exit status",
    after_help = "Without -s, lists the writable variables. Unlike upsrw, hazel does not prompt: \
                  -s needs VAR=VALUE, and -u and -p are required to set."
)]
pub struct SetArgs {
    /// Set a variable: VAR=VALUE.
    #[arg(short = 's', value_name = "VAR=VALUE")]
    pub set: Option<String>,
    /// List the writable variables (the default without -s; -l wins over -s).
    #[arg(short = 'l')]
    pub list: bool,
    /// Credentials and waiting.
    #[command(flatten)]
    pub write: WriteOptions,
    /// UPS[@HOST[:PORT]].
    #[arg(value_name = "UPS")]
    pub ups: String,
}

/// Where a command prints: the process's stdout/stderr, or buffers in tests.
pub struct Console<'a> {
    /// Standard output.
    pub out: &'a mut dyn Write,
    /// Standard error.
    pub err: &'a mut dyn Write,
}

impl Console<'_> {
    fn out(&mut self, text: &str) -> anyhow::Result<()> {
        writeln!(self.out, "{text}").context("cannot write to standard output")
    }

    fn err(&mut self, text: &str) -> anyhow::Result<()> {
        self.out.flush().context("cannot write to standard output")?;
        writeln!(self.err, "{text}").context("cannot write to standard error")
    }

    /// Prints `text` on stderr and returns exit status 1.
    fn fail(&mut self, text: &str) -> anyhow::Result<u8> {
        self.err(text)?;
        Ok(1)
    }
}

/// upsc's message for an invalid `UPS[@HOST[:PORT]]`.
const UPSC_BAD_UPS: &str = "Error: invalid UPS definition.\nRequired format: upsname[@hostname[:port]]";
/// upscmd's and upsrw's message for the same.
const ONE_LINE_BAD_UPS: &str = "Error: invalid UPS definition.  Required format: upsname[@hostname[:port]]";
/// What upsc says when a server does not know a LIST query.
const TOO_OLD_FOR_LIST: &str = "Error: upsd is too old to support this query";

async fn connect(server: &ServerAddress) -> Result<Client, Error> {
    Client::connect(server, &ConnectOptions::default()).await
}

/// `Error: <upsclient's text>` for an error.
fn error_line(error: &Error) -> String {
    format!("Error: {}", error.client_message())
}

/// Like [`error_line`], but naming the query as too new for the server.
fn list_error_line(error: &Error) -> String {
    if error.is(&ErrorCode::UnknownCommand) { TOO_OLD_FOR_LIST.to_owned() } else { error_line(error) }
}

/// Parses `UPS[@HOST[:PORT]]`, printing upsclient's complaint and `invalid` when it is not.
fn parse_ups(console: &mut Console, text: &str, invalid: &str) -> anyhow::Result<Option<UpsAddress>> {
    match UpsAddress::parse(text) {
        Ok(address) => Ok(Some(address)),
        Err(error) => {
            console.err(&format!("upscli_splitaddr: {error}"))?;
            console.err(invalid)?;
            Ok(None)
        }
    }
}

/// `hazel status`: upsc.
pub async fn status(args: &StatusArgs, console: &mut Console<'_>) -> anyhow::Result<u8> {
    if args.list || args.list_with_descriptions {
        let text = args.target.as_deref().unwrap_or(DEFAULT_HOST);
        let server = match ServerAddress::parse(text) {
            Ok(server) => server,
            Err(error) => {
                console.err(&format!("upscli_splitaddr: {error}"))?;
                return console.fail("Error: invalid hostname.\nRequired format: [hostname[:port]]");
            }
        };
        let mut client = match connect(&server).await {
            Ok(client) => client,
            Err(error) => return console.fail(&error_line(&error)),
        };
        let devices = match client.list_ups().await {
            Ok(devices) => devices,
            Err(error) => return console.fail(&list_error_line(&error)),
        };
        for (name, description) in devices {
            if args.list {
                console.out(&name)?;
            } else {
                console.out(&format!("{name}: {description}"))?;
            }
        }
        let _ = client.logout().await;
        return Ok(0);
    }
    let Some(target) = args.target.as_deref() else {
        return console.fail(UPSC_BAD_UPS);
    };
    let Some(address) = parse_ups(console, target, UPSC_BAD_UPS)? else {
        return Ok(1);
    };
    let mut client = match connect(&address.server).await {
        Ok(client) => client,
        Err(error) => return console.fail(&error_line(&error)),
    };
    let ups = address.ups.as_str();
    if args.clients {
        match client.list_clients(ups).await {
            Ok(clients) => {
                for client in clients {
                    console.out(&client)?;
                }
            }
            Err(error) => return console.fail(&list_error_line(&error)),
        }
    } else if let Some(variable) = args.variable.as_deref() {
        if !variable.contains('.') {
            return console.fail("Error: old-style variable names are not supported");
        }
        match client.get_var(ups, variable).await {
            Ok(value) => console.out(&value)?,
            Err(error) if error.is(&ErrorCode::UnknownCommand) => {
                return console.fail("Error: variable unknown (old upsd detected)");
            }
            Err(error) => return console.fail(&error_line(&error)),
        }
    } else {
        match client.list_vars(ups).await {
            Ok(vars) => {
                for (name, value) in vars {
                    console.out(&format!("{name}: {value}"))?;
                }
            }
            Err(error) => return console.fail(&list_error_line(&error)),
        }
    }
    let _ = client.logout().await;
    Ok(0)
}

/// `hazel cmd`: upscmd.
pub async fn cmd(args: &CmdArgs, console: &mut Console<'_>) -> anyhow::Result<u8> {
    if let Some(target) = args.list.as_deref() {
        return list_commands(target, console).await;
    }
    let (Some(target), Some(command)) = (args.ups.as_deref(), args.command.as_deref()) else {
        return console.fail("hazel cmd: give UPS[@HOST[:PORT]] and COMMAND, or -l UPS (see hazel cmd --help)");
    };
    let Some((username, password)) = credentials(console, "cmd", &args.write.username, &args.write.password)? else {
        return Ok(1);
    };
    let Some(address) = parse_ups(console, target, ONE_LINE_BAD_UPS)? else {
        return Ok(1);
    };
    let mut client = match connect(&address.server).await {
        Ok(client) => client,
        Err(error) => return console.fail(&error_line(&error)),
    };
    if !command.contains('.') {
        return console.fail("Error: old command names are not supported");
    }
    if let Some(code) = log_in(&mut client, username, password, console).await? {
        return Ok(code);
    }
    if args.write.wait
        && let Err(error) = client.set_tracking(true).await
    {
        return console.fail(&format!("Enabling command status tracking failed. upsd answered: {}", answer(&error)));
    }
    let accepted = match client.instcmd(&address.ups, command, args.value.as_deref()).await {
        Ok(accepted) => accepted,
        Err(error) => return console.fail(&format!("Unexpected response from upsd: {}", answer(&error))),
    };
    finish(client, accepted, args.write.wait, args.write.timeout, console).await
}

/// `hazel cmd -l`: upscmd -l.
async fn list_commands(target: &str, console: &mut Console<'_>) -> anyhow::Result<u8> {
    let Some(address) = parse_ups(console, target, ONE_LINE_BAD_UPS)? else {
        return Ok(1);
    };
    let mut client = match connect(&address.server).await {
        Ok(client) => client,
        Err(error) => return console.fail(&error_line(&error)),
    };
    let commands = match client.list_cmds(&address.ups).await {
        Ok(commands) => commands,
        Err(error) => return console.fail(&error_line(&error)),
    };
    console.out(&format!("Instant commands supported on UPS [{}]:\n", address.ups))?;
    for command in commands {
        match client.get_cmddesc(&address.ups, &command).await {
            Ok(description) => console.out(&format!("{command} - {description}"))?,
            Err(_) => console.out(&command)?,
        }
    }
    let _ = client.logout().await;
    Ok(0)
}

/// `hazel set`: upsrw.
pub async fn set(args: &SetArgs, console: &mut Console<'_>) -> anyhow::Result<u8> {
    let assignment = if args.list { None } else { args.set.as_deref() };
    let Some(assignment) = assignment else {
        return list_writable(&args.ups, console).await;
    };
    let Some((variable, value)) = assignment.split_once('=') else {
        return console.fail("hazel set: -s needs VAR=VALUE (hazel does not prompt for the value)");
    };
    let Some((username, password)) = credentials(console, "set", &args.write.username, &args.write.password)? else {
        return Ok(1);
    };
    let Some(address) = parse_ups(console, &args.ups, ONE_LINE_BAD_UPS)? else {
        return Ok(1);
    };
    let mut client = match connect(&address.server).await {
        Ok(client) => client,
        Err(error) => return console.fail(&error_line(&error)),
    };
    if !variable.contains('.') {
        return console.fail("Error: old variable names are not supported");
    }
    if let Some(code) = log_in(&mut client, username, password, console).await? {
        return Ok(code);
    }
    if args.write.wait
        && let Err(error) = client.set_tracking(true).await
    {
        let answer = answer(&error);
        return console.fail(&format!("Enabling set variable status tracking failed. upsd answered: {answer}"));
    }
    let accepted = match client.set_var(&address.ups, variable, value).await {
        Ok(accepted) => accepted,
        Err(error) => return console.fail(&format!("Unexpected response from upsd: {}", answer(&error))),
    };
    finish(client, accepted, args.write.wait, args.write.timeout, console).await
}

/// `hazel set UPS`: upsrw's listing of the writable variables.
async fn list_writable(target: &str, console: &mut Console<'_>) -> anyhow::Result<u8> {
    let Some(address) = parse_ups(console, target, ONE_LINE_BAD_UPS)? else {
        return Ok(1);
    };
    let ups = address.ups.as_str();
    let mut client = match connect(&address.server).await {
        Ok(client) => client,
        Err(error) => return console.fail(&error_line(&error)),
    };
    let variables = match client.list_rw(ups).await {
        Ok(variables) => variables,
        Err(error) => return console.fail(&error_line(&error)),
    };
    for (name, _) in variables {
        console.out(&format!("[{name}]"))?;
        let description = client.get_desc(ups, &name).await;
        console.out(description.as_deref().unwrap_or("Description unavailable"))?;
        let Ok(var_type) = client.get_type(ups, &name).await else {
            console.out("Unknown type\n")?;
            continue;
        };
        // The kind as upsrw names it after ENUM/RANGE, with STRING's length.
        let (kind, max_len) = match var_type.kind() {
            Some(ValueKind::String { max_len }) => (" STRING", Some(max_len)),
            Some(ValueKind::Number) => (" NUMBER", None),
            None => ("", None),
        };
        if var_type.is_range() || var_type.is_enum() {
            let (label, step) = if var_type.is_range() { ("RANGE", "do_range") } else { ("ENUM", "do_enum") };
            let Ok(value) = client.get_var(ups, &name).await else {
                return console.fail(&format!("{step}: can't get current value of {name}"));
            };
            let options: Vec<(String, bool)> = if var_type.is_range() {
                match client.list_range(ups, &name).await {
                    Ok(ranges) => ranges.iter().map(|r| (format!("{}-{}", r.min, r.max), r.contains(&value))).collect(),
                    Err(error) => return console.fail(&error_line(&error)),
                }
            } else {
                match client.list_enum(ups, &name).await {
                    Ok(values) => values.into_iter().map(|v| (v.clone(), v == value)).collect(),
                    Err(error) => return console.fail(&error_line(&error)),
                }
            };
            console.out(&format!("Type: {label}{kind}"))?;
            if let Some(max_len) = max_len {
                console.out(&format!("Maximum length: {max_len}"))?;
            }
            for (option, selected) in options {
                console.out(&format!("Option: \"{option}\"{}", if selected { " SELECTED" } else { "" }))?;
            }
        } else {
            for word in &var_type.words {
                let upper = word.to_ascii_uppercase();
                if upper == "RW" {
                    continue;
                }
                let step = if upper == "NUMBER" {
                    "do_number"
                } else if upper.starts_with("STRING:") {
                    "do_string"
                } else {
                    console.out(&format!("Type: {word} (unrecognized)"))?;
                    continue;
                };
                let Ok(value) = client.get_var(ups, &name).await else {
                    return console.fail(&format!("{step}: can't get current value of {name}"));
                };
                match max_len {
                    Some(max_len) if step == "do_string" => {
                        console.out(&format!("Type: STRING\nMaximum length: {max_len}\nValue: {value}"))?
                    }
                    _ => console.out(&format!("Type: NUMBER\nValue: {value}"))?,
                }
                break;
            }
        }
        console.out("")?;
    }
    let _ = client.logout().await;
    Ok(0)
}

/// The username and password, which Hazel requires instead of prompting.
fn credentials<'a>(
    console: &mut Console,
    command: &str,
    username: &'a Option<String>,
    password: &'a Option<String>,
) -> anyhow::Result<Option<(&'a str, &'a str)>> {
    match (username, password) {
        (Some(username), Some(password)) => Ok(Some((username, password))),
        (None, _) => {
            console.err(&format!("hazel {command}: -u USERNAME is required (hazel does not prompt for it)"))?;
            Ok(None)
        }
        (_, None) => {
            console.err(&format!("hazel {command}: -p PASSWORD is required (hazel does not prompt for it)"))?;
            Ok(None)
        }
    }
}

/// USERNAME and PASSWORD. Like upscmd and upsrw, a refusal is not checked
/// here (the server refuses the command itself); a lost connection is.
/// Returns the exit status when the session cannot go on.
async fn log_in(
    client: &mut Client,
    username: &str,
    password: &str,
    console: &mut Console<'_>,
) -> anyhow::Result<Option<u8>> {
    for result in [client.username(username).await, client.password(password).await] {
        match result {
            Ok(()) | Err(Error::Refused { .. }) => {}
            Err(error) => return Ok(Some(console.fail(&error_line(&error))?)),
        }
    }
    Ok(None)
}

/// The server's reply line behind an error, as upscmd and upsrw quote it.
fn answer(error: &Error) -> String {
    match error {
        Error::Refused { code, extra, .. } => {
            std::iter::once(format!("ERR {code}")).chain(extra.iter().cloned()).collect::<Vec<_>>().join(" ")
        }
        other => error_line(other),
    }
}

/// After an accepted INSTCMD or SET VAR: print the reply, or with `-w`,
/// poll the tracking id every second until the result or the timeout.
async fn finish(
    mut client: Client,
    accepted: hazel_nutclient::Accepted,
    wait: bool,
    timeout: u64,
    console: &mut Console<'_>,
) -> anyhow::Result<u8> {
    // upscmd/upsrw wait only for an id of a UUID's length; anything else is shown as is.
    let id = accepted.tracking_id.as_deref().filter(|id| id.len() == 36);
    let (Some(id), true) = (id, wait) else {
        console.err(&accepted.reply)?;
        let _ = client.logout().await;
        return Ok(0);
    };
    let started = Instant::now();
    let timeout = Duration::from_secs(timeout);
    loop {
        if started.elapsed() >= timeout {
            return console.fail("Can't receive status tracking information: timeout");
        }
        match client.get_tracking(id).await {
            Ok(TrackingStatus::Pending) => tokio::time::sleep(Duration::from_secs(1)).await,
            Ok(result) => {
                console.err(&result.to_string())?;
                break;
            }
            Err(error @ Error::Refused { .. }) => {
                console.err(&answer(&error))?;
                break;
            }
            Err(error) => {
                let text = error.client_message();
                return console.fail(&format!("Can't receive status tracking information: {text}"));
            }
        }
    }
    let _ = client.logout().await;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    /// A NUT server on a free loopback port answering each request line with
    /// `answer(line)`; returns its `host:port`.
    async fn serve(answer: fn(&str) -> String) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        if write.write_all(answer(&line).as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        address
    }

    /// Variables with enums and ranges, which dummy devices never have.
    fn typed_vars(line: &str) -> String {
        let words: Vec<&str> = line.split(' ').collect();
        let var = words.get(3).copied().unwrap_or("");
        match (words.first().copied(), words.get(1).copied()) {
            (Some("LIST"), Some("RW")) => "BEGIN LIST RW u\nRW u a.enum \"x\"\nRW u b.range \"5\"\nRW u c.str \"s\"\n\
                                           RW u d.odd \"4\"\nRW u e.none \"1\"\nEND LIST RW u\n"
                .into(),
            (Some("GET"), Some("DESC")) if var == "d.odd" => "ERR VAR-NOT-SUPPORTED\n".into(),
            (Some("GET"), Some("DESC")) => format!("DESC u {var} \"About {var}\"\n"),
            (Some("GET"), Some("TYPE")) => {
                let words = match var {
                    "a.enum" => "RW ENUM STRING:10",
                    "b.range" => "RW RANGE NUMBER",
                    "c.str" => "RW STRING:5",
                    "d.odd" => "RW FOO NUMBER",
                    _ => return "ERR DATA-STALE\n".into(),
                };
                format!("TYPE u {var} {words}\n")
            }
            (Some("GET"), Some("VAR")) => {
                let value = match var {
                    "a.enum" => "x",
                    "b.range" => "5",
                    "c.str" => "s",
                    _ => "4",
                };
                format!("VAR u {var} \"{value}\"\n")
            }
            (Some("LIST"), Some("ENUM")) => "BEGIN LIST ENUM u a.enum\nENUM u a.enum \"w\"\nENUM u a.enum \"x\"\n\
                                             ENUM u a.enum \"y z\"\nEND LIST ENUM u a.enum\n"
                .into(),
            (Some("LIST"), Some("RANGE")) => "BEGIN LIST RANGE u b.range\nRANGE u b.range \"1\" \"3\"\n\
                                              RANGE u b.range \"5\" \"10\"\nEND LIST RANGE u b.range\n"
                .into(),
            (Some("LOGOUT"), _) => "OK Goodbye\n".into(),
            _ => "ERR UNKNOWN-COMMAND\n".into(),
        }
    }

    #[tokio::test]
    async fn set_lists_enums_ranges_and_odd_types_as_upsrw_does() {
        let server = serve(typed_vars).await;
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let args = SetArgs { ups: format!("u@{server}"), ..SetArgs::default() };
        let status = set(&args, &mut Console { out: &mut out, err: &mut err }).await.unwrap();
        // What upsrw 2.8.0 printed for the same replies.
        let expected = "[a.enum]\nAbout a.enum\nType: ENUM STRING\nMaximum length: 10\nOption: \"w\"\n\
                        Option: \"x\" SELECTED\nOption: \"y z\"\n\n\
                        [b.range]\nAbout b.range\nType: RANGE NUMBER\nOption: \"1-3\"\nOption: \"5-10\" SELECTED\n\n\
                        [c.str]\nAbout c.str\nType: STRING\nMaximum length: 5\nValue: s\n\n\
                        [d.odd]\nDescription unavailable\nType: FOO (unrecognized)\nType: NUMBER\nValue: 4\n\n\
                        [e.none]\nAbout e.none\nUnknown type\n\n";
        assert_eq!(String::from_utf8_lossy(&out), expected);
        assert_eq!(String::from_utf8_lossy(&err), "");
        assert_eq!(status, 0);
    }

    #[tokio::test]
    async fn an_old_server_is_named_as_upsc_names_it() {
        let server = serve(typed_vars).await;
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let args = StatusArgs { target: Some(format!("u@{server}")), ..StatusArgs::default() };
        let status = status(&args, &mut Console { out: &mut out, err: &mut err }).await.unwrap();
        assert_eq!(
            (status, String::from_utf8_lossy(&err).as_ref()),
            (1, "Error: upsd is too old to support this query\n")
        );
        let args =
            StatusArgs { target: Some(format!("u@{server}")), variable: Some("a.b".into()), ..StatusArgs::default() };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let status = super::status(&args, &mut Console { out: &mut out, err: &mut err }).await.unwrap();
        assert_eq!(status, 0);
        assert_eq!(String::from_utf8_lossy(&out), "4\n");
    }

    #[tokio::test]
    async fn missing_credentials_are_refused_before_connecting() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let args =
            CmdArgs { ups: Some("u@127.0.0.1:1".into()), command: Some("load.off".into()), ..CmdArgs::default() };
        let status = cmd(&args, &mut Console { out: &mut out, err: &mut err }).await.unwrap();
        assert_eq!(status, 1);
        assert!(String::from_utf8_lossy(&err).contains("-u USERNAME is required"));
    }
}
