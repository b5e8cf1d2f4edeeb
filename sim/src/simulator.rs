//! A running simulator: a thread serving the Megatec protocol on a pty, with a
//! handle to watch its log and change its surroundings.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::command_log::{CommandLog, LogKind};
use crate::megatec::{Command, Line, LineSplitter};
use crate::model::{Action, ConfigError, Model, ModelConfig, ModelState};
use crate::pty::{Pty, PtyError};
use crate::script::Script;

/// How often the serving thread wakes with no input, to run scripts and timers on time.
const TICK: Duration = Duration::from_millis(50);
/// How long a reply may wait for a client that does not read before it is dropped.
const WRITE_PATIENCE: Duration = Duration::from_secs(1);

/// Everything a simulator is started with.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// The UPS.
    pub model: ModelConfig,
    /// Simulated seconds per real second (60: a simulated minute per second).
    pub time_scale: f64,
    /// Events to play from the start.
    pub script: Script,
    /// Play the script again and again: each round starts when the previous
    /// round's last event happens (so a script's last time is its period).
    pub repeat_script: bool,
    /// A symlink to make to the pty's slave, removed when the simulator stops.
    pub link: Option<PathBuf>,
    /// A file to write the log to as well, one line per entry.
    pub log_file: Option<PathBuf>,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            model: ModelConfig::default(),
            time_scale: 1.0,
            script: Script::default(),
            repeat_script: false,
            link: None,
            log_file: None,
        }
    }
}

/// Why a simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// A model setting is out of range.
    #[error("bad UPS setting: {0}")]
    Config(#[from] ConfigError),
    /// A repeated script must take some time, or it would repeat forever at one instant.
    #[error("a repeated script needs its last event after 0 s (that time is its period)")]
    RepeatPeriod,
    /// The time scale is not a positive number.
    #[error("bad time scale {0}: expected a number above 0")]
    TimeScale(f64),
    /// No pseudo-terminal.
    #[error(transparent)]
    Pty(#[from] PtyError),
    /// The symlink could not be made.
    #[error("cannot link {path} to the pty: {source}")]
    Link {
        /// The link's path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The log file could not be created.
    #[error("cannot create log file {path}: {source}")]
    LogFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The serving thread could not be started.
    #[error("cannot start the simulator thread: {0}")]
    Thread(io::Error),
}

/// Starts simulators.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Open a pty and serve the Megatec protocol on it from a new thread until
    /// the returned handle is dropped (or [`RunningSimulator::stop`]ped).
    pub fn spawn(config: SimulatorConfig) -> Result<RunningSimulator, SpawnError> {
        config.model.validate()?;
        if !(config.time_scale.is_finite() && config.time_scale > 0.0) {
            return Err(SpawnError::TimeScale(config.time_scale));
        }
        let repeat = match config.repeat_script {
            true if config.script.events.last().is_some_and(|e| e.at > 0.0) => Some(config.script.clone()),
            true => return Err(SpawnError::RepeatPeriod),
            false => None,
        };
        let file = match &config.log_file {
            Some(path) => {
                Some(File::create(path).map_err(|source| SpawnError::LogFile { path: path.clone(), source })?)
            }
            None => None,
        };
        let log = CommandLog::new(file);
        let pty = Pty::open()?;
        let pty_path = pty.slave_path.clone();
        if let Some(link) = &config.link {
            make_link(link, &pty_path).map_err(|source| SpawnError::Link { path: link.clone(), source })?;
        }
        let world = Arc::new(Mutex::new(World {
            model: Model::new(config.model),
            time_scale: config.time_scale,
            last: Instant::now(),
            pending: Vec::new(),
            repeat,
            frozen: false,
            log: log.clone(),
        }));
        lock(&world).schedule(config.script);
        log.record(0.0, LogKind::Event(format!("serving on {}", pty_path.display())));
        let stop = Arc::new(AtomicBool::new(false));
        let serve = Server {
            pty,
            world: world.clone(),
            stop: stop.clone(),
            splitter: LineSplitter::default(),
            congested: false,
        };
        let thread = std::thread::Builder::new().name("hazel-sim".into()).spawn(move || serve.run());
        let thread = match thread {
            Ok(thread) => thread,
            Err(err) => {
                if let Some(link) = &config.link {
                    let _ = std::fs::remove_file(link);
                }
                return Err(SpawnError::Thread(err));
            }
        };
        Ok(RunningSimulator { pty_path, link: config.link, log, world, stop, thread: Some(thread) })
    }
}

/// Point `link` at `target`, replacing a stale symlink (never a regular file).
fn make_link(link: &Path, target: &Path) -> io::Result<()> {
    if let Ok(meta) = std::fs::symlink_metadata(link) {
        if !meta.file_type().is_symlink() {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "exists and is not a symlink"));
        }
        std::fs::remove_file(link)?;
    }
    std::os::unix::fs::symlink(target, link)
}

/// A simulator serving on its pty. Dropping it stops the simulator and removes the link.
#[derive(Debug)]
pub struct RunningSimulator {
    pty_path: PathBuf,
    link: Option<PathBuf>,
    log: CommandLog,
    world: Arc<Mutex<World>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl RunningSimulator {
    /// The pty slave a client opens, e.g. `/dev/pts/7`.
    pub fn pty_path(&self) -> &Path {
        &self.pty_path
    }

    /// The symlink made to the pty, if one was asked for.
    pub fn link_path(&self) -> Option<&Path> {
        self.link.as_deref()
    }

    /// The log of commands, replies and events.
    pub fn log(&self) -> &CommandLog {
        &self.log
    }

    /// Change the surroundings now (logged as an event).
    pub fn apply(&self, action: Action) {
        let mut world = lock(&self.world);
        world.catch_up();
        world.log.record(world.model.now(), LogKind::Event(action.to_string()));
        world.model.apply(&action);
        world.log_model_events();
    }

    /// Mains present or failed, now.
    pub fn set_mains(&self, present: bool) {
        self.apply(Action::Mains(present));
    }

    /// Stop simulated time (`true`) or let it run again (`false`): while frozen,
    /// the battery neither drains nor charges, timers and scripts wait, and
    /// the UPS still answers every command with its frozen state.
    pub fn set_frozen(&self, frozen: bool) {
        let mut world = lock(&self.world);
        world.catch_up();
        if world.frozen != frozen {
            world.frozen = frozen;
            let event = if frozen { "time frozen" } else { "time running" };
            world.log.record(world.model.now(), LogKind::Event(event.into()));
        }
    }

    /// Play `script` with its times counted from now (in simulated time).
    pub fn run_script(&self, script: Script) {
        let mut world = lock(&self.world);
        world.catch_up();
        world.schedule(script);
    }

    /// The UPS's state now.
    pub fn state(&self) -> ModelState {
        let mut world = lock(&self.world);
        world.catch_up();
        world.model.state()
    }

    /// Simulated seconds since the start.
    pub fn simulated_seconds(&self) -> f64 {
        let mut world = lock(&self.world);
        world.catch_up();
        world.model.now()
    }

    /// Whether the serving thread has ended (only after an I/O error on the pty, or a stop).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stop serving; returns the serving thread's error, if it failed.
    pub fn stop(mut self) -> io::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> io::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        let result = match self.thread.take() {
            Some(thread) => thread.join().unwrap_or_else(|_| Err(io::Error::other("the simulator thread panicked"))),
            None => Ok(()),
        };
        if let Some(link) = &self.link
            && std::fs::read_link(link).is_ok_and(|target| target == self.pty_path)
        {
            let _ = std::fs::remove_file(link);
        }
        result
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

fn lock(world: &Mutex<World>) -> MutexGuard<'_, World> {
    world.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The model and its clock, shared by the serving thread and the handle.
#[derive(Debug)]
struct World {
    model: Model,
    time_scale: f64,
    /// When the model's clock was last brought up to date.
    last: Instant,
    /// Script events still to come: (simulated time, action, description), in time order.
    pending: Vec<(f64, Action, String)>,
    /// The script to play again when `pending` runs out, if it repeats.
    repeat: Option<Script>,
    /// Simulated time stands still.
    frozen: bool,
    log: CommandLog,
}

impl World {
    fn schedule(&mut self, script: Script) {
        self.schedule_from(self.model.now(), script);
    }

    /// Schedule `script` with its times counted from simulated time `start`.
    fn schedule_from(&mut self, start: f64, script: Script) {
        let now = start;
        self.pending.extend(
            script
                .events
                .into_iter()
                .map(|e| (now + e.at, e.action.clone(), format!("script line {}: {}", e.line, e.action))),
        );
        self.pending.sort_by(|a, b| a.0.total_cmp(&b.0));
    }

    /// Bring the model to the current real time, playing due script events at their simulated time.
    fn catch_up(&mut self) {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        if self.frozen {
            return;
        }
        let target = self.model.now() + elapsed * self.time_scale;
        while self.pending.first().is_some_and(|(at, _, _)| *at <= target) {
            let (at, action, description) = self.pending.remove(0);
            self.model.advance(at - self.model.now());
            self.log_model_events();
            self.log.record(self.model.now(), LogKind::Event(description));
            self.model.apply(&action);
            self.log_model_events();
            if self.pending.is_empty()
                && let Some(script) = self.repeat.clone()
            {
                self.log.record(self.model.now(), LogKind::Event("script starts again".into()));
                self.schedule_from(at, script);
            }
        }
        self.model.advance(target - self.model.now());
        self.log_model_events();
    }

    fn log_model_events(&mut self) {
        for (at, event) in self.model.take_events() {
            self.log.record(at, LogKind::Event(event));
        }
    }

    /// Log a command, answer it, log the reply.
    fn answer(&mut self, line: &[u8]) -> Option<Vec<u8>> {
        self.catch_up();
        let mut received = line.to_vec();
        received.push(b'\r');
        self.log.record(self.model.now(), LogKind::Received(received));
        let reply = self.model.handle(&Command::parse(line));
        self.log_model_events();
        if let Some(reply) = &reply {
            self.log.record(self.model.now(), LogKind::Sent(reply.clone()));
        }
        reply
    }
}

/// The serving thread's state.
struct Server {
    pty: Pty,
    world: Arc<Mutex<World>>,
    stop: Arc<AtomicBool>,
    splitter: LineSplitter,
    /// The last reply was dropped because the client was not reading.
    congested: bool,
}

impl Server {
    fn run(mut self) -> io::Result<()> {
        let result = self.serve();
        let mut world = lock(&self.world);
        world.catch_up();
        let simulated = world.model.now();
        match &result {
            Ok(()) => world.log.record(simulated, LogKind::Event("stopped".into())),
            Err(err) => world.log.record(simulated, LogKind::Event(format!("stopped on an error: {err}"))),
        }
        result
    }

    fn serve(&mut self) -> io::Result<()> {
        let mut buffer = [0u8; 512];
        while !self.stop.load(Ordering::Relaxed) {
            let readable = wait_for(&self.pty.master, PollFlags::POLLIN, TICK)?;
            lock(&self.world).catch_up();
            if !readable {
                continue;
            }
            loop {
                match self.pty.master.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(n) => {
                        for line in self.splitter.feed(&buffer[..n]) {
                            self.take_line(line)?;
                        }
                    }
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => break,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                    Err(err) => return Err(io::Error::new(err.kind(), format!("reading the pty master: {err}"))),
                }
            }
        }
        Ok(())
    }

    fn take_line(&mut self, line: Line) -> io::Result<()> {
        let mut world = lock(&self.world);
        match line {
            Line::Command(line) => {
                let reply = world.answer(&line);
                drop(world);
                if let Some(reply) = reply {
                    self.send(&reply)?;
                }
            }
            Line::Discarded(count) => {
                world.log.record(world.model.now(), LogKind::Event(format!("discarded {count} bytes of noise")));
            }
        }
        Ok(())
    }

    /// Write a reply; if the client does not read it within [`WRITE_PATIENCE`]
    /// (or at once, while the client has not read since the last such drop), drop the rest.
    fn send(&mut self, reply: &[u8]) -> io::Result<()> {
        let mut rest = reply;
        let deadline = Instant::now() + WRITE_PATIENCE;
        while !rest.is_empty() {
            match self.pty.master.write(rest) {
                Ok(n) => rest = &rest[n..],
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    let left = deadline.saturating_duration_since(Instant::now()).min(TICK);
                    let give_up = self.congested || left.is_zero() || self.stop.load(Ordering::Relaxed);
                    if give_up {
                        if !self.congested {
                            let world = lock(&self.world);
                            let event =
                                format!("client is not reading: dropping replies ({} bytes so far)", rest.len());
                            world.log.record(world.model.now(), LogKind::Event(event));
                        }
                        self.congested = true;
                        return Ok(());
                    }
                    wait_for(&self.pty.master, PollFlags::POLLOUT, left)?;
                }
                Err(err) => return Err(io::Error::new(err.kind(), format!("writing the pty master: {err}"))),
            }
        }
        self.congested = false;
        Ok(())
    }
}

/// Wait up to `timeout` for `flags` on `file`; `true` when ready.
fn wait_for(file: &File, flags: PollFlags, timeout: Duration) -> io::Result<bool> {
    let millis = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    let mut fds = [PollFd::new(file.as_fd(), flags)];
    match poll(&mut fds, PollTimeout::from(millis)) {
        Ok(0) => Ok(false),
        Ok(_) => Ok(true),
        Err(nix::errno::Errno::EINTR) => Ok(false),
        Err(err) => Err(io::Error::new(io::Error::from(err).kind(), format!("polling the pty master: {err}"))),
    }
}
