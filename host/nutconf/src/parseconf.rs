//! A tokenizer for NUT's "parseconf" text grammar, with NUT's exact observable behaviour.
//!
//! One state machine serves every NUT text format: configuration files
//! (`ups.conf`, `upsd.users`, …), request lines of the network protocol,
//! the driver socket and dummy-ups `.dev` files. It is fed one byte at a
//! time (or a slice at a time) and reports each completed logical line, so a
//! server can tokenize straight from a socket with bounded memory: a line
//! keeps at most [`MAX_TOKENS`] tokens of at most [`MAX_TOKEN_LEN`] characters
//! each, whatever the client sends.
//!
//! Rules (spec `config-files.md` §1, checked against real NUT):
//! - tokens are separated by C `isspace` bytes outside quotes; `\n` ends the line;
//! - `"..."` is one token without its quotes; it may span lines (an
//!   unterminated quote swallows newlines); text right after the closing quote
//!   starts a new token;
//! - `\x` is a literal `x` inside and outside quotes; a backslash before `\n`
//!   joins the next physical line;
//! - `#` starts a comment when it begins a token or ends bare text; an
//!   unescaped `#` inside quotes is a [`ParseError`] and the physical line is
//!   discarded;
//! - an unquoted `=` is always a token of its own (`a=b` is `a`, `=`, `b`);
//! - bytes below 0x20 or above 0x7F never enter a token (CVE-2012-2944), but
//!   control whitespace still separates tokens and a dropped byte can still
//!   start a (possibly empty) token, as in NUT;
//! - tokens past the 32nd are dropped, characters past the 512th are dropped.
//!
//! Like NUT, `\` followed by `\r\n` does not join lines (the `\r` is the
//! escaped character and is dropped), and a line joined right at a token start
//! and followed by whitespace yields an empty token.

use std::fmt;

/// Most tokens kept per logical line; NUT drops the rest silently.
pub const MAX_TOKENS: usize = 32;

/// Most characters kept per token; NUT drops the rest silently.
pub const MAX_TOKEN_LEN: usize = 512;

/// A logical line that had to be discarded because an unescaped `#` appeared
/// inside quotes (NUT treats it as an attempt to break the parser).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: unescaped '#' inside quotes (expected \\# or a closing quote first)")]
pub struct ParseError {
    /// Physical line (1-based) where the offending `#` was found.
    pub line: usize,
}

/// Where the state machine is within the current logical line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between tokens.
    WordStart,
    /// Inside a comment, waiting for the newline.
    Comment,
    /// Inside `"..."`.
    Quoted,
    /// Right after a `\` inside quotes.
    QuotedEscape,
    /// Inside a bare token.
    Word,
    /// Right after a `\` outside quotes.
    WordEscape,
    /// After a parse error, discarding the rest of the physical line.
    Discard,
}

/// What a single byte did to the current line; carries no borrow so the
/// slice feeder can return the borrowed [`Line`] afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Line,
    Error(usize),
}

/// Incremental parseconf tokenizer.
///
/// Feed bytes with [`feed`](Self::feed) or [`push`](Self::push); each call
/// that completes a logical line returns it (an empty line is a [`Line`] with
/// zero tokens). Call [`finish`](Self::finish) at end of input to obtain a
/// last line that has no trailing newline. Memory stays bounded at roughly
/// `MAX_TOKENS * MAX_TOKEN_LEN` bytes, allocated once and reused.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    state: State,
    /// Committed tokens back to back, followed by the token being built.
    /// Only bytes 0x20..=0x7F enter it, so it is always ASCII; bytes rather
    /// than a `String` so runs are appended without a UTF-8 check each
    /// (one check per completed line instead).
    text: Vec<u8>,
    /// End offset in `text` of each committed token.
    ends: [usize; MAX_TOKENS],
    /// Number of committed tokens.
    count: usize,
    /// The previous byte completed a line: start afresh on the next byte.
    line_done: bool,
    /// Current physical line number (1-based).
    physical_line: usize,
    /// Physical line on which the current logical line began.
    line_start: usize,
    /// Physical line of the `#` that put us in [`State::Discard`].
    error_line: usize,
}

impl Default for Tokenizer {
    fn default() -> Self {
        Self::new()
    }
}

impl Tokenizer {
    /// A tokenizer positioned at the start of line 1.
    pub fn new() -> Self {
        Tokenizer {
            state: State::WordStart,
            text: Vec::new(),
            ends: [0; MAX_TOKENS],
            count: 0,
            line_done: false,
            physical_line: 1,
            line_start: 1,
            error_line: 0,
        }
    }

    /// Feeds one byte; returns the logical line (or its parse error) when
    /// this byte completes it. The returned line borrows the tokenizer and is
    /// valid until the next call.
    pub fn feed(&mut self, byte: u8) -> Option<Result<Line<'_>, ParseError>> {
        let outcome = self.step(byte)?;
        Some(self.report(outcome))
    }

    /// Feeds bytes until one logical line completes. Returns how many bytes
    /// were consumed and the completed line, if any; call again with the
    /// remaining bytes. When no line completes, all bytes are consumed.
    pub fn push(&mut self, bytes: &[u8]) -> (usize, Option<Result<Line<'_>, ParseError>>) {
        let mut index = 0;
        while let Some(&byte) = bytes.get(index) {
            // Fast path: a run of plain word bytes between tokens or inside
            // a bare token is appended at once; what it does byte by byte is
            // exactly what `step` would do (`fast_path_agrees_with_byte_steps`).
            if is_plain(byte) && (self.line_done || matches!(self.state, State::WordStart | State::Word)) {
                let run = bytes.get(index..).unwrap_or(&[]);
                let plain = run.iter().position(|&b| !is_plain(b)).unwrap_or(run.len());
                self.add_plain(run.get(..plain).unwrap_or(&[]));
                index += plain;
                continue;
            }
            index += 1;
            if let Some(outcome) = self.step(byte) {
                return (index, Some(self.report(outcome)));
            }
        }
        (bytes.len(), None)
    }

    /// Appends plain word bytes (see [`is_plain`]) as `step` would one by
    /// one from `WordStart` or `Word`: they start or continue a bare token,
    /// up to the length limit.
    fn add_plain(&mut self, run: &[u8]) {
        self.begin_line_if_done();
        let room = MAX_TOKEN_LEN.saturating_sub(self.word_len());
        let kept = run.get(..run.len().min(room)).unwrap_or(&[]);
        self.text.extend_from_slice(kept);
        self.state = State::Word;
    }

    /// Starts a new logical line if the previous byte completed one.
    fn begin_line_if_done(&mut self) {
        if self.line_done {
            self.line_done = false;
            self.state = State::WordStart;
            self.text.clear();
            self.count = 0;
            self.line_start = self.physical_line;
        }
    }

    /// Ends the input: returns the pending logical line if it has any token
    /// (a file may lack its final newline), or its parse error. Afterwards
    /// the tokenizer starts a new line with the next byte.
    pub fn finish(&mut self) -> Option<Result<Line<'_>, ParseError>> {
        if self.line_done {
            return None;
        }
        self.line_done = true;
        match self.state {
            State::Discard => {
                return Some(Err(ParseError { line: self.error_line }));
            }
            State::Word | State::WordEscape | State::Quoted | State::QuotedEscape => {
                if self.word_len() > 0 {
                    self.end_word();
                }
            }
            State::WordStart | State::Comment => {}
        }
        if self.count == 0 {
            return None;
        }
        Some(Ok(self.line()))
    }

    /// Physical line number (1-based) the next byte belongs to.
    pub fn physical_line(&self) -> usize {
        self.physical_line
    }

    fn report(&self, outcome: Outcome) -> Result<Line<'_>, ParseError> {
        match outcome {
            Outcome::Line => Ok(self.line()),
            Outcome::Error(line) => Err(ParseError { line }),
        }
    }

    fn line(&self) -> Line<'_> {
        let ends = self.ends.get(..self.count).unwrap_or(&[]);
        let used = ends.last().copied().unwrap_or(0);
        // Always ASCII (see `text`), so the check passes and token ends fall
        // on character boundaries.
        let text = std::str::from_utf8(self.text.get(..used).unwrap_or(&[])).unwrap_or("");
        Line { text, ends, number: self.line_start }
    }

    /// Runs the state machine on one byte.
    fn step(&mut self, byte: u8) -> Option<Outcome> {
        self.begin_line_if_done();
        let mut ended = false;
        self.state = match self.state {
            State::WordStart => self.word_start(byte, &mut ended),
            State::Comment => {
                ended = byte == b'\n';
                State::Comment
            }
            State::Quoted => match byte {
                b'"' => {
                    self.end_word();
                    State::WordStart
                }
                b'\\' => State::QuotedEscape,
                b'#' => {
                    self.error_line = self.physical_line;
                    State::Discard
                }
                _ => {
                    self.add_char(byte);
                    State::Quoted
                }
            },
            State::QuotedEscape => {
                self.add_char(byte);
                State::Quoted
            }
            State::Word => match byte {
                b'#' => {
                    self.end_word();
                    State::Comment
                }
                b'\n' => {
                    self.end_word();
                    ended = true;
                    State::WordStart
                }
                _ if is_space(byte) => {
                    self.end_word();
                    State::WordStart
                }
                b'=' => {
                    self.end_word();
                    self.word_start(byte, &mut ended)
                }
                b'\\' => State::WordEscape,
                _ => {
                    self.add_char(byte);
                    State::Word
                }
            },
            State::WordEscape => {
                self.add_char(byte);
                State::Word
            }
            State::Discard => {
                ended = byte == b'\n';
                State::Discard
            }
        };
        if byte == b'\n' {
            self.physical_line = self.physical_line.saturating_add(1);
        }
        if !ended {
            return None;
        }
        self.line_done = true;
        if self.state == State::Discard { Some(Outcome::Error(self.error_line)) } else { Some(Outcome::Line) }
    }

    /// The state after whitespace: what starts the next token.
    fn word_start(&mut self, byte: u8, ended: &mut bool) -> State {
        match byte {
            b'\n' => {
                *ended = true;
                State::WordStart
            }
            b'#' => State::Comment,
            _ if is_space(byte) => State::WordStart,
            b'\\' => State::WordEscape,
            b'"' => State::Quoted,
            b'=' => {
                self.add_char(byte);
                self.end_word();
                State::WordStart
            }
            _ => {
                self.add_char(byte);
                State::Word
            }
        }
    }

    fn word_begin(&self) -> usize {
        match self.count {
            0 => 0,
            n => self.ends.get(n - 1).copied().unwrap_or(0),
        }
    }

    fn word_len(&self) -> usize {
        self.text.len().saturating_sub(self.word_begin())
    }

    /// Keep printable ASCII (and DEL) only, up to the length limit.
    fn add_char(&mut self, byte: u8) {
        if !(0x20..=0x7f).contains(&byte) || self.word_len() >= MAX_TOKEN_LEN {
            return;
        }
        self.text.push(byte);
    }

    /// Commit the token, or drop it past the token limit.
    fn end_word(&mut self) {
        match self.ends.get_mut(self.count) {
            Some(end) => {
                *end = self.text.len();
                self.count += 1;
            }
            None => {
                let begin = self.word_begin();
                self.text.truncate(begin);
            }
        }
    }
}

/// Bytes that every state of a bare token (or the gap before one) simply
/// keeps: printable ASCII other than space and the grammar's `"`, `\\`, `#`
/// and `=`.
fn is_plain(byte: u8) -> bool {
    matches!(byte, 0x21..=0x7e) && !matches!(byte, b'"' | b'\\' | b'#' | b'=')
}

/// C `isspace` in the "C" locale.
fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// One complete logical line, borrowed from the [`Tokenizer`].
#[derive(Clone, Copy)]
pub struct Line<'a> {
    text: &'a str,
    ends: &'a [usize],
    number: usize,
}

impl<'a> Line<'a> {
    /// Physical line (1-based) on which this logical line began.
    pub fn number(&self) -> usize {
        self.number
    }

    /// Number of tokens (0 for an empty or comment-only line).
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True for a line without tokens; the network server still answers it.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Token `index`, if present. Tokens are printable ASCII.
    pub fn get(&self, index: usize) -> Option<&'a str> {
        let end = *self.ends.get(index)?;
        let begin = match index {
            0 => 0,
            _ => *self.ends.get(index - 1)?,
        };
        self.text.get(begin..end)
    }

    /// The tokens in order.
    pub fn tokens(&self) -> impl Iterator<Item = &'a str> + 'a {
        let line = *self;
        (0..line.len()).filter_map(move |index| line.get(index))
    }

    /// Copies the tokens out, for callers that keep the line.
    pub fn to_vec(&self) -> Vec<String> {
        self.tokens().map(str::to_owned).collect()
    }
}

impl fmt::Debug for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Line").field("number", &self.number).field("tokens", &self.to_vec()).finish()
    }
}

/// An owned logical line, for readers that collect a whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedLine {
    /// Physical line (1-based) on which this logical line began.
    pub number: usize,
    /// The tokens in order.
    pub tokens: Vec<String>,
}

impl From<Line<'_>> for OwnedLine {
    fn from(line: Line<'_>) -> Self {
        OwnedLine { number: line.number(), tokens: line.to_vec() }
    }
}

/// Tokenizes a whole file or buffer: yields every logical line, empty ones
/// included, and a final line without newline.
pub fn lines(input: &[u8]) -> Lines<'_> {
    Lines { tokenizer: Tokenizer::new(), input, finished: false }
}

/// Iterator returned by [`lines`].
#[derive(Debug, Clone)]
pub struct Lines<'a> {
    tokenizer: Tokenizer,
    input: &'a [u8],
    finished: bool,
}

impl Iterator for Lines<'_> {
    type Item = Result<OwnedLine, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let (used, event) = self.tokenizer.push(self.input);
        let event = event.map(|result| result.map(OwnedLine::from));
        self.input = self.input.get(used..).unwrap_or(&[]);
        if event.is_some() {
            return event;
        }
        self.finished = true;
        self.tokenizer.finish().map(|result| result.map(OwnedLine::from))
    }
}

/// Escapes a value for use inside `"..."` (NUT `pconf_encode`): a backslash
/// goes before every `\`, `"` and `#`, so the tokenizer reads it back intact.
pub fn encode(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len() + 4);
    for character in value.chars() {
        if matches!(character, '\\' | '"' | '#') {
            encoded.push('\\');
        }
        encoded.push(character);
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::XorShift;

    /// Whole-input tokenization, errors rendered as `Err(line)`.
    fn parse(input: &[u8]) -> Vec<Result<(usize, Vec<String>), usize>> {
        lines(input).map(|item| item.map(|line| (line.number, line.tokens)).map_err(|e| e.line)).collect()
    }

    /// Tokens of each line, panicking (test only) on parse errors.
    fn tokens(input: &str) -> Vec<Vec<String>> {
        parse(input.as_bytes()).into_iter().map(|item| item.expect("unexpected parse error").1).collect()
    }

    fn one_line(input: &str) -> Vec<String> {
        let mut all = tokens(input);
        assert_eq!(all.len(), 1, "expected one line for {input:?}: {all:?}");
        all.remove(0)
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn splits_on_c_whitespace() {
        assert_eq!(
            one_line("GET VAR  ups1\tups.status\x0b\x0cx\ry\n"),
            strings(&["GET", "VAR", "ups1", "ups.status", "x", "y"])
        );
        assert_eq!(one_line("   leading and trailing   \n"), strings(&["leading", "and", "trailing"]));
    }

    #[test]
    fn crlf_is_whitespace_then_newline() {
        assert_eq!(
            tokens("VER\r\nGET VAR ups1 ups.status\r\n"),
            vec![strings(&["VER"]), strings(&["GET", "VAR", "ups1", "ups.status"])]
        );
    }

    #[test]
    fn empty_line_is_a_line_with_zero_tokens() {
        let mut tokenizer = Tokenizer::new();
        let line = tokenizer.feed(b'\n').expect("line").expect("no error");
        assert!(line.is_empty());
        assert_eq!(line.len(), 0);
        assert_eq!(line.number(), 1);
        assert!(tokenizer.feed(b' ').is_none(), "no line yet");
        assert_eq!(tokenizer.feed(b'\n').expect("line").expect("ok").len(), 0);
    }

    #[test]
    fn quotes_group_and_are_removed() {
        assert_eq!(one_line(r#"desc = "Dummy APC Smart-UPS 1""#), strings(&["desc", "=", "Dummy APC Smart-UPS 1"]));
        assert_eq!(one_line(r#""" x"#), strings(&["", "x"]));
        // text after a closing quote is a new token; a quote inside bare text is literal
        assert_eq!(one_line(r#""ab"cd e"f"#), strings(&["ab", "cd", "e\"f"]));
        // '=' inside quotes is literal
        assert_eq!(one_line(r#"pw "a=b""#), strings(&["pw", "a=b"]));
    }

    #[test]
    fn unterminated_quote_swallows_newlines() {
        // transcript: GET VAR "ups1 ups.status \n VER \n " -> GET VAR <one token>
        let got = parse(b"GET VAR \"ups1 ups.status\nVER\n\"\nVER\n");
        assert_eq!(got, vec![Ok((1, strings(&["GET", "VAR", "ups1 ups.statusVER"]))), Ok((4, strings(&["VER"])))]);
        // at end of input the open token is tied off
        assert_eq!(tokens("a \"open quote"), vec![strings(&["a", "open quote"])]);
    }

    #[test]
    fn backslash_escapes_anywhere() {
        assert_eq!(
            one_line(r"ups\.status embedded\ space back\\slash \#notcomment"),
            strings(&["ups.status", "embedded space", "back\\slash", "#notcomment"])
        );
        assert_eq!(one_line(r#""ups.st\"atus" "in \\ quotes \# ok""#), strings(&["ups.st\"atus", "in \\ quotes # ok"]));
        assert_eq!(one_line(r#"a\=b \"x"#), strings(&["a=b", "\"x"]));
    }

    #[test]
    fn backslash_newline_joins_lines() {
        assert_eq!(
            parse(b"key = val\\\nue\nnext\n"),
            vec![Ok((1, strings(&["key", "=", "value"]))), Ok((3, strings(&["next"])))]
        );
        assert_eq!(parse(b"a \\\nb\n"), vec![Ok((1, strings(&["a", "b"])))]);
        // inside quotes
        assert_eq!(parse(b"\"one\\\ntwo\"\n"), vec![Ok((1, strings(&["onetwo"])))]);
        // NUT quirk: joined at a token start, then whitespace -> empty token
        assert_eq!(one_line("a \\\n b"), strings(&["a", "", "b"]));
        // NUT quirk: backslash before CRLF escapes the CR (dropped); the LF ends the line
        assert_eq!(tokens("a\\\r\nb\n"), vec![strings(&["a"]), strings(&["b"])]);
    }

    #[test]
    fn comments() {
        assert_eq!(
            tokens("# full line\n  # indented\nkey = v # trailing\nfoo#bar baz\n"),
            vec![vec![], vec![], strings(&["key", "=", "v"]), strings(&["foo"])]
        );
        assert_eq!(one_line("\"quoted\"# after quote"), strings(&["quoted"]));
    }

    #[test]
    fn hash_inside_quotes_is_an_error_and_discards_the_line() {
        assert_eq!(
            parse(b"ok 1\ndesc = \"a#b\" more \"stuff\nnext\n"),
            vec![Ok((1, strings(&["ok", "1"]))), Err(2), Ok((3, strings(&["next"])))]
        );
        // error on a later physical line of a multi-line quote
        assert_eq!(parse(b"x \"multi\nline # bad\" y\nz\n"), vec![Err(2), Ok((3, strings(&["z"])))]);
        // an error at end of input without newline is still reported
        assert_eq!(parse(b"\"#"), vec![Err(1)]);
        let error = ParseError { line: 7 };
        assert!(error.to_string().contains("line 7"));
    }

    #[test]
    fn equals_is_its_own_token() {
        for input in ["a=b", "a = b", "a =b", "a= b", "a\t=\tb"] {
            assert_eq!(one_line(input), strings(&["a", "=", "b"]), "{input}");
        }
        assert_eq!(one_line("=="), strings(&["=", "="]));
        assert_eq!(one_line("a==b="), strings(&["a", "=", "=", "b", "="]));
    }

    #[test]
    fn non_ascii_and_control_bytes_are_dropped() {
        // transcript: VER<NUL>junk -> one token VERjunk
        assert_eq!(parse(b"VER\0junk\n"), vec![Ok((1, strings(&["VERjunk"])))]);
        assert_eq!(parse(b"caf\xc3\xa9 \x7f\x01x\n"), vec![Ok((1, strings(&["caf", "\x7fx"])))]);
        // inside quotes too (tab and newline included)
        assert_eq!(parse(b"\"a\tb\xffc\"\n"), vec![Ok((1, strings(&["abc"])))]);
        // a dropped byte still starts a token, as in NUT
        assert_eq!(parse(b"\xff VER\n"), vec![Ok((1, strings(&["", "VER"])))]);
    }

    #[test]
    fn at_most_32_tokens() {
        let input: Vec<String> = (0..100).map(|i| format!("t{i}")).collect();
        let got = one_line(&input.join(" "));
        assert_eq!(got.len(), MAX_TOKENS);
        assert_eq!(got, input[..MAX_TOKENS].to_vec());
        // '=' tokens count too and are dropped the same way
        let got = one_line(&"=".repeat(40));
        assert_eq!(got.len(), MAX_TOKENS);
    }

    #[test]
    fn at_most_512_chars_per_token() {
        let long = "a".repeat(1_000_000);
        let got = one_line(&format!("GET VAR ups1 {long} \"{long}\" tail"));
        assert_eq!(got.len(), 6);
        assert_eq!(got[3].len(), MAX_TOKEN_LEN);
        assert_eq!(got[4].len(), MAX_TOKEN_LEN);
        assert_eq!(got[5], "tail");
        // dropped bytes do not count toward the limit
        let input = format!("{}{}", "\x01".repeat(600), "b".repeat(600));
        assert_eq!(one_line(&input), vec!["b".repeat(MAX_TOKEN_LEN)]);
    }

    #[test]
    fn final_line_without_newline() {
        assert_eq!(parse(b"a\nnowait"), vec![Ok((1, strings(&["a"]))), Ok((2, strings(&["nowait"])))]);
        assert_eq!(parse(b"a\n"), vec![Ok((1, strings(&["a"])))]);
        assert_eq!(parse(b"a\n   # only a comment"), vec![Ok((1, strings(&["a"])))]);
        assert_eq!(parse(b""), vec![]);
        let mut tokenizer = Tokenizer::new();
        assert!(tokenizer.finish().is_none());
        assert!(tokenizer.feed(b'x').is_none());
        assert_eq!(tokenizer.finish().expect("line").expect("ok").to_vec(), strings(&["x"]));
        assert!(tokenizer.finish().is_none(), "finish twice yields nothing more");
    }

    #[test]
    fn line_numbers_count_physical_lines() {
        let got = parse(b"a\n\"x\ny\"\nb \\\nc\n\nd\n");
        let numbers: Vec<usize> = got.iter().map(|item| item.as_ref().map(|(n, _)| *n).unwrap_or(0)).collect();
        assert_eq!(numbers, vec![1, 2, 4, 6, 7]);
    }

    #[test]
    fn push_reports_consumed_bytes() {
        let mut tokenizer = Tokenizer::new();
        let input = b"VER\nNETVER\npartial";
        let (used, event) = tokenizer.push(input);
        assert_eq!(used, 4);
        assert_eq!(event.expect("line").expect("ok").to_vec(), strings(&["VER"]));
        let (used2, event) = tokenizer.push(&input[used..]);
        assert_eq!(used2, 7);
        assert_eq!(event.expect("line").expect("ok").to_vec(), strings(&["NETVER"]));
        let (used3, event) = tokenizer.push(&input[used + used2..]);
        assert_eq!(used3, 7);
        assert!(event.is_none());
        let (_, event) = tokenizer.push(b" more\n");
        assert_eq!(event.expect("line").expect("ok").to_vec(), strings(&["partial", "more"]));
    }

    /// Collects events by feeding single bytes.
    fn by_bytes(input: &[u8]) -> Vec<Result<OwnedLine, ParseError>> {
        let mut tokenizer = Tokenizer::new();
        let mut out = Vec::new();
        for &byte in input {
            if let Some(event) = tokenizer.feed(byte) {
                out.push(event.map(OwnedLine::from));
            }
        }
        if let Some(event) = tokenizer.finish() {
            out.push(event.map(OwnedLine::from));
        }
        out
    }

    /// Collects events by pushing chunks of the given sizes (cycled).
    fn by_chunks(input: &[u8], sizes: &[usize]) -> Vec<Result<OwnedLine, ParseError>> {
        let mut tokenizer = Tokenizer::new();
        let mut out = Vec::new();
        let mut rest = input;
        let mut which = 0;
        while !rest.is_empty() {
            let size = sizes[which % sizes.len()].clamp(1, rest.len());
            which += 1;
            let mut chunk = &rest[..size];
            rest = &rest[size..];
            while !chunk.is_empty() {
                let (used, event) = tokenizer.push(chunk);
                if let Some(event) = event {
                    out.push(event.map(OwnedLine::from));
                }
                chunk = &chunk[used..];
            }
        }
        if let Some(event) = tokenizer.finish() {
            out.push(event.map(OwnedLine::from));
        }
        out
    }

    #[test]
    fn incremental_feeding_matches_whole_input() {
        let input = b"[ups1]\n driver = dummy-ups\r\n desc = \"a \\\"b\\\" c\"\n bad = \"x#y\"\n\n cont\\\ninued a=b # c\n\xff\0VER\0junk\n \"open\nquote\" tail";
        let whole: Vec<_> = lines(input).collect();
        assert_eq!(by_bytes(input), whole);
        assert_eq!(by_chunks(input, &[3, 1, 7, 2]), whole);
        assert_eq!(whole.len(), 8);
    }

    /// Random input drawn mostly from the bytes the grammar cares about, so
    /// runs of plain bytes meet every state and the token limits.
    fn grammar_bytes(rng: &mut XorShift, len: usize) -> Vec<u8> {
        const SPECIAL: &[u8] = b" \t\r\n\"\\#=\x0b\x0c\x7f\x00\xff";
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let pick = rng.next();
            let (kind, value) = (pick & 0xff, ((pick >> 8) & 0xff) as u8);
            match kind % 8 {
                0..=3 => out.push(b'a' + value % 26),
                4 => out.push(SPECIAL.get(usize::from(value) % SPECIAL.len()).copied().unwrap_or(b' ')),
                5 => out.extend(std::iter::repeat_n(b'x', usize::from(value) * 3)),
                6 => out.extend_from_slice(b"GET VAR ups1 ups.status\n"),
                _ => out.push(value),
            }
        }
        out
    }

    /// The tokenizer fed through `push` (whose fast path appends runs of
    /// plain bytes) and fed byte by byte through `feed` (the general state
    /// machine only) agree on every line, token and error, whatever the
    /// input and however it is split.
    #[test]
    fn fast_path_agrees_with_byte_steps() {
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        for iteration in 0..3000 {
            let len = 1 + iteration % 1500;
            let input = if iteration % 3 == 0 { rng.bytes(len) } else { grammar_bytes(&mut rng, len) };
            let general = by_bytes(&input);
            assert_eq!(by_chunks(&input, &[input.len()]), general, "{input:?}");
            assert_eq!(by_chunks(&input, &[1 + iteration % 7, 13, 2]), general, "{input:?}");
        }
    }

    #[test]
    fn encode_escapes_backslash_quote_hash() {
        assert_eq!(encode(r#"a\b"c#d e=f"#), r#"a\\b\"c\#d e=f"#);
        assert_eq!(encode(""), "");
        // encoded values read back intact when quoted
        let value = r#"odd \ "value" # here"#;
        assert_eq!(one_line(&format!("SETINFO x \"{}\"", encode(value))), strings(&["SETINFO", "x", value]));
    }

    #[test]
    fn random_input_never_panics_and_respects_limits() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut tokenizer = Tokenizer::new();
        for iteration in 0..100_000 {
            let input = rng.bytes(80);
            // one long-lived tokenizer fed byte by byte, like a server connection
            for &byte in &input {
                if let Some(Ok(line)) = tokenizer.feed(byte) {
                    assert!(line.len() <= MAX_TOKENS);
                    for token in line.tokens() {
                        assert!(token.len() <= MAX_TOKEN_LEN);
                        assert!(token.bytes().all(|b| (0x20..=0x7f).contains(&b)));
                    }
                }
            }
            if iteration % 1000 == 0 {
                let whole: Vec<_> = lines(&input).collect();
                assert_eq!(by_bytes(&input), whole);
                assert_eq!(by_chunks(&input, &[1 + iteration % 5, 3]), whole);
            }
            let _ = encode(&String::from_utf8_lossy(&input));
        }
    }
}
