//! A connection to a NUT server: one request line out, its reply in.
//!
//! Replies are framed by `\n` and each line is tokenized on its own with
//! NUT's parseconf rules ([`hazel_nutconf::parseconf`]), so quoting and
//! escaping read exactly as NUT's clients read them. Everything a server
//! sends is bounded: a reply line of more than [`MAX_REPLY_LINE`] bytes, a
//! list of more than [`MAX_LIST_ENTRIES`] entries or a reply that takes longer
//! than the reply timeout is an error naming the server, never unbounded
//! memory or a hang.

use std::time::Duration;

use hazel_nutconf::parseconf;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::address::ServerAddress;
use crate::error::{Error, ErrorCode};
use crate::variable::{Range, RwVariable, TrackingStatus, VarType};

/// Longest reply line accepted, newline included. upsd never sends more than
/// 511 bytes per line; the margin is for other servers.
pub const MAX_REPLY_LINE: usize = 4096;

/// Most entries accepted in one `LIST` reply.
pub const MAX_LIST_ENTRIES: usize = 10_000;

/// Timeouts for a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectOptions {
    /// For resolving the host and connecting.
    pub connect_timeout: Duration,
    /// For each reply line.
    pub reply_timeout: Duration,
}

impl Default for ConnectOptions {
    /// 10 s to connect; 5 s per reply line, as NUT's client library allows.
    fn default() -> Self {
        ConnectOptions { connect_timeout: Duration::from_secs(10), reply_timeout: Duration::from_secs(5) }
    }
}

/// The server's answer to an `INSTCMD` or `SET VAR` it accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The reply line as sent (`OK`, `OK TRACKING <id>`, …).
    pub reply: String,
    /// The id to ask `GET TRACKING` about, when tracking is on.
    pub tracking_id: Option<String>,
}

/// One reply line: its text (for bare replies like `VER`) and its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ReplyLine {
    text: String,
    tokens: Vec<String>,
}

/// A connection to a NUT server. `S` is the byte stream (TCP by default;
/// anything else for tests or a future TLS layer).
#[derive(Debug)]
pub struct Client<S = TcpStream> {
    stream: BufReader<S>,
    server: String,
    reply_timeout: Duration,
    line: Vec<u8>,
}

impl Client<TcpStream> {
    /// Resolves `server` and connects to the first of its addresses that
    /// accepts, within `options.connect_timeout`.
    pub async fn connect(server: &ServerAddress, options: &ConnectOptions) -> Result<Client, Error> {
        let name = server.to_string();
        let attempt = async {
            let addresses = tokio::net::lookup_host((server.host.as_str(), server.port))
                .await
                .map_err(|source| Error::Resolve { server: name.clone(), source })?;
            let mut last = None;
            for address in addresses {
                match TcpStream::connect(address).await {
                    Ok(stream) => return Ok(stream),
                    Err(error) => last = Some(error),
                }
            }
            Err(match last {
                Some(source) => Error::Connect { server: name.clone(), source },
                None => Error::Resolve {
                    server: name.clone(),
                    source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
                },
            })
        };
        let stream = match tokio::time::timeout(options.connect_timeout, attempt).await {
            Ok(result) => result?,
            Err(_) => {
                return Err(Error::Connect { server: name, source: timed_out() });
            }
        };
        // Requests are single small lines: send each at once.
        let _ = stream.set_nodelay(true);
        Ok(Client::from_stream(stream, name, options))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// A client over an established stream; `server` names it in errors.
    pub fn from_stream(stream: S, server: impl Into<String>, options: &ConnectOptions) -> Client<S> {
        Client {
            stream: BufReader::new(stream),
            server: server.into(),
            reply_timeout: options.reply_timeout,
            line: Vec::new(),
        }
    }

    /// The server's name as used in errors (`host:port`).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Sends one request made of `words` (quoted when they need it) and
    /// returns the tokens of its one-line reply; `ERR` becomes
    /// [`Error::Refused`]. For requests this type has no method for.
    pub async fn request(&mut self, words: &[&str]) -> Result<Vec<String>, Error> {
        let request = self.send(words, false).await?;
        Ok(self.reply(&request).await?.tokens)
    }

    /// `VER`: the server's version line.
    pub async fn ver(&mut self) -> Result<String, Error> {
        let request = self.send(&["VER"], false).await?;
        Ok(self.reply(&request).await?.text)
    }

    /// `NETVER`: the protocol version (`1.3` for NUT 2.8).
    pub async fn netver(&mut self) -> Result<String, Error> {
        let request = self.send(&["NETVER"], false).await?;
        Ok(self.reply(&request).await?.text)
    }

    /// `GET VAR`: a variable's value.
    pub async fn get_var(&mut self, ups: &str, var: &str) -> Result<String, Error> {
        self.get(&["VAR", ups, var]).await
    }

    /// `GET TYPE`: a variable's type words.
    pub async fn get_type(&mut self, ups: &str, var: &str) -> Result<VarType, Error> {
        let query = ["TYPE", ups, var];
        let request = self.send(&prefixed("GET", &query), false).await?;
        let tokens = self.reply(&request).await?.tokens;
        let words = self.after(&request, tokens, &query, 0)?;
        Ok(VarType { words })
    }

    /// `GET DESC`: a variable's description.
    pub async fn get_desc(&mut self, ups: &str, var: &str) -> Result<String, Error> {
        self.get(&["DESC", ups, var]).await
    }

    /// `GET CMDDESC`: an instant command's description.
    pub async fn get_cmddesc(&mut self, ups: &str, command: &str) -> Result<String, Error> {
        self.get(&["CMDDESC", ups, command]).await
    }

    /// `GET UPSDESC`: the UPS's description (`desc` in `ups.conf`).
    pub async fn get_upsdesc(&mut self, ups: &str) -> Result<String, Error> {
        self.get(&["UPSDESC", ups]).await
    }

    /// `GET NUMLOGINS`: how many clients did `LOGIN` to the UPS.
    pub async fn get_numlogins(&mut self, ups: &str) -> Result<u32, Error> {
        let request_words = ["NUMLOGINS", ups];
        let text = self.get(&request_words).await?;
        text.parse().map_err(|_| Error::Protocol {
            server: self.server.clone(),
            request: format!("GET NUMLOGINS {ups}"),
            problem: format!("{text:?} is not a count"),
        })
    }

    /// `LIST UPS`: every UPS with its description.
    pub async fn list_ups(&mut self) -> Result<Vec<(String, String)>, Error> {
        Ok(self.list(&["UPS"], 2).await?.into_iter().map(pair).collect())
    }

    /// `LIST VAR`: every variable of the UPS with its value, in the server's order.
    pub async fn list_vars(&mut self, ups: &str) -> Result<Vec<(String, String)>, Error> {
        Ok(self.list(&["VAR", ups], 2).await?.into_iter().map(pair).collect())
    }

    /// `LIST RW`: the writable variables with their values.
    pub async fn list_rw(&mut self, ups: &str) -> Result<Vec<(String, String)>, Error> {
        Ok(self.list(&["RW", ups], 2).await?.into_iter().map(pair).collect())
    }

    /// `LIST CMD`: the instant commands.
    pub async fn list_cmds(&mut self, ups: &str) -> Result<Vec<String>, Error> {
        Ok(self.list(&["CMD", ups], 1).await?.into_iter().map(first).collect())
    }

    /// `LIST ENUM`: the values a variable accepts.
    pub async fn list_enum(&mut self, ups: &str, var: &str) -> Result<Vec<String>, Error> {
        Ok(self.list(&["ENUM", ups, var], 1).await?.into_iter().map(first).collect())
    }

    /// `LIST RANGE`: the ranges a variable accepts.
    pub async fn list_range(&mut self, ups: &str, var: &str) -> Result<Vec<Range>, Error> {
        let entries = self.list(&["RANGE", ups, var], 2).await?;
        Ok(entries.into_iter().map(pair).map(|(min, max)| Range { min, max }).collect())
    }

    /// `LIST CLIENT`: addresses of the clients logged in to the UPS.
    pub async fn list_clients(&mut self, ups: &str) -> Result<Vec<String>, Error> {
        Ok(self.list(&["CLIENT", ups], 1).await?.into_iter().map(first).collect())
    }

    /// The writable variables with description, type, enum values and ranges,
    /// as `upsrw` shows them. A description or type the server does not give
    /// is `None`; any other refusal is an error.
    pub async fn rw_variables(&mut self, ups: &str) -> Result<Vec<RwVariable>, Error> {
        let mut variables = Vec::new();
        for (name, value) in self.list_rw(ups).await? {
            let description = self.get_desc(ups, &name).await.ok();
            let var_type = self.get_type(ups, &name).await.ok();
            let (mut enum_values, mut ranges) = (Vec::new(), Vec::new());
            if let Some(var_type) = &var_type {
                if var_type.is_enum() {
                    enum_values = self.list_enum(ups, &name).await?;
                }
                if var_type.is_range() {
                    ranges = self.list_range(ups, &name).await?;
                }
            }
            variables.push(RwVariable { name, value, description, var_type, enum_values, ranges });
        }
        Ok(variables)
    }

    /// `USERNAME`.
    pub async fn username(&mut self, name: &str) -> Result<(), Error> {
        self.expect_ok(&["USERNAME", name]).await
    }

    /// `PASSWORD` (never shown in errors).
    pub async fn password(&mut self, password: &str) -> Result<(), Error> {
        self.expect_ok(&["PASSWORD", password]).await
    }

    /// `LOGIN`: registers this connection as a client of the UPS (upsmon).
    pub async fn login(&mut self, ups: &str) -> Result<(), Error> {
        self.expect_ok(&["LOGIN", ups]).await
    }

    /// `PRIMARY`, or `MASTER` when the server does not know `PRIMARY`
    /// (`ERR UNKNOWN-COMMAND`, servers before NUT 2.8).
    pub async fn primary(&mut self, ups: &str) -> Result<(), Error> {
        match self.expect_ok(&["PRIMARY", ups]).await {
            Err(error) if error.is(&ErrorCode::UnknownCommand) => self.expect_ok(&["MASTER", ups]).await,
            other => other,
        }
    }

    /// `FSD`: sets the UPS's forced-shutdown flag.
    pub async fn fsd(&mut self, ups: &str) -> Result<(), Error> {
        self.expect_ok(&["FSD", ups]).await
    }

    /// `INSTCMD`, with an optional parameter.
    pub async fn instcmd(&mut self, ups: &str, command: &str, param: Option<&str>) -> Result<Accepted, Error> {
        let request = match param {
            Some(param) => self.send(&["INSTCMD", ups, command, param], false).await?,
            None => self.send(&["INSTCMD", ups, command], false).await?,
        };
        self.accepted(&request).await
    }

    /// `SET VAR` (the value is always quoted, as NUT's clients send it).
    pub async fn set_var(&mut self, ups: &str, var: &str, value: &str) -> Result<Accepted, Error> {
        let request = self.send(&["SET", "VAR", ups, var, value], true).await?;
        self.accepted(&request).await
    }

    /// `SET TRACKING ON|OFF` for this connection.
    pub async fn set_tracking(&mut self, on: bool) -> Result<(), Error> {
        self.expect_ok(&["SET", "TRACKING", if on { "ON" } else { "OFF" }]).await
    }

    /// `GET TRACKING`: whether tracking is on for this connection.
    pub async fn tracking_enabled(&mut self) -> Result<bool, Error> {
        let request = self.send(&["GET", "TRACKING"], false).await?;
        let tokens = self.reply(&request).await?.tokens;
        match tokens.first().map(String::as_str) {
            Some(word) if word.eq_ignore_ascii_case("ON") => Ok(true),
            Some(word) if word.eq_ignore_ascii_case("OFF") => Ok(false),
            _ => Err(self.protocol(&request, format!("expected ON or OFF, got {tokens:?}"))),
        }
    }

    /// `GET TRACKING <id>`: the state of a tracked request.
    pub async fn get_tracking(&mut self, id: &str) -> Result<TrackingStatus, Error> {
        let request = self.send(&["GET", "TRACKING", id], false).await?;
        match self.reply(&request).await {
            Ok(line) => match line.tokens.first().map(String::as_str) {
                Some(word) if word.eq_ignore_ascii_case("PENDING") => Ok(TrackingStatus::Pending),
                Some(word) if word.eq_ignore_ascii_case("SUCCESS") => Ok(TrackingStatus::Success),
                _ => Err(self.protocol(&request, format!("expected a tracking status, got {:?}", line.text))),
            },
            Err(Error::Refused {
                code: code @ (ErrorCode::Unknown | ErrorCode::InvalidArgument | ErrorCode::Failed),
                ..
            }) => Ok(TrackingStatus::Failed(code)),
            Err(error) => Err(error),
        }
    }

    /// `LOGOUT`: the server says goodbye and closes the connection.
    pub async fn logout(mut self) -> Result<(), Error> {
        let request = self.send(&["LOGOUT"], false).await?;
        match self.reply(&request).await {
            Ok(_) | Err(Error::Disconnected { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// `GET <query>` whose reply is `<query> "<value>"`.
    async fn get(&mut self, query: &[&str]) -> Result<String, Error> {
        let request = self.send(&prefixed("GET", query), false).await?;
        let tokens = self.reply(&request).await?.tokens;
        let mut rest = self.after(&request, tokens, query, 1)?;
        Ok(rest.swap_remove(0))
    }

    /// Sends a request whose reply must be `OK` (possibly with more words).
    async fn expect_ok(&mut self, words: &[&str]) -> Result<(), Error> {
        let request = self.send(words, false).await?;
        let line = self.reply(&request).await?;
        match line.tokens.first() {
            Some(word) if word.eq_ignore_ascii_case("OK") => Ok(()),
            _ => Err(self.protocol(&request, format!("expected OK, got {:?}", line.text))),
        }
    }

    /// The reply to INSTCMD or SET VAR.
    async fn accepted(&mut self, request: &str) -> Result<Accepted, Error> {
        let line = self.reply(request).await?;
        match line.tokens.as_slice() {
            [ok, rest @ ..] if ok.eq_ignore_ascii_case("OK") => {
                let tracking_id = match rest {
                    [tracking, id, ..] if tracking.eq_ignore_ascii_case("TRACKING") => Some(id.clone()),
                    _ => None,
                };
                Ok(Accepted { reply: line.text, tracking_id })
            }
            _ => Err(self.protocol(request, format!("expected OK, got {:?}", line.text))),
        }
    }

    /// `LIST <query>`: the `fields` tokens after `<query>` of each entry.
    async fn list(&mut self, query: &[&str], fields: usize) -> Result<Vec<Vec<String>>, Error> {
        let request = self.send(&prefixed("LIST", query), false).await?;
        let begin = self.reply(&request).await?.tokens;
        if !starts_with(&begin, &["BEGIN", "LIST"]) || !starts_with(&begin[2..], query) {
            return Err(self.protocol(&request, format!("expected BEGIN LIST {}, got {begin:?}", query.join(" "))));
        }
        let mut entries = Vec::new();
        loop {
            let tokens = self.reply(&request).await?.tokens;
            if starts_with(&tokens, &["END", "LIST"]) && starts_with(&tokens[2..], query) {
                return Ok(entries);
            }
            if entries.len() >= MAX_LIST_ENTRIES {
                return Err(self.protocol(&request, format!("more than {MAX_LIST_ENTRIES} entries")));
            }
            entries.push(self.after(&request, tokens, query, fields)?);
        }
    }

    /// The `fields` tokens after `prefix` (all of them when `fields` is 0),
    /// or a protocol error when the reply does not start with `prefix` or is short.
    fn after(&self, request: &str, tokens: Vec<String>, prefix: &[&str], fields: usize) -> Result<Vec<String>, Error> {
        if !starts_with(&tokens, prefix) || tokens.len() < prefix.len() + fields {
            return Err(
                self.protocol(request, format!("expected {} and {fields} more, got {tokens:?}", prefix.join(" ")))
            );
        }
        let mut rest: Vec<String> = tokens.into_iter().skip(prefix.len()).collect();
        if fields > 0 {
            rest.truncate(fields);
        }
        Ok(rest)
    }

    fn protocol(&self, request: &str, problem: String) -> Error {
        Error::Protocol { server: self.server.clone(), request: request.to_owned(), problem }
    }

    /// Writes one request line; returns it as shown in errors (without a password).
    async fn send(&mut self, words: &[&str], quote_last: bool) -> Result<String, Error> {
        let mut line = String::new();
        for (index, word) in words.iter().enumerate() {
            if index > 0 {
                line.push(' ');
            }
            if (quote_last && index + 1 == words.len()) || needs_quotes(word) {
                line.push('"');
                line.push_str(&parseconf::encode(word));
                line.push('"');
            } else {
                line.push_str(word);
            }
        }
        let shown = match words.first() {
            Some(&"PASSWORD") => "PASSWORD ******".to_owned(),
            _ => line.clone(),
        };
        line.push('\n');
        let write = async {
            self.stream.get_mut().write_all(line.as_bytes()).await?;
            self.stream.get_mut().flush().await
        };
        match tokio::time::timeout(self.reply_timeout, write).await {
            Ok(Ok(())) => Ok(shown),
            Ok(Err(source)) => Err(Error::Send { server: self.server.clone(), source }),
            Err(_) => Err(Error::Send { server: self.server.clone(), source: timed_out() }),
        }
    }

    /// Reads and tokenizes one reply line; `ERR` becomes [`Error::Refused`].
    async fn reply(&mut self, request: &str) -> Result<ReplyLine, Error> {
        let read = read_line(&mut self.stream, &mut self.line);
        let outcome = match tokio::time::timeout(self.reply_timeout, read).await {
            Ok(outcome) => outcome,
            Err(_) => Err(LineError::Io(timed_out())),
        };
        match outcome {
            Ok(()) => {}
            Err(LineError::Io(source)) => {
                return Err(Error::Receive { server: self.server.clone(), request: request.to_owned(), source });
            }
            Err(LineError::Closed) => {
                return Err(Error::Disconnected { server: self.server.clone(), request: request.to_owned() });
            }
            Err(LineError::TooLong) => {
                return Err(self.protocol(request, format!("a reply line longer than {MAX_REPLY_LINE} bytes")));
            }
        }
        let text = String::from_utf8_lossy(&self.line).trim_end_matches('\r').to_owned();
        let tokens = match parseconf::lines(&self.line).next() {
            Some(Ok(line)) => line.tokens,
            Some(Err(_)) => return Err(self.protocol(request, format!("unreadable reply {text:?}"))),
            None => Vec::new(),
        };
        match tokens.first() {
            None => Err(self.protocol(request, "an empty reply line".to_owned())),
            Some(word) if word.eq_ignore_ascii_case("ERR") => match tokens.get(1) {
                Some(code) => Err(Error::Refused {
                    server: self.server.clone(),
                    request: request.to_owned(),
                    code: ErrorCode::from_token(code),
                    extra: tokens[2..].to_vec(),
                }),
                None => Err(self.protocol(request, "ERR without a code".to_owned())),
            },
            Some(_) => Ok(ReplyLine { text, tokens }),
        }
    }
}

/// A timeout, worded like C's `strerror(ETIMEDOUT)`.
fn timed_out() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, "Connection timed out")
}

/// Why a reply line could not be read.
enum LineError {
    Io(std::io::Error),
    Closed,
    TooLong,
}

/// Reads up to and without the next `\n` into `line`, at most [`MAX_REPLY_LINE`] bytes.
async fn read_line<S: AsyncRead + Unpin>(stream: &mut BufReader<S>, line: &mut Vec<u8>) -> Result<(), LineError> {
    line.clear();
    loop {
        let buffer = stream.fill_buf().await.map_err(LineError::Io)?;
        if buffer.is_empty() {
            return Err(LineError::Closed);
        }
        let (used, done) = match buffer.iter().position(|&b| b == b'\n') {
            Some(end) => (end + 1, true),
            None => (buffer.len(), false),
        };
        let take = if done { used - 1 } else { used };
        if line.len() + take >= MAX_REPLY_LINE {
            return Err(LineError::TooLong);
        }
        line.extend_from_slice(&buffer[..take]);
        stream.consume(used);
        if done {
            return Ok(());
        }
    }
}

/// A word the server's tokenizer would split or alter unless quoted.
fn needs_quotes(word: &str) -> bool {
    word.is_empty() || word.bytes().any(|b| !b.is_ascii_graphic() || matches!(b, b'"' | b'\\' | b'#' | b'='))
}

/// `keyword` followed by `query`.
fn prefixed<'a>(keyword: &'a str, query: &[&'a str]) -> Vec<&'a str> {
    std::iter::once(keyword).chain(query.iter().copied()).collect()
}

/// Tokens begin with `prefix`, compared as NUT's clients do (ignoring case).
fn starts_with(tokens: &[String], prefix: &[&str]) -> bool {
    tokens.len() >= prefix.len() && tokens.iter().zip(prefix).all(|(token, word)| token.eq_ignore_ascii_case(word))
}

fn pair(mut fields: Vec<String>) -> (String, String) {
    let second = fields.pop().unwrap_or_default();
    let first = fields.pop().unwrap_or_default();
    (first, second)
}

fn first(mut fields: Vec<String>) -> String {
    fields.swap_remove(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, DuplexStream};

    /// A client talking to a scripted server: each `(request, reply)` pair is
    /// checked in order; the server closes after the script.
    fn scripted(script: &[(&str, &str)]) -> Client<DuplexStream> {
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        let script: Vec<(String, String)> = script.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        tokio::spawn(async move {
            let mut received = Vec::new();
            for (request, reply) in script {
                let mut line = Vec::new();
                loop {
                    let mut byte = [0u8];
                    if theirs.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if byte[0] == b'\n' {
                        break;
                    }
                    line.push(byte[0]);
                }
                assert_eq!(String::from_utf8_lossy(&line), request);
                received.push(request);
                if theirs.write_all(reply.as_bytes()).await.is_err() {
                    return;
                }
            }
        });
        Client::from_stream(ours, "test-server:3493", &ConnectOptions::default())
    }

    #[tokio::test]
    async fn get_var_unquotes_and_unescapes() {
        let mut client = scripted(&[
            ("GET VAR ups ups.status", "VAR ups ups.status \"OL CHRG\"\n"),
            ("GET VAR ups x.y", "var UPS X.Y \"a \\\"b\\\" \\\\ c\" extra\r\n"),
        ]);
        assert_eq!(client.get_var("ups", "ups.status").await.unwrap(), "OL CHRG");
        assert_eq!(client.get_var("ups", "x.y").await.unwrap(), "a \"b\" \\ c");
    }

    #[tokio::test]
    async fn err_replies_are_typed_errors() {
        let mut client = scripted(&[
            ("GET VAR ups a.b", "ERR DATA-STALE\n"),
            ("GET VAR nope a.b", "ERR UNKNOWN-UPS\n"),
            ("GET VAR ups c.d", "ERR ACCESS-DENIED \"SSL error\"\n"),
        ]);
        let error = client.get_var("ups", "a.b").await.unwrap_err();
        assert!(error.is(&ErrorCode::DataStale), "{error}");
        assert_eq!(error.client_message(), "Data stale");
        assert!(error.to_string().contains("test-server:3493"));
        assert!(client.get_var("nope", "a.b").await.unwrap_err().is(&ErrorCode::UnknownUps));
        match client.get_var("ups", "c.d").await.unwrap_err() {
            Error::Refused { code: ErrorCode::AccessDenied, extra, .. } => assert_eq!(extra, vec!["SSL error"]),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn lists() {
        let mut client = scripted(&[
            ("LIST UPS", "BEGIN LIST UPS\nUPS a \"First\"\nUPS b \"Description unavailable\"\nEND LIST UPS\n"),
            ("LIST VAR a", "BEGIN LIST VAR a\nVAR a x.y \"1\"\nVAR a z \"\"\nEND LIST VAR a\n"),
            ("LIST CMD a", "BEGIN LIST CMD a\nCMD a load.off\nEND LIST CMD a\n"),
            ("LIST RANGE a v", "BEGIN LIST RANGE a v\nRANGE a v \"1\" \"9\"\nEND LIST RANGE a v\n"),
            ("LIST CLIENT a", "BEGIN LIST CLIENT a\nEND LIST CLIENT a\n"),
            ("LIST ENUM a v", "ERR VAR-NOT-SUPPORTED\n"),
        ]);
        let ups = client.list_ups().await.unwrap();
        assert_eq!(ups, vec![("a".into(), "First".into()), ("b".into(), "Description unavailable".into())]);
        assert_eq!(client.list_vars("a").await.unwrap(), vec![("x.y".into(), "1".into()), ("z".into(), "".into())]);
        assert_eq!(client.list_cmds("a").await.unwrap(), vec!["load.off".to_string()]);
        assert_eq!(client.list_range("a", "v").await.unwrap(), vec![Range { min: "1".into(), max: "9".into() }]);
        assert!(client.list_clients("a").await.unwrap().is_empty());
        assert!(client.list_enum("a", "v").await.unwrap_err().is(&ErrorCode::VarNotSupported));
    }

    #[tokio::test]
    async fn malformed_and_truncated_replies_are_errors_naming_the_server() {
        let cases: &[(&str, &str)] = &[
            ("GET VAR u v", "VAR u other \"1\"\n"),
            ("GET VAR u v", "garbage\n"),
            ("GET VAR u v", "VAR u v\n"),
            ("GET VAR u v", "\n"),
            ("GET VAR u v", "ERR\n"),
            ("GET VAR u v", "VAR u v \"a#b\"\n"),
        ];
        for (request, reply) in cases {
            let mut client = scripted(&[(request, reply)]);
            match client.get_var("u", "v").await {
                Err(error @ Error::Protocol { .. }) => {
                    assert!(error.to_string().starts_with("test-server:3493 answered `GET VAR u v`"), "{error}");
                    assert_eq!(error.client_message(), "Protocol error");
                }
                other => panic!("{reply:?}: {other:?}"),
            }
        }
        // The server goes away mid-reply or mid-list.
        let mut client = scripted(&[("GET VAR u v", "VAR u v \"par")]);
        let error = client.get_var("u", "v").await.unwrap_err();
        assert!(matches!(error, Error::Disconnected { .. }), "{error:?}");
        assert_eq!(error.client_message(), "Server disconnected");
        let mut client = scripted(&[("LIST VAR u", "BEGIN LIST VAR u\nVAR u a \"1\"\n")]);
        assert!(matches!(client.list_vars("u").await, Err(Error::Disconnected { .. })));
        let mut client = scripted(&[("LIST VAR u", "BEGIN LIST VAR other\nEND LIST VAR other\n")]);
        assert!(matches!(client.list_vars("u").await, Err(Error::Protocol { .. })));
        let mut client = scripted(&[("LIST VAR u", "BEGIN LIST VAR u\nVAR u a \"1\"\nJUNK\nEND LIST VAR u\n")]);
        assert!(matches!(client.list_vars("u").await, Err(Error::Protocol { .. })));
    }

    #[tokio::test]
    async fn hostile_servers_cannot_make_it_allocate_without_limit() {
        // An endless line.
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        tokio::spawn(async move {
            let chunk = vec![b'a'; 8192];
            while theirs.write_all(&chunk).await.is_ok() {}
        });
        let mut client = Client::from_stream(ours, "hostile:1", &ConnectOptions::default());
        let error = client.get_var("u", "v").await.unwrap_err();
        assert!(matches!(error, Error::Protocol { .. }), "{error:?}");
        assert!(error.to_string().contains("longer than"), "{error}");

        // An endless list.
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        tokio::spawn(async move {
            if theirs.write_all(b"BEGIN LIST VAR u\n").await.is_err() {
                return;
            }
            while theirs.write_all(b"VAR u a \"1\"\n").await.is_ok() {}
        });
        let mut client = Client::from_stream(ours, "hostile:1", &ConnectOptions::default());
        let error = client.list_vars("u").await.unwrap_err();
        assert!(error.to_string().contains(&format!("more than {MAX_LIST_ENTRIES} entries")), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_server_times_out() {
        let (ours, _theirs) = tokio::io::duplex(64);
        let options = ConnectOptions { reply_timeout: Duration::from_secs(5), ..ConnectOptions::default() };
        let mut client = Client::from_stream(ours, "silent:1", &options);
        match client.netver().await {
            Err(error @ Error::Receive { .. }) => {
                assert!(error.to_string().ends_with("Connection timed out"), "{error}");
                assert_eq!(error.client_message(), "Server disconnected");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn session_requests() {
        let mut client = scripted(&[
            ("VER", "Network UPS Tools upsd 2.8.0 - https://www.networkupstools.org/\n"),
            ("NETVER", "1.3\n"),
            ("USERNAME mon", "OK\n"),
            ("PASSWORD \"p w\\\"\\#\"", "OK\n"),
            ("LOGIN ups", "OK\n"),
            ("PRIMARY ups", "ERR UNKNOWN-COMMAND\n"),
            ("MASTER ups", "OK MASTER-GRANTED\n"),
            ("PRIMARY ups", "ERR ACCESS-DENIED\n"),
            ("FSD ups", "OK FSD-SET\n"),
            ("GET NUMLOGINS ups", "NUMLOGINS ups 2\n"),
            ("GET UPSDESC ups", "UPSDESC ups \"Unavailable\"\n"),
            ("LOGOUT", "OK Goodbye\n"),
        ]);
        assert_eq!(client.ver().await.unwrap(), "Network UPS Tools upsd 2.8.0 - https://www.networkupstools.org/");
        assert_eq!(client.netver().await.unwrap(), "1.3");
        client.username("mon").await.unwrap();
        client.password("p w\"#").await.unwrap();
        client.login("ups").await.unwrap();
        client.primary("ups").await.unwrap();
        assert!(client.primary("ups").await.unwrap_err().is(&ErrorCode::AccessDenied));
        client.fsd("ups").await.unwrap();
        assert_eq!(client.get_numlogins("ups").await.unwrap(), 2);
        assert_eq!(client.get_upsdesc("ups").await.unwrap(), "Unavailable");
        client.logout().await.unwrap();
    }

    #[tokio::test]
    async fn passwords_never_appear_in_errors() {
        let mut client = scripted(&[("PASSWORD secret", "ERR ALREADY-SET-PASSWORD\n")]);
        let error = client.password("secret").await.unwrap_err();
        assert!(error.is(&ErrorCode::AlreadySetPassword));
        assert!(!error.to_string().contains("secret"), "{error}");
    }

    #[tokio::test]
    async fn instcmd_set_var_and_tracking() {
        let id = "0A1B2C3D-0000-4000-8000-00000000000A";
        let mut client = scripted(&[
            ("INSTCMD ups load.off", "OK\n"),
            ("SET TRACKING ON", "OK\n"),
            ("GET TRACKING", "ON\n"),
            ("INSTCMD ups test.battery.start 5", &format!("OK TRACKING {id}\n")),
            (&format!("GET TRACKING {id}"), "PENDING\n"),
            (&format!("GET TRACKING {id}"), "ERR FAILED\n"),
            ("SET VAR ups battery.charge \"42\"", &format!("OK TRACKING {id}\n")),
            (&format!("GET TRACKING {id}"), "SUCCESS\n"),
            ("SET VAR ups x.y \"a b \\\"c\\\"\"", "ERR READONLY\n"),
            ("INSTCMD ups \"odd cmd\" \"\"", "ERR CMD-NOT-SUPPORTED\n"),
            ("GET TRACKING nope", "ERR FEATURE-NOT-CONFIGURED\n"),
        ]);
        let accepted = client.instcmd("ups", "load.off", None).await.unwrap();
        assert_eq!(accepted, Accepted { reply: "OK".into(), tracking_id: None });
        client.set_tracking(true).await.unwrap();
        assert!(client.tracking_enabled().await.unwrap());
        let accepted = client.instcmd("ups", "test.battery.start", Some("5")).await.unwrap();
        assert_eq!(accepted.tracking_id.as_deref(), Some(id));
        assert_eq!(client.get_tracking(id).await.unwrap(), TrackingStatus::Pending);
        assert_eq!(client.get_tracking(id).await.unwrap(), TrackingStatus::Failed(ErrorCode::Failed));
        let accepted = client.set_var("ups", "battery.charge", "42").await.unwrap();
        assert_eq!(accepted.reply, format!("OK TRACKING {id}"));
        assert_eq!(client.get_tracking(id).await.unwrap(), TrackingStatus::Success);
        assert!(client.set_var("ups", "x.y", "a b \"c\"").await.unwrap_err().is(&ErrorCode::Readonly));
        let error = client.instcmd("ups", "odd cmd", Some("")).await.unwrap_err();
        assert!(error.is(&ErrorCode::CmdNotSupported));
        assert!(client.get_tracking("nope").await.unwrap_err().is(&ErrorCode::FeatureNotConfigured));
    }

    #[tokio::test]
    async fn rw_variables_gather_type_enum_and_range() {
        let mut client = scripted(&[
            ("LIST RW u", "BEGIN LIST RW u\nRW u a.b \"x\"\nRW u c.d \"5\"\nEND LIST RW u\n"),
            ("GET DESC u a.b", "DESC u a.b \"Thing\"\n"),
            ("GET TYPE u a.b", "TYPE u a.b RW ENUM STRING:10\n"),
            ("LIST ENUM u a.b", "BEGIN LIST ENUM u a.b\nENUM u a.b \"x\"\nENUM u a.b \"y z\"\nEND LIST ENUM u a.b\n"),
            ("GET DESC u c.d", "ERR VAR-NOT-SUPPORTED\n"),
            ("GET TYPE u c.d", "TYPE u c.d RW RANGE NUMBER\n"),
            ("LIST RANGE u c.d", "BEGIN LIST RANGE u c.d\nRANGE u c.d \"1\" \"9\"\nEND LIST RANGE u c.d\n"),
        ]);
        let vars = client.rw_variables("u").await.unwrap();
        assert_eq!(vars.len(), 2);
        assert_eq!(vars[0].description.as_deref(), Some("Thing"));
        assert_eq!(vars[0].enum_values, vec!["x".to_string(), "y z".to_string()]);
        assert_eq!(vars[1].description, None);
        assert_eq!(vars[1].var_type.as_ref().map(|t| t.is_range()), Some(true));
        assert!(vars[1].ranges[0].contains(&vars[1].value));
    }

    #[tokio::test]
    async fn connects_over_tcp_and_reports_refusals_like_upsclient() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = [0u8; 64];
            let _ = socket.read(&mut buffer).await;
            let _ = socket.write_all(b"1.3\n").await;
        });
        let server = ServerAddress::new("127.0.0.1", port);
        let mut client = Client::connect(&server, &ConnectOptions::default()).await.unwrap();
        assert_eq!(client.server(), format!("127.0.0.1:{port}"));
        assert_eq!(client.netver().await.unwrap(), "1.3");

        // Nobody listens on the port the listener had after it is gone.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let error =
            Client::connect(&ServerAddress::new("127.0.0.1", closed), &ConnectOptions::default()).await.unwrap_err();
        assert_eq!(error.client_message(), "Connection failure: Connection refused");
        let error = Client::connect(&ServerAddress::new("no-such-host.invalid", 3493), &ConnectOptions::default())
            .await
            .unwrap_err();
        assert_eq!(error.client_message(), "No such host");
    }

    #[test]
    fn words_are_quoted_only_when_needed() {
        for plain in ["GET", "ups.status", "a-b_c:1/2"] {
            assert!(!needs_quotes(plain), "{plain}");
        }
        for odd in ["", "a b", "a=b", "a\"b", "a\\b", "a#b", "a\tb", "é"] {
            assert!(needs_quotes(odd), "{odd}");
        }
    }
}
