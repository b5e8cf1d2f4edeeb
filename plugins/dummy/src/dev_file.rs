//! Tokenizer for dummy-ups definition files (`.dev`/`.seq`), following NUT's
//! parseconf rules (spec: config-files.md §1).
//!
//! It is a byte-level state machine with the same states as NUT's
//! `common/parseconf.c`, so odd inputs tokenize the way NUT tokenizes them:
//!
//! - words are split on whitespace (space, tab, CR, LF, VT, FF); a newline
//!   ends the logical line;
//! - `"..."` is one word (whitespace kept, quotes removed); an unclosed quote
//!   runs on over newlines until it closes;
//! - `\x` takes `x` literally, inside or outside quotes; a backslash before
//!   a newline joins the next physical line;
//! - `#` starts a comment where a word could start or right after a bare
//!   word; inside quotes an unescaped `#` is a parse error;
//! - `=` is always a word of its own outside quotes;
//! - bytes outside 0x20..=0x7F are dropped from words;
//! - at most [`MAX_TOKENS_PER_LINE`] words per line and
//!   [`MAX_TOKEN_LEN`] bytes per word; the excess is silently dropped.
//!
//! Two deliberate differences from NUT, both about broken input:
//! - after a parse error NUT resumes tokenizing in the middle of the same
//!   physical line; here the rest of that physical line is skipped (the
//!   spec's "line reported and skipped");
//! - NUT loses a lone word on a last line without a final newline; here it
//!   is kept (the spec's "missing final newline is fine").
//!
//! This module is a stand-in until the host's `hazel-nutconf` tokenizer can
//! be shared with plugins; keep the two in step.

use alloc::string::String;
use alloc::vec::Vec;

/// Words kept per logical line (parseconf's default argument limit).
pub const MAX_TOKENS_PER_LINE: usize = 32;

/// Bytes kept per word (parseconf's default word length limit).
pub const MAX_TOKEN_LEN: usize = 512;

/// One logical line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// 1-based physical line number where the logical line starts.
    pub number: u32,
    /// The words, unquoted and unescaped.
    pub tokens: Vec<String>,
    /// The text after the `#` of a comment that ends the line, if any.
    /// Dummy files use comments such as `#CMD:load.off`; bytes that are not
    /// UTF-8 are replaced.
    pub comment: Option<String>,
}

/// A logical line that could not be tokenized; the line is skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based physical line number of the error.
    pub line: u32,
    /// What went wrong.
    pub message: &'static str,
}

/// The states of NUT's parseconf machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Between words.
    FindWordStart,
    /// Inside a comment, waiting for the newline.
    FindEndOfLine,
    /// Inside `"..."`.
    QuoteCollect,
    /// After a backslash inside quotes.
    QuoteLiteral,
    /// Inside a bare word.
    Collect,
    /// After a backslash outside quotes.
    CollectLiteral,
}

/// Tokenize a whole file into logical lines. Lines without words are
/// returned too (a comment-only line carries its comment; blank lines carry
/// nothing), so callers see every comment.
pub fn tokenize(input: &[u8]) -> Vec<Result<Line, ParseError>> {
    let mut tokenizer = Tokenizer::new(input);
    let mut lines = Vec::new();
    while let Some(line) = tokenizer.next_line() {
        lines.push(line);
    }
    lines
}

/// Incremental tokenizer over a byte buffer.
struct Tokenizer<'a> {
    input: &'a [u8],
    position: usize,
    /// Physical line number of the next byte (1-based).
    physical_line: u32,
}

/// The logical line being built.
struct LineBuilder {
    tokens: Vec<String>,
    word: Vec<u8>,
    comment: Option<Vec<u8>>,
}

impl LineBuilder {
    /// parseconf's `addchar`: keep printable ASCII only, up to the limit.
    fn add_byte(&mut self, byte: u8) {
        if !(0x20..=0x7f).contains(&byte) {
            return;
        }
        if self.word.len() >= MAX_TOKEN_LEN {
            return;
        }
        self.word.push(byte);
    }

    /// parseconf's `endofword`: commit the word (even an empty one, as NUT
    /// does for `""`), unless the line already has the maximum.
    fn end_word(&mut self) {
        let word = core::mem::take(&mut self.word);
        if self.tokens.len() >= MAX_TOKENS_PER_LINE {
            return;
        }
        // Only bytes 0x20..=0x7F were kept, so this is always ASCII.
        self.tokens.push(word.into_iter().map(char::from).collect());
    }
}

/// C's `isspace` in the "C" locale.
fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

impl<'a> Tokenizer<'a> {
    fn new(input: &'a [u8]) -> Self {
        Tokenizer { input, position: 0, physical_line: 1 }
    }

    /// The next byte, counting physical lines.
    fn next_byte(&mut self) -> Option<u8> {
        let byte = *self.input.get(self.position)?;
        self.position += 1;
        if byte == b'\n' {
            self.physical_line = self.physical_line.saturating_add(1);
        }
        Some(byte)
    }

    /// Skip to just past the next newline (parse-error recovery).
    fn skip_rest_of_physical_line(&mut self) {
        while let Some(byte) = self.next_byte() {
            if byte == b'\n' {
                break;
            }
        }
    }

    /// Tokenize the next logical line; `None` at end of input.
    fn next_line(&mut self) -> Option<Result<Line, ParseError>> {
        if self.position >= self.input.len() {
            return None;
        }
        let number = self.physical_line;
        let mut line = LineBuilder { tokens: Vec::new(), word: Vec::new(), comment: None };
        let mut state = State::FindWordStart;

        while let Some(byte) = self.next_byte() {
            state = match state {
                State::FindWordStart => match byte {
                    b'\n' => return Some(Ok(finish(number, line))),
                    b'#' => {
                        line.comment = Some(Vec::new());
                        State::FindEndOfLine
                    }
                    _ if is_space(byte) => State::FindWordStart,
                    b'\\' => State::CollectLiteral,
                    b'"' => State::QuoteCollect,
                    b'=' => {
                        line.add_byte(byte);
                        line.end_word();
                        State::FindWordStart
                    }
                    _ => {
                        line.add_byte(byte);
                        State::Collect
                    }
                },
                State::FindEndOfLine => {
                    if byte == b'\n' {
                        return Some(Ok(finish(number, line)));
                    }
                    if let Some(comment) = line.comment.as_mut() {
                        comment.push(byte);
                    }
                    State::FindEndOfLine
                }
                State::QuoteCollect => match byte {
                    b'#' => {
                        let error_line = self.physical_line;
                        self.skip_rest_of_physical_line();
                        return Some(Err(ParseError {
                            line: error_line,
                            message: "unbalanced word due to unescaped # in quotes",
                        }));
                    }
                    b'"' => {
                        line.end_word();
                        State::FindWordStart
                    }
                    b'\\' => State::QuoteLiteral,
                    _ => {
                        // A newline here is dropped by add_byte: the quoted
                        // word continues on the next physical line, as in NUT.
                        line.add_byte(byte);
                        State::QuoteCollect
                    }
                },
                State::QuoteLiteral => {
                    // Backslash-newline joins lines; anything else is literal.
                    if byte != b'\n' {
                        line.add_byte(byte);
                    }
                    State::QuoteCollect
                }
                State::Collect => match byte {
                    b'#' => {
                        line.end_word();
                        line.comment = Some(Vec::new());
                        State::FindEndOfLine
                    }
                    b'\n' => {
                        line.end_word();
                        return Some(Ok(finish(number, line)));
                    }
                    _ if is_space(byte) => {
                        line.end_word();
                        State::FindWordStart
                    }
                    b'=' => {
                        line.end_word();
                        line.add_byte(byte);
                        line.end_word();
                        State::FindWordStart
                    }
                    b'\\' => State::CollectLiteral,
                    _ => {
                        line.add_byte(byte);
                        State::Collect
                    }
                },
                State::CollectLiteral => {
                    if byte != b'\n' {
                        line.add_byte(byte);
                    }
                    State::Collect
                }
            };
        }

        // End of input without a newline: keep what was collected.
        if !line.word.is_empty() {
            line.end_word();
        }
        Some(Ok(finish(number, line)))
    }
}

/// Turn a finished builder into a [`Line`].
fn finish(number: u32, line: LineBuilder) -> Line {
    Line {
        number,
        tokens: line.tokens,
        comment: line.comment.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn words(input: &str) -> Vec<Vec<String>> {
        tokenize(input.as_bytes()).into_iter().filter_map(|line| line.ok()).map(|line| line.tokens).collect()
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| String::from(*s)).collect()
    }

    #[test]
    fn splits_on_whitespace_and_keeps_line_numbers() {
        let lines = tokenize(b"ups.mfr: APC\n\n  battery.charge:\t100 \r\n");
        let lines: Vec<Line> = lines.into_iter().map(|l| l.unwrap()).collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].tokens, strings(&["ups.mfr:", "APC"]));
        assert_eq!(lines[0].number, 1);
        assert!(lines[1].tokens.is_empty());
        assert_eq!(lines[2].tokens, strings(&["battery.charge:", "100"]));
        assert_eq!(lines[2].number, 3);
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(
            words(r#"ups.model: "Smart-UPS 1500" a\ b \"q\" "x\"y" \\"#),
            vec![strings(&["ups.model:", "Smart-UPS 1500", "a b", "\"q\"", "x\"y", "\\"])]
        );
        assert_eq!(words("x: \"\"\n"), vec![strings(&["x:", ""])]);
    }

    #[test]
    fn comments_are_captured_and_end_words() {
        let lines: Vec<Line> = tokenize(b"#CMD:load.off\nups.temperature: 25.0 #BAD: constant\nx#y\n")
            .into_iter()
            .map(|l| l.unwrap())
            .collect();
        assert!(lines[0].tokens.is_empty());
        assert_eq!(lines[0].comment.as_deref(), Some("CMD:load.off"));
        assert_eq!(lines[1].tokens, strings(&["ups.temperature:", "25.0"]));
        assert_eq!(lines[1].comment.as_deref(), Some("BAD: constant"));
        assert_eq!(lines[2].tokens, strings(&["x"]));
        assert_eq!(words(r"a\#b"), vec![strings(&["a#b"])]);
    }

    #[test]
    fn equals_is_its_own_word() {
        for input in ["a=b", "a = b", "a =b", "a= b"] {
            assert_eq!(words(input), vec![strings(&["a", "=", "b"])], "{input}");
        }
        assert_eq!(words("\"a=b\""), vec![strings(&["a=b"])]);
    }

    #[test]
    fn hash_in_quotes_is_an_error_and_skips_the_line() {
        let lines = tokenize(b"a: \"x#y\" more\nb: ok\n");
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], Err(ParseError { line: 1, message: "unbalanced word due to unescaped # in quotes" }));
        assert_eq!(lines[1].as_ref().unwrap().tokens, strings(&["b:", "ok"]));
        assert_eq!(lines[1].as_ref().unwrap().number, 2);
    }

    #[test]
    fn backslash_newline_joins_lines() {
        let lines = tokenize(b"a: one\\\ntwo\nb: 2\n");
        let first = lines[0].as_ref().unwrap();
        assert_eq!(first.tokens, strings(&["a:", "onetwo"]));
        let second = lines[1].as_ref().unwrap();
        assert_eq!(second.number, 3);
    }

    #[test]
    fn non_ascii_and_control_bytes_are_dropped() {
        assert_eq!(words("a: caf\u{e9}\x01!\n"), vec![strings(&["a:", "caf!"])]);
    }

    #[test]
    fn limits_truncate_silently() {
        let long = "x".repeat(600);
        let line = words(&long);
        assert_eq!(line[0][0].len(), MAX_TOKEN_LEN);
        let many: String = (0..40).map(|i| alloc::format!("w{i} ")).collect();
        assert_eq!(words(&many)[0].len(), MAX_TOKENS_PER_LINE);
    }

    #[test]
    fn missing_final_newline_keeps_last_word() {
        assert_eq!(words("ALARM"), vec![strings(&["ALARM"])]);
        assert_eq!(words("TIMER 5"), vec![strings(&["TIMER", "5"])]);
    }

    #[test]
    fn unclosed_quote_runs_to_end_of_input() {
        assert_eq!(words("a: \"open\nstill"), vec![strings(&["a:", "openstill"])]);
    }
}
