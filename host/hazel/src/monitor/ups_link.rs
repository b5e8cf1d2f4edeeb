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
    /// [`REQUEST_TIMEOUT`], shorter in tests.
    request_timeout: Duration,
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
        UpsLink { id, monitor, client: None, request_timeout: REQUEST_TIMEOUT, inputs }
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
        let timeout = self.request_timeout;
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
        let result = match tokio::time::timeout(timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(Failure::Connection(format!("{server} did not answer within {timeout:?}"))),
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use hazel_monitor::upsmon_conf::UpsmonConf;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    use super::*;

    /// A NUT server answering each request line with `answer(line)`
    /// (`None`: never answer); records every line and counts connections.
    struct ScriptedServer {
        port: u16,
        requests: Arc<Mutex<Vec<String>>>,
        connections: Arc<Mutex<usize>>,
    }

    impl ScriptedServer {
        async fn start(answer: fn(&str) -> Option<String>) -> ScriptedServer {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let requests = Arc::new(Mutex::new(Vec::new()));
            let connections = Arc::new(Mutex::new(0));
            let (seen, count) = (requests.clone(), connections.clone());
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    *count.lock().unwrap() += 1;
                    let seen = seen.clone();
                    tokio::spawn(async move {
                        let (read, mut write) = stream.into_split();
                        let mut lines = BufReader::new(read).lines();
                        while let Ok(Some(line)) = lines.next_line().await {
                            seen.lock().unwrap().push(line.clone());
                            match answer(&line) {
                                Some(reply) => write.write_all(format!("{reply}\n").as_bytes()).await.unwrap(),
                                // Hold the connection open, silent.
                                None => std::future::pending::<()>().await,
                            }
                        }
                    });
                }
            });
            ScriptedServer { port, requests, connections }
        }

        fn requests(&self) -> Vec<String> {
            self.requests.lock().unwrap().clone()
        }

        fn connections(&self) -> usize {
            *self.connections.lock().unwrap()
        }
    }

    fn monitor(port: u16, role: &str) -> Monitor {
        let text = format!("MONITOR ups@127.0.0.1:{port} 1 monuser secret {role}\n");
        let conf = UpsmonConf::parse("upsmon.conf", text).unwrap();
        conf.monitors[0].clone()
    }

    /// A link to `server`, and the receiving end of its inputs.
    fn link(server: &ScriptedServer, role: &str) -> (UpsLink, mpsc::UnboundedReceiver<Input>) {
        let (inputs, received) = mpsc::unbounded_channel();
        let mut link = UpsLink::new(UpsId(0), monitor(server.port, role), inputs);
        link.request_timeout = Duration::from_millis(500);
        (link, received)
    }

    fn upsd(line: &str) -> Option<String> {
        Some(match line {
            "GET VAR ups ups.status" => "VAR ups ups.status \"ALARM OB\"".to_string(),
            "GET VAR ups ups.alarm" => "VAR ups ups.alarm \"Fan failure\"".to_string(),
            "GET NUMLOGINS ups" => "NUMLOGINS ups 2".to_string(),
            _ => "OK".to_string(),
        })
    }

    #[tokio::test]
    async fn logs_in_as_upsmon_does_then_polls_on_one_connection() {
        let server = ScriptedServer::start(upsd).await;
        let (mut link, mut inputs) = link(&server, "primary");
        let expected = PollResult::Status { status: "ALARM OB".to_string(), alarm: Some("Fan failure".to_string()) };
        assert_eq!(link.poll().await, expected);
        assert_eq!(inputs.try_recv().unwrap(), Input::Login { ups: UpsId(0), result: Ok(()) });
        assert_eq!(inputs.try_recv().unwrap(), Input::Primary { ups: UpsId(0), result: Ok(()) });
        assert!(matches!(link.poll().await, PollResult::Status { .. }));
        assert!(matches!(link.call(Query::Fsd).await, Ok(Answer::Done)));
        assert!(matches!(link.call(Query::NumLogins).await, Ok(Answer::Count(2))));
        assert_eq!(
            server.requests(),
            [
                "USERNAME monuser",
                "PASSWORD secret",
                "LOGIN ups",
                "PRIMARY ups",
                "GET VAR ups ups.status",
                "GET VAR ups ups.alarm",
                "GET VAR ups ups.status",
                "GET VAR ups ups.alarm",
                "FSD ups",
                "GET NUMLOGINS ups",
            ]
        );
        assert_eq!(server.connections(), 1);
    }

    #[tokio::test]
    async fn a_secondary_does_not_ask_for_primary_mode() {
        let server = ScriptedServer::start(upsd).await;
        let (mut link, _inputs) = link(&server, "secondary");
        link.poll().await;
        assert!(!server.requests().iter().any(|request| request.starts_with("PRIMARY")));
    }

    #[tokio::test]
    async fn refusals_are_reported_and_keep_the_connection() {
        fn refusing(line: &str) -> Option<String> {
            Some(match line {
                "LOGIN ups" => "ERR ACCESS-DENIED".to_string(),
                "GET VAR ups ups.status" => "ERR DATA-STALE".to_string(),
                _ => "OK".to_string(),
            })
        }
        let server = ScriptedServer::start(refusing).await;
        let (mut link, mut inputs) = link(&server, "primary");
        assert_eq!(link.poll().await, PollResult::Failed(PollFailure::DataStale));
        let Input::Login { result: Err(reason), .. } = inputs.try_recv().unwrap() else { panic!("no login input") };
        assert!(reason.contains("ACCESS-DENIED"), "{reason}");
        // Without a login there is no point asking for primary mode.
        assert!(inputs.try_recv().is_err());
        assert_eq!(link.poll().await, PollResult::Failed(PollFailure::DataStale));
        assert_eq!(server.connections(), 1);
    }

    #[tokio::test]
    async fn a_silent_server_fails_the_poll_and_the_next_one_reconnects() {
        fn silent_on_status(line: &str) -> Option<String> {
            (line != "GET VAR ups ups.status").then(|| "OK".to_string())
        }
        let server = ScriptedServer::start(silent_on_status).await;
        let (mut link, _inputs) = link(&server, "secondary");
        let PollResult::Failed(PollFailure::ConnectionLost(reason)) = link.poll().await else {
            panic!("a silent server must fail the poll")
        };
        assert!(reason.contains(&format!("127.0.0.1:{}", server.port)), "names the server: {reason}");
        link.poll().await;
        assert_eq!(server.connections(), 2);
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_lost_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let (inputs, _received) = mpsc::unbounded_channel();
        let mut link = UpsLink::new(UpsId(0), monitor(port, "primary"), inputs);
        assert!(matches!(link.poll().await, PollResult::Failed(PollFailure::ConnectionLost(_))));
    }

    #[tokio::test]
    async fn run_answers_each_request_and_logs_out_when_closed() {
        let server = ScriptedServer::start(upsd).await;
        let (link, mut inputs) = link(&server, "primary");
        let (requests, received) = mpsc::unbounded_channel();
        let task = tokio::spawn(link.run(received));
        requests.send(Request::Poll).unwrap();
        requests.send(Request::NumLogins).unwrap();
        drop(requests);
        task.await.unwrap();
        let answers: Vec<Input> = std::iter::from_fn(|| inputs.try_recv().ok()).collect();
        assert!(matches!(answers[2], Input::Poll { result: PollResult::Status { .. }, .. }), "{answers:?}");
        assert_eq!(answers[3], Input::NumLogins { ups: UpsId(0), result: Ok(2) });
        assert_eq!(server.requests().last().map(String::as_str), Some("LOGOUT"));
    }
}
