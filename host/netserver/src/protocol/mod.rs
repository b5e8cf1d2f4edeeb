//! The protocol core: one tokenized request in, the complete reply out.
//!
//! Synchronous and free of I/O, so every reply can be checked without
//! sockets. The connection task feeds it each line the tokenizer completes
//! and writes each [`Response`] with a single write (a `LIST` included).
//!
//! Behaviour follows upsd 2.8.0 (spec `net-protocol.md`, and the golden
//! transcript `tests/data/upsd-2.8.0-transcript.txt`): keywords and names are
//! case-insensitive, names are echoed as the client typed them, and errors are
//! checked in upsd's order. Deliberate differences are noted where they are
//! made.

mod get;
mod list;
mod reply;
mod session_commands;
mod write;

use std::borrow::Cow;
use std::cell::Cell;
use std::net::IpAddr;
use std::sync::Arc;

use hazel_state::{Availability, DeviceState, Snapshot};
use tokio::sync::Notify;

use crate::context::{ClientRegistry, ServerContext};
use crate::control::BoxFuture;
use reply::{NutError, Reply};

/// Per-connection state: credentials, login and tracking flag.
///
/// Creating a session registers the client (for `LIST CLIENT` and
/// `NUMLOGINS`); dropping it unregisters, so a disconnect undoes a `LOGIN`.
pub struct Session {
    peer: IpAddr,
    username: Option<String>,
    password: Option<String>,
    /// Device name (configured spelling) after a successful `LOGIN`.
    login: Option<String>,
    tracking: bool,
    /// `STARTTLS` was accepted: the connection is (or is about to be) TLS.
    tls: bool,
    client_id: u64,
    kick: Arc<Notify>,
    clients: Arc<ClientRegistry>,
}

impl Session {
    /// A new connection from `peer`.
    pub fn new(context: &ServerContext, peer: IpAddr) -> Self {
        // `LIST CLIENT` shows IPv4 clients of a dual-stack socket as IPv4.
        let peer = peer.to_canonical();
        let clients = context.clients.clone();
        let (client_id, kick) = clients.register(peer);
        Session {
            peer,
            username: None,
            password: None,
            login: None,
            tracking: false,
            tls: false,
            client_id,
            kick,
            clients,
        }
    }

    /// The client's address.
    pub fn peer(&self) -> IpAddr {
        self.peer
    }

    /// The `USERNAME` given, if any.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The device this client did `LOGIN` to, if any.
    pub fn login(&self) -> Option<&str> {
        self.login.as_deref()
    }

    /// Whether `SET TRACKING ON` is in force.
    pub fn tracking(&self) -> bool {
        self.tracking
    }

    /// Whether `STARTTLS` was accepted on this connection.
    pub fn tls(&self) -> bool {
        self.tls
    }

    /// Notified when the server wants this connection closed (its device
    /// was removed from the configuration).
    pub fn kick_signal(&self) -> Arc<Notify> {
        self.kick.clone()
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password stays out of logs.
        f.debug_struct("Session")
            .field("peer", &self.peer)
            .field("username", &self.username)
            .field("password_set", &self.password.is_some())
            .field("login", &self.login)
            .field("tracking", &self.tracking)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.clients.unregister(self.client_id);
    }
}

/// A device's execution of a write, already wired to record its tracking
/// result; the connection task spawns it.
pub type PendingWrite = BoxFuture<'static, ()>;

/// Everything that follows from one request.
pub struct Response {
    /// The complete reply, every line newline-terminated; written at once.
    pub reply: Vec<u8>,
    /// Close the connection after writing the reply (`LOGOUT`).
    pub close: bool,
    /// A write handed to a device: drive it to completion (e.g. spawn it).
    pub pending_write: Option<PendingWrite>,
    /// `STARTTLS` accepted: after writing the reply, the next bytes on the
    /// connection are the client's TLS handshake.
    pub start_tls: bool,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("reply", &String::from_utf8_lossy(&self.reply))
            .field("close", &self.close)
            .field("pending_write", &self.pending_write.is_some())
            .field("start_tls", &self.start_tls)
            .finish()
    }
}

impl From<Reply> for Response {
    fn from(reply: Reply) -> Self {
        Response { reply: reply.into_bytes(), close: false, pending_write: None, start_tls: false }
    }
}

impl From<NutError> for Response {
    fn from(error: NutError) -> Self {
        Reply::from(error).into()
    }
}

/// The request keywords upsd 2.8.0 knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Command {
    Ver,
    NetVer,
    Help,
    StartTls,
    Get,
    List,
    Username,
    Password,
    Login,
    Logout,
    Primary,
    Master,
    Fsd,
    Set,
    InstCmd,
}

impl Command {
    fn parse(keyword: &str) -> Option<Command> {
        const TABLE: &[(&str, Command)] = &[
            ("VER", Command::Ver),
            ("NETVER", Command::NetVer),
            ("PROTVER", Command::NetVer),
            ("HELP", Command::Help),
            ("STARTTLS", Command::StartTls),
            ("GET", Command::Get),
            ("LIST", Command::List),
            ("USERNAME", Command::Username),
            ("PASSWORD", Command::Password),
            ("LOGIN", Command::Login),
            ("LOGOUT", Command::Logout),
            ("PRIMARY", Command::Primary),
            ("MASTER", Command::Master),
            ("FSD", Command::Fsd),
            ("SET", Command::Set),
            ("INSTCMD", Command::InstCmd),
        ];
        TABLE.iter().find(|(name, _)| name.eq_ignore_ascii_case(keyword)).map(|(_, command)| *command)
    }

    /// Commands behind upsd's gate: USERNAME and PASSWORD must have been sent
    /// (not validated here; each handler checks the rights it needs).
    fn needs_credentials(self) -> bool {
        matches!(
            self,
            Command::Login | Command::Primary | Command::Master | Command::Fsd | Command::Set | Command::InstCmd
        )
    }
}

/// Answer one request. `tokens` is one line from the parseconf tokenizer;
/// an empty line is answered too (`ERR UNKNOWN-COMMAND`, as upsd does).
pub fn handle_request(context: &ServerContext, session: &mut Session, tokens: &[&str]) -> Response {
    handle_request_into(context, session, tokens, Vec::new())
}

/// [`handle_request`], writing the reply into `buffer` (cleared first) where
/// the command allows, so a connection can hand the same allocation back in
/// for every request. The reply comes back in [`Response::reply`].
pub fn handle_request_into(
    context: &ServerContext,
    session: &mut Session,
    tokens: &[&str],
    buffer: Vec<u8>,
) -> Response {
    let Some((keyword, args)) = tokens.split_first() else {
        return NutError::UnknownCommand.into();
    };
    let Some(command) = Command::parse(keyword) else {
        return NutError::UnknownCommand.into();
    };
    if command.needs_credentials() {
        if session.username.is_none() {
            return NutError::UsernameRequired.into();
        }
        if session.password.is_none() {
            return NutError::PasswordRequired.into();
        }
    }
    let request = Request { context, args, buffer: Cell::new(buffer) };
    let result = match command {
        Command::Ver => request.no_args(|| Reply::single(&context.identity.banner())),
        Command::NetVer => request.no_args(|| Reply::single(PROTOCOL_VERSION)),
        Command::Help => request.no_args(|| Reply::single(HELP)),
        Command::StartTls => session_commands::start_tls(&request, session),
        Command::Get => get::get(&request, session).map(Response::from),
        Command::List => list::list(&request).map(Response::from),
        Command::Username => session_commands::username(&request, session),
        Command::Password => session_commands::password(&request, session),
        Command::Login => session_commands::login(&request, session),
        Command::Logout => session_commands::logout(&request),
        Command::Primary => session_commands::primary(&request, session, "OK PRIMARY-GRANTED"),
        Command::Master => session_commands::primary(&request, session, "OK MASTER-GRANTED"),
        Command::Fsd => session_commands::fsd(&request, session),
        Command::Set => write::set(&request, session),
        Command::InstCmd => write::instcmd(&request, session),
    };
    result.unwrap_or_else(|error| {
        let mut reply = request.reply();
        reply.line_parts(&["ERR ", error.token()]);
        reply.into()
    })
}

/// `NETVER`/`PROTVER`: the protocol version upsd 2.8.0 speaks.
const PROTOCOL_VERSION: &str = "1.3";

/// upsd declares data stale only once it is older than MAXAGE plus one second.
const STALE_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// upsd 2.8.0's `HELP` text, verbatim (it does not list PROTVER).
const HELP: &str = "Commands: HELP VER GET LIST SET INSTCMD LOGIN LOGOUT USERNAME PASSWORD STARTTLS";

/// One request being answered: the shared context and the arguments after
/// the keyword.
struct Request<'a> {
    context: &'a ServerContext,
    args: &'a [&'a str],
    /// The connection's reply buffer, until a handler takes it.
    buffer: Cell<Vec<u8>>,
}

impl Request<'_> {
    /// An empty reply in the connection's buffer (a fresh one if already taken).
    fn reply(&self) -> Reply {
        Reply::with_buffer(self.buffer.take())
    }

    /// Argument `index`, or `INVALID-ARGUMENT` if the client sent fewer.
    fn arg(&self, index: usize) -> Result<&str, NutError> {
        self.args.get(index).copied().ok_or(NutError::InvalidArgument)
    }

    /// For commands that take no arguments (upsd refuses any).
    fn no_args(&self, reply: impl FnOnce() -> Reply) -> Result<Response, NutError> {
        if !self.args.is_empty() {
            return Err(NutError::InvalidArgument);
        }
        Ok(reply().into())
    }

    /// For commands that take exactly one argument; returns it.
    fn single_arg(&self) -> Result<&str, NutError> {
        match self.args {
            [only] => Ok(only),
            _ => Err(NutError::InvalidArgument),
        }
    }

    /// The device named `name` (any case), or `UNKNOWN-UPS`.
    fn device(&self, name: &str) -> Result<Arc<DeviceState>, NutError> {
        self.context.store.get(name).ok_or(NutError::UnknownUps)
    }

    /// The device's data if it may be served: it is connected (see
    /// [`DeviceControl::is_connected`](crate::DeviceControl::is_connected); `DRIVER-NOT-CONNECTED` otherwise) and
    /// its data is fresh, i.e. it reported within `MAXAGE` plus upsd's one
    /// grace second (`DATA-STALE` otherwise, also while restarting).
    fn fresh_snapshot(&self, device: &DeviceState) -> Result<Arc<Snapshot>, NutError> {
        if !self.context.control.is_connected(device.name()) {
            return Err(NutError::DriverNotConnected);
        }
        let snapshot = device.snapshot();
        if snapshot.availability != Availability::Fresh {
            return Err(NutError::DataStale);
        }
        match snapshot.last_update {
            Some(at) if at.elapsed() <= self.context.maxage() + STALE_GRACE => Ok(snapshot),
            _ => Err(NutError::DataStale),
        }
    }

    /// A variable's value as clients see it: `ups.status` gets the `FSD `
    /// prefix while the device's FSD latch is set.
    fn presented_value<'v>(&self, device: &DeviceState, variable: &str, value: &'v str) -> Cow<'v, str> {
        if variable.eq_ignore_ascii_case("ups.status") && self.context.fsd_latched(device.name()) {
            Cow::Owned(format!("FSD {value}"))
        } else {
            Cow::Borrowed(value)
        }
    }
}

#[cfg(test)]
mod tests;
