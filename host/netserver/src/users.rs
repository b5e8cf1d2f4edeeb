//! `upsd.users`: who may log in, set variables, run commands and raise FSD.
//!
//! Grammar (spec `net-protocol.md` §5, `config-files.md` §4, NUT
//! `server/user.c`), on NUT's tokenizer:
//! - `[name]` (one token) starts a user section;
//! - `key = value [value…]` inside a section, keys case-insensitive:
//!   `password` (first one wins), `actions` (`SET`, `FSD`, also `LOGIN`,
//!   `PRIMARY`/`MASTER`), `instcmds` (command names or `ALL`), `upsmon`
//!   (`primary`/`master` or `secondary`/`slave`); `allowfrom` is obsolete;
//! - `upsmon primary` (no `=`) also works; a line starting with `user`
//!   (pre-2.0 format) is ignored.
//!
//! Unknown keys and ignored lines become [`Warning`]s. Two things that upsd
//! merely logs are errors here, because upsd's recovery silently moves the
//! following lines (passwords, rights) to the *previous* user: a line the
//! tokenizer rejects and a `[...` header that is not one token. A duplicate
//! `[name]` section is ignored as a whole (upsd would also credit its rights
//! to the previous user).
//!
//! Checks follow upsd: the user name matches case-sensitively, the password
//! must equal the configured one exactly, and the right must be listed;
//! unknown user, wrong password and missing right all simply deny.

use std::path::{Path, PathBuf};

use hazel_nutconf::parseconf;

use crate::warning::Warning;

/// A right checked by `LOGIN`, `PRIMARY`/`MASTER`, `FSD` and `SET`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `LOGIN <ups>`: count as a monitoring client of that UPS.
    Login,
    /// `PRIMARY`/`MASTER`: act as the primary upsmon (spelled `PRIMARY` or
    /// `MASTER` in the file; either grants it).
    Primary,
    /// `FSD <ups>`: raise forced shutdown.
    Fsd,
    /// `SET VAR`: change writable variables.
    Set,
}

impl Action {
    fn is_granted_by(self, word: &str) -> bool {
        match self {
            Action::Login => word.eq_ignore_ascii_case("LOGIN"),
            Action::Primary => word.eq_ignore_ascii_case("PRIMARY") || word.eq_ignore_ascii_case("MASTER"),
            Action::Fsd => word.eq_ignore_ascii_case("FSD"),
            Action::Set => word.eq_ignore_ascii_case("SET"),
        }
    }
}

/// Action words upsd gives a meaning to; others are kept but warned about.
const KNOWN_ACTIONS: &[&str] = &["SET", "FSD", "LOGIN", "PRIMARY", "MASTER"];

/// One `[name]` section.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    name: String,
    password: Option<String>,
    actions: Vec<String>,
    instcmds: Vec<String>,
    line: usize,
}

impl User {
    /// The user name, as written between the brackets.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether a password is set (a user without one can never authenticate).
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// Granted action words as written (after `upsmon` expansion).
    pub fn actions(&self) -> &[String] {
        &self.actions
    }

    /// Granted instant commands as written (`ALL` grants every command).
    pub fn instcmds(&self) -> &[String] {
        &self.instcmds
    }

    /// Line of the `[name]` header.
    pub fn line(&self) -> usize {
        self.line
    }

    fn has_action(&self, action: Action) -> bool {
        self.actions.iter().any(|word| action.is_granted_by(word))
    }

    fn has_instcmd(&self, command: &str) -> bool {
        self.instcmds.iter().any(|granted| granted.eq_ignore_ascii_case(command) || granted.eq_ignore_ascii_case("all"))
    }

    fn add_action(&mut self, word: &str) {
        self.actions.push(word.to_string());
    }
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password stays out of logs.
        f.debug_struct("User")
            .field("name", &self.name)
            .field("has_password", &self.password.is_some())
            .field("actions", &self.actions)
            .field("instcmds", &self.instcmds)
            .field("line", &self.line)
            .finish()
    }
}

/// An `upsd.users` problem that makes the file unusable; names the file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsersError {
    /// A line had an unescaped `#` inside quotes.
    #[error(
        "{}:{line}: parse error: unescaped '#' inside quotes; expected \\# or a closing quote first",
        .path.display()
    )]
    Parse {
        /// File being read.
        path: PathBuf,
        /// Line of the offending `#`.
        line: usize,
    },
    /// A line starting with `[` is not a `[name]` header.
    #[error(
        "{}:{line}: invalid user section header {header:?}; expected [name] as one token with a non-empty name (no spaces)",
        .path.display()
    )]
    InvalidHeader {
        /// File being read.
        path: PathBuf,
        /// Line of the header.
        line: usize,
        /// The line's tokens as read.
        header: String,
    },
}

/// The parsed `upsd.users`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Users {
    users: Vec<User>,
    warnings: Vec<Warning>,
}

impl Users {
    /// No users: every authenticated request is denied.
    pub fn empty() -> Self {
        Users::default()
    }

    /// Parse the contents of `path` (the path is only used in messages).
    pub fn parse(path: impl AsRef<Path>, text: impl AsRef<[u8]>) -> Result<Users, UsersError> {
        let path = path.as_ref();
        let mut parser = Parser::default();
        for line in parseconf::lines(text.as_ref()) {
            let line = line.map_err(|e| UsersError::Parse { path: path.to_path_buf(), line: e.line })?;
            parser.line(path, line.number, &line.tokens)?;
        }
        Ok(Users { users: parser.users, warnings: parser.warnings })
    }

    /// All user sections in file order.
    pub fn users(&self) -> &[User] {
        &self.users
    }

    /// Oddities found while parsing, for the caller to log.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Whether the client's USERNAME/PASSWORD grant `action`.
    pub fn allows(&self, username: Option<&str>, password: Option<&str>, action: Action) -> bool {
        self.authenticate(username, password).is_some_and(|user| user.has_action(action))
    }

    /// Whether the client's USERNAME/PASSWORD grant instant command `command`.
    pub fn allows_instcmd(&self, username: Option<&str>, password: Option<&str>, command: &str) -> bool {
        self.authenticate(username, password).is_some_and(|user| user.has_instcmd(command))
    }

    /// The user the credentials belong to, if the password matches.
    fn authenticate(&self, username: Option<&str>, password: Option<&str>) -> Option<&User> {
        let (username, password) = (username?, password?);
        let user = self.users.iter().find(|user| user.password.is_some() && user.name == username)?;
        let expected = user.password.as_deref()?;
        constant_time_eq(expected.as_bytes(), password.as_bytes()).then_some(user)
    }
}

/// Compare without an early exit, so response time does not reveal how many
/// leading characters of a guessed password were right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Line-by-line state of the reader.
#[derive(Default)]
struct Parser {
    users: Vec<User>,
    /// Index of the section lines apply to; `None` before the first section
    /// and inside an ignored duplicate.
    current: Option<usize>,
    warnings: Vec<Warning>,
}

impl Parser {
    fn line(&mut self, path: &Path, number: usize, tokens: &[String]) -> Result<(), UsersError> {
        let Some(first) = tokens.first() else {
            return Ok(());
        };
        if first.starts_with('[') {
            return self.header(path, number, tokens);
        }
        if first.eq_ignore_ascii_case("user") {
            self.warn(number, "old-format 'user' line ignored");
            return Ok(());
        }
        match tokens {
            [key, equals, values @ ..] if equals == "=" && !values.is_empty() => {
                for value in values {
                    self.setting(number, key, value);
                }
            }
            // `upsmon primary`; upsd ignores anything after the type
            [key, value, ..] if key.eq_ignore_ascii_case("upsmon") => self.setting(number, key, value),
            _ => self.warn(number, format!("line {:?} ignored; expected 'key = value'", tokens.join(" "))),
        }
        Ok(())
    }

    fn header(&mut self, path: &Path, number: usize, tokens: &[String]) -> Result<(), UsersError> {
        let name = match tokens {
            [only] => only.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')),
            _ => None,
        };
        let Some(name) = name.filter(|name| !name.is_empty()) else {
            return Err(UsersError::InvalidHeader { path: path.to_path_buf(), line: number, header: tokens.join(" ") });
        };
        if let Some(first) = self.users.iter().find(|user| user.name == name) {
            let message = format!("duplicate user [{name}] (first at line {}); this section is ignored", first.line);
            self.warn(number, message);
            self.current = None;
            return Ok(());
        }
        self.users.push(User {
            name: name.to_string(),
            password: None,
            actions: Vec::new(),
            instcmds: Vec::new(),
            line: number,
        });
        self.current = Some(self.users.len() - 1);
        Ok(())
    }

    fn setting(&mut self, number: usize, key: &str, value: &str) {
        let Some(user) = self.current.and_then(|index| self.users.get_mut(index)) else {
            self.warn(number, format!("'{key}' outside a [user] section ignored"));
            return;
        };
        let warning = match key.to_ascii_lowercase().as_str() {
            "password" if user.password.is_some() => {
                Some(format!("duplicate password for {}; the first one is used", user.name))
            }
            "password" => {
                user.password = Some(value.to_string());
                None
            }
            "instcmds" => {
                user.instcmds.push(value.to_string());
                None
            }
            "actions" => {
                user.add_action(value);
                (!KNOWN_ACTIONS.iter().any(|known| known.eq_ignore_ascii_case(value)))
                    .then(|| format!("unknown action '{value}' (kept; expected SET or FSD)"))
            }
            "upsmon" => match value.to_ascii_lowercase().as_str() {
                "primary" | "master" => {
                    for word in ["LOGIN", "PRIMARY", "FSD"] {
                        user.add_action(word);
                    }
                    None
                }
                "secondary" | "slave" => {
                    user.add_action("LOGIN");
                    None
                }
                _ => Some(format!("unknown upsmon type '{value}'; expected primary or secondary")),
            },
            "allowfrom" => Some("'allowfrom' is no longer used; use LISTEN and a firewall".to_string()),
            _ => Some(format!("unknown user setting '{key}' ignored")),
        };
        if let Some(message) = warning {
            self.warn(number, message);
        }
    }

    fn warn(&mut self, line: usize, message: impl Into<String>) {
        self.warnings.push(Warning::new(line, message));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
# the transcript's users
[admin]
    password = adminpass
    actions = SET
    actions = FSD
    instcmds = ALL
[upsmon]
    password=pass
    upsmon primary
[secondary]
    password = "with space"
    upsmon = slave
[setter]
    password = s
    actions = set fsd
    instcmds = load.off Beeper.Toggle
[nopass]
    actions = SET
"#;

    fn users() -> Users {
        Users::parse("upsd.users", SAMPLE).expect("valid file")
    }

    #[test]
    fn parses_sections_and_forms() {
        let users = users();
        let names: Vec<_> = users.users().iter().map(User::name).collect();
        assert_eq!(names, ["admin", "upsmon", "secondary", "setter", "nopass"]);
        assert_eq!(users.users()[1].actions(), ["LOGIN", "PRIMARY", "FSD"]);
        assert_eq!(users.users()[2].actions(), ["LOGIN"]);
        assert_eq!(users.users()[3].instcmds(), ["load.off", "Beeper.Toggle"]);
        assert!(!users.users()[4].has_password());
        assert!(!format!("{users:?}").contains("adminpass"), "passwords stay out of Debug");
        assert!(users.warnings().is_empty(), "{:?}", users.warnings());
    }

    #[test]
    fn actions_need_user_password_and_right() {
        let users = users();
        let ok = |u: &str, p: &str, a| users.allows(Some(u), Some(p), a);
        assert!(ok("admin", "adminpass", Action::Set));
        assert!(ok("admin", "adminpass", Action::Fsd));
        assert!(!ok("admin", "adminpass", Action::Login));
        assert!(!ok("admin", "adminpass", Action::Primary));
        assert!(!ok("admin", "wrong", Action::Set));
        assert!(!ok("Admin", "adminpass", Action::Set), "user names are case-sensitive");
        assert!(!ok("admin", "ADMINPASS", Action::Set), "passwords are case-sensitive");
        assert!(ok("upsmon", "pass", Action::Login));
        assert!(ok("upsmon", "pass", Action::Primary));
        assert!(ok("upsmon", "pass", Action::Fsd));
        assert!(!ok("upsmon", "pass", Action::Set));
        assert!(ok("secondary", "with space", Action::Login));
        assert!(!ok("secondary", "with space", Action::Primary));
        assert!(ok("setter", "s", Action::Set), "action words are case-insensitive");
        assert!(!ok("nopass", "", Action::Set), "users without password never authenticate");
        assert!(!ok("nobody", "x", Action::Login));
        assert!(!users.allows(None, Some("adminpass"), Action::Set));
        assert!(!users.allows(Some("admin"), None, Action::Set));
    }

    #[test]
    fn instcmds_match_case_insensitively_or_all() {
        let users = users();
        let ok = |u: &str, p: &str, c: &str| users.allows_instcmd(Some(u), Some(p), c);
        assert!(ok("admin", "adminpass", "load.off"));
        assert!(ok("admin", "adminpass", "anything.at.all"));
        assert!(!ok("admin", "bad", "load.off"));
        assert!(ok("setter", "s", "LOAD.OFF"));
        assert!(ok("setter", "s", "beeper.toggle"));
        assert!(!ok("setter", "s", "load.on"));
        assert!(!ok("upsmon", "pass", "load.off"));
        assert!(!Users::empty().allows_instcmd(Some("admin"), Some("adminpass"), "load.off"));
    }

    #[test]
    fn master_grants_primary_and_legacy_names_work() {
        let users =
            Users::parse("u", "[a]\npassword = p\nupsmon master\n[b]\npassword = p\nactions = MASTER\n").unwrap();
        assert!(users.allows(Some("a"), Some("p"), Action::Primary));
        assert!(users.allows(Some("a"), Some("p"), Action::Fsd));
        assert!(users.allows(Some("b"), Some("p"), Action::Primary));
        assert!(!users.allows(Some("b"), Some("p"), Action::Login));
    }

    #[test]
    fn oddities_are_warnings() {
        let text = "password = orphan\nuser old format\n[a]\npassword = p\npassword = q\nallowfrom = x\n\
                    colour = blue\nactions = SHUTDOWN\nupsmon boss\nlonely\n[a]\nactions = SET\n";
        let users = Users::parse("u", text).unwrap();
        let lines: Vec<usize> = users.warnings().iter().map(|w| w.line).collect();
        assert_eq!(lines, [1, 2, 5, 6, 7, 8, 9, 10, 11, 12]);
        assert!(!users.allows(Some("a"), Some("p"), Action::Login));
        assert!(!users.allows_instcmd(Some("a"), Some("q"), "x"), "first password wins");
        // the duplicate section's rights (line 12) are not credited to anyone
        assert!(!users.allows(Some("a"), Some("p"), Action::Set));
        assert!(users.warnings()[8].to_string().contains("duplicate user [a]"));
    }

    #[test]
    fn unsafe_recoveries_are_errors() {
        let error = Users::parse("/etc/nut/upsd.users", "[a]\npassword = \"x#y\"\n").unwrap_err();
        assert_eq!(error, UsersError::Parse { path: "/etc/nut/upsd.users".into(), line: 2 });
        assert!(error.to_string().starts_with("/etc/nut/upsd.users:2: parse error"));
        for header in ["[my user]", "[]", "[open", "[a] extra"] {
            let error = Users::parse("u", format!("[a]\npassword = p\n{header}\n")).unwrap_err();
            assert!(matches!(error, UsersError::InvalidHeader { line: 3, .. }), "{header}: {error}");
        }
    }

    #[test]
    fn arbitrary_input_never_panics() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let alphabet = b"[]= \n\"#\\abcupsmonpasswordactionsinstcmdsSETFSD";
        for _ in 0..5000 {
            let text: Vec<u8> = (0..60)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            if let Ok(users) = Users::parse("u", &text) {
                let _ = users.allows(Some("a"), Some("b"), Action::Set);
            }
        }
    }
}
