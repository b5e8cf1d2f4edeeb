//! One `MONITOR` line's connection to its NUT server, as upsmon keeps it.
//!
//! A task per UPS owns the connection and carries out the requests the
//! state machine asks for (poll, `FSD`, `NUMLOGINS`) one at a time, in the
//! order given, so a UPS never has two requests on the wire at once. It
//! (re)connects on demand, like upsmon does at each poll: connect,
//! `USERNAME`, `PASSWORD`, `LOGIN <ups>` and, for a primary, `PRIMARY <ups>`
//! (`MASTER` for older servers). A refused login or primary mode is
//! reported and the connection kept, as upsmon does. Every request is
//! bounded in time: a server that stops answering makes a failed poll,
//! never a stuck monitor.

use std::time::Duration;

use hazel_monitor::machine::{Input, PollFailure, PollResult, UpsId};
use hazel_monitor::status::Status;
use hazel_monitor::upsmon_conf::{Monitor, Role};
use hazel_nutclient::{Client, ConnectOptions, Error, ErrorCode, ServerAddress};
use tokio::sync::mpsc;

/// Longest a whole request may take, connecting and logging in included.
/// upsclient waits 5 s per reply; a login is five of them.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// How long to wait for the server's answer to `LOGOUT` when stopping.
const LOGOUT_TIMEOUT: Duration = Duration::from_secs(2);

/// Timeouts of the connection itself.
const CONNECT_OPTIONS: ConnectOptions =
    ConnectOptions { connect_timeout: Duration::from_secs(5), reply_timeout: Duration::from_secs(5) };

/// What the machine asked of one UPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Request {
    /// `GET VAR <ups> ups.status` (and `ups.alarm` while `ALARM`); answers [`Input::Poll`].
    Poll,
    /// `FSD <ups>`; answers [`Input::Fsd`].
    Fsd,
    /// `GET NUMLOGINS <ups>`; answers [`Input::NumLogins`].
    NumLogins,
}

/// The connection of one `MONITOR` line.
pub(crate) struct UpsLink {
    id: UpsId,
    monitor: Monitor,
    client: Option<Client>,
    /// Where answers go, as inputs for the machine.
    inputs: mpsc::UnboundedSender<Input>,
}

/// One request on the wire.
#[derive(Debug, Clone, Copy)]
enum Query {
    /// `GET VAR <ups> <name>`.
    Variable(&'static str),
    /// `FSD <ups>`.
    Fsd,
    /// `GET NUMLOGINS <ups>`.
    NumLogins,
}

/// What a [`Query`] got back.
enum Answer {
    /// A variable's value.
    Text(String),
    /// A count.
    Count(u32),
    /// `OK`.
    Done,
}

/// Why a request could not be made.
enum Failure {
    /// The server refused it (`ERR`); the connection stays usable.
    Refused(Error),
    /// The connection failed or broke, or the server took too long.
    Connection(String),
}

impl Failure {
    fn text(&self) -> String {
        match self {
            Failure::Refused(error) => error.to_string(),
            Failure::Connection(reason) => reason.clone(),
        }
    }
}

impl UpsLink {
    /// A link for `monitor` (the machine's `id`), not connected yet.
    pub(crate) fn new(id: UpsId, monitor: Monitor, inputs: mpsc::UnboundedSender<Input>) -> UpsLink {
        UpsLink { id, monitor, client: None, inputs }
    }

    /// Carries out requests until the sender is dropped, then logs out.
    pub(crate) async fn run(mut self, mut requests: mpsc::UnboundedReceiver<Request>) {
        while let Some(request) = requests.recv().await {
            let input = match request {
                Request::Poll => Input::Poll { ups: self.id, result: self.poll().await },
                Request::Fsd => {
                    let result = self.call(Query::Fsd).await.map(|_| ());
                    Input::Fsd { ups: self.id, result: result.map_err(|failure| failure.text()) }
                }
                Request::NumLogins => {
                    let result = match self.call(Query::NumLogins).await {
                        Ok(Answer::Count(count)) => Ok(count),
                        Ok(_) => Err("no count in the answer".to_string()),
                        Err(failure) => Err(failure.text()),
                    };
                    Input::NumLogins { ups: self.id, result }
                }
            };
            if self.inputs.send(input).is_err() {
                break;
            }
        }
        if let Some(client) = self.client.take() {
            // A polite LOGOUT; the socket closes either way, which is what a primary counts.
            let _ = tokio::time::timeout(LOGOUT_TIMEOUT, client.logout()).await;
        }
    }

    /// One status poll.
    async fn poll(&mut self) -> PollResult {
        let status = match self.call(Query::Variable("ups.status")).await {
            Ok(Answer::Text(status)) => status,
            Ok(_) => String::new(),
            Err(failure) => return PollResult::Failed(poll_failure(failure)),
        };
        let alarm = if Status::parse(&status).alarm {
            // The alarm text only enriches the ALARM notice: without it the poll still counts.
            match self.call(Query::Variable("ups.alarm")).await {
                Ok(Answer::Text(alarm)) => Some(alarm),
                _ => None,
            }
        } else {
            None
        };
        PollResult::Status { status, alarm }
    }

    /// Sends `query`, connecting first when needed, within
    /// [`REQUEST_TIMEOUT`]. A failure other than a refusal drops the
    /// connection: the next request reconnects.
    async fn call(&mut self, query: Query) -> Result<Answer, Failure> {
        let server = self.server_name();
        let attempt = async {
            self.connect().await?;
            let Some(client) = self.client.as_mut() else {
                return Err(Failure::Connection(format!("not connected to {server}")));
            };
            let ups = self.monitor.system.ups.as_str();
            let answer = match query {
                Query::Variable(name) => client.get_var(ups, name).await.map(Answer::Text),
                Query::Fsd => client.fsd(ups).await.map(|()| Answer::Done),
                Query::NumLogins => client.get_numlogins(ups).await.map(Answer::Count),
            };
            answer.map_err(classify)
        };
        let result = match tokio::time::timeout(REQUEST_TIMEOUT, attempt).await {
            Ok(result) => result,
            Err(_) => Err(Failure::Connection(format!(
                "{} did not answer within {} s",
                self.server_name(),
                REQUEST_TIMEOUT.as_secs()
            ))),
        };
        if let Err(Failure::Connection(_)) = &result {
            self.client = None;
        }
        result
    }

    /// Connects and logs in, unless connected already.
    async fn connect(&mut self) -> Result<(), Failure> {
        if self.client.is_some() {
            return Ok(());
        }
        let server = ServerAddress::new(self.monitor.system.host.clone(), self.monitor.system.port);
        let mut client = Client::connect(&server, &CONNECT_OPTIONS).await.map_err(classify_connect)?;
        let ups = self.monitor.system.ups.as_str();
        let login = async {
            client.username(&self.monitor.username).await?;
            client.password(&self.monitor.password).await?;
            client.login(ups).await
        }
        .await
        .map_err(classify);
        let logged_in = match login {
            Ok(()) => true,
            Err(Failure::Refused(error)) => {
                self.report(Input::Login { ups: self.id, result: Err(error.to_string()) });
                false
            }
            Err(failure) => return Err(failure),
        };
        if logged_in {
            self.report(Input::Login { ups: self.id, result: Ok(()) });
            if self.monitor.role == Role::Primary {
                match client.primary(ups).await.map_err(classify) {
                    Ok(()) => self.report(Input::Primary { ups: self.id, result: Ok(()) }),
                    Err(Failure::Refused(error)) => {
                        self.report(Input::Primary { ups: self.id, result: Err(error.to_string()) })
                    }
                    Err(failure) => return Err(failure),
                }
            }
        }
        self.client = Some(client);
        Ok(())
    }

    fn report(&self, input: Input) {
        // The machine has stopped listening only when the monitor is going away.
        let _ = self.inputs.send(input);
    }

    fn server_name(&self) -> String {
        ServerAddress::new(self.monitor.system.host.clone(), self.monitor.system.port).to_string()
    }
}

/// A refusal keeps the connection; anything else means it is broken or
/// out of step with the server.
fn classify(error: Error) -> Failure {
    match error {
        Error::Refused { .. } => Failure::Refused(error),
        other => Failure::Connection(other.to_string()),
    }
}

fn classify_connect(error: Error) -> Failure {
    Failure::Connection(error.to_string())
}

fn poll_failure(failure: Failure) -> PollFailure {
    match failure {
        Failure::Refused(error) => match error.code() {
            Some(ErrorCode::DataStale) => PollFailure::DataStale,
            Some(ErrorCode::DriverNotConnected) => PollFailure::DriverNotConnected,
            Some(ErrorCode::UnknownUps) => PollFailure::UnknownUps,
            Some(ErrorCode::AccessDenied) => PollFailure::LoginRefused(error.to_string()),
            _ => PollFailure::Other(error.to_string()),
        },
        Failure::Connection(reason) => PollFailure::ConnectionLost(reason),
    }
}
