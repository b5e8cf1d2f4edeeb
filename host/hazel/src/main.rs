//! `hazel`: a NUT-compatible UPS management host whose device drivers are
//! sandboxed WebAssembly plugins.

use hazel::client_commands::{self, CmdArgs, Console, SetArgs, StatusArgs};
use hazel::commands;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};

/// Command line.
#[derive(Parser)]
#[command(
    name = "hazel",
    version,
    about = "NUT-compatible UPS management with sandboxed WebAssembly drivers",
    after_help = "NUT clients (see each one's --help):\n  \
                  status  Show a UPS's variables, like NUT's upsc\n  \
                  cmd     Run an instant command, like NUT's upscmd\n  \
                  set     Show or set writable variables, like NUT's upsrw"
)]
struct Cli {
    /// Config dir with ups.conf (and optionally hazel.toml, upsd.conf, upsd.users).
    /// Default: /etc/hazel, or /etc/nut when /etc/hazel does not exist.
    #[arg(short = 'c', long = "confdir", global = true)]
    confdir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every configured device.
    Serve,
    /// Check the configuration and report every problem, without starting devices.
    CheckConfig,
    /// Watch UPSes per CONFDIR/upsmon.conf and shut this host down when their power runs out, like NUT's upsmon.
    #[command(after_help = "Runs in the foreground; SIGTERM stops it, SIGUSR1 forces a shutdown (upsmon -c fsd), \
                            SIGHUP re-reads upsmon.conf (a changed file needs a restart). `hazel serve` runs the \
                            same monitor itself when CONFDIR has an upsmon.conf; signal that process instead.")]
    Monitor {
        /// Exit 0 if the POWERDOWNFLAG file is set, 1 otherwise (upsmon -K).
        #[arg(short = 'K', conflicts_with = "command")]
        check_powerdown_flag: bool,
        /// Send a command to the running monitor and exit (upsmon -c; -c is the config dir here).
        #[arg(long, value_name = "fsd|stop|reload", value_parser = ["fsd", "stop", "reload"])]
        command: Option<String>,
        /// With --command: the process to signal, instead of the PID file's (upsmon -P).
        #[arg(short = 'P', value_name = "PID", requires = "command")]
        pid: Option<u32>,
        /// PID file written by the monitor and read by --command.
        #[arg(long, value_name = "PATH", default_value_os_t = hazel::monitor::default_pid_file())]
        pid_file: PathBuf,
    },
    /// Tell UPS (a ups.conf section) to cut its power now, like NUT's `upsdrvctl shutdown UPS`.
    KillPower {
        /// The ups.conf section.
        ups: String,
    },
    /// Write the tree an image builder copies in for the late shutdown:
    /// hazel-initrd, precompiled plugins, the systemd-shutdown hook, a dracut module.
    InitrdBundle {
        /// Plugins to precompile, comma-separated, e.g. megatec.
        #[arg(long, value_delimiter = ',', required = true)]
        plugins: Vec<String>,
        /// The output directory.
        #[arg(short = 'o', long = "output", value_name = "DIR")]
        out: PathBuf,
        /// The hazel-initrd binary to copy (default: the one beside hazel).
        #[arg(long, value_name = "PATH")]
        initrd_binary: Option<PathBuf>,
    },
    /// Plugin tools.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// USB HID tools (NUT's usbhid-ups explore mode).
    Usb {
        #[command(subcommand)]
        command: hazel::usb_explore::UsbCommand,
    },
    /// Control the devices of a running `hazel serve`, like NUT's upsdrvctl/upsdrvsvcctl.
    #[command(after_help = "Talks to the control socket of `hazel serve` (hazel.toml control_socket, \
                            default /run/hazel/control.sock).")]
    Drivers {
        /// The control socket, instead of the one hazel.toml names.
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
        #[command(subcommand)]
        command: DriversCommand,
    },
}

#[derive(Subcommand)]
enum DriversCommand {
    /// Every device: state, plugin, uptime, restarts.
    List,
    /// One device in detail.
    Status {
        /// The ups.conf section.
        name: String,
    },
    /// Start a stopped device.
    Start {
        /// The ups.conf section.
        name: String,
    },
    /// Stop a device; it stays stopped across reloads until started.
    Stop {
        /// The ups.conf section.
        name: String,
    },
    /// Restart a device (and the virtual devices over it).
    Restart {
        /// The ups.conf section.
        name: String,
    },
    /// Re-read ups.conf and hazel.toml and apply the changes now.
    Reload,
}

impl DriversCommand {
    /// The control protocol line.
    fn request_line(&self) -> String {
        match self {
            DriversCommand::List => "LIST".into(),
            DriversCommand::Status { name } => format!("STATUS {name}"),
            DriversCommand::Start { name } => format!("START {name}"),
            DriversCommand::Stop { name } => format!("STOP {name}"),
            DriversCommand::Restart { name } => format!("RESTART {name}"),
            DriversCommand::Reload => "RELOAD".into(),
        }
    }
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Show what a plugin declares and imports, without granting it anything.
    Inspect {
        /// The plugin file (.wasm or .cwasm).
        file: PathBuf,
    },
    /// List the plugins found in the plugin directories and the drivers they provide.
    List,
}

/// Runs `hazel status|cmd|set` when `args` name one of them.
fn run_client_command(args: &[OsString]) -> Option<std::process::ExitCode> {
    let name = args.get(1)?.to_str()?;
    if !matches!(name, "status" | "cmd" | "set") {
        return None;
    }
    let rest = args.iter().skip(2).cloned();
    let argv = std::iter::once(OsString::from(format!("hazel {name}"))).chain(rest);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("hazel: cannot start the async runtime: {e}");
            return Some(std::process::ExitCode::FAILURE);
        }
    };
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    let mut console = Console { out: &mut out, err: &mut err };
    let result = runtime.block_on(async {
        match name {
            "status" => client_commands::status(&StatusArgs::parse_from(argv), &mut console).await,
            "cmd" => client_commands::cmd(&CmdArgs::parse_from(argv), &mut console).await,
            _ => client_commands::set(&SetArgs::parse_from(argv), &mut console).await,
        }
    });
    Some(match result {
        Ok(status) => std::process::ExitCode::from(status),
        Err(e) => {
            eprintln!("hazel {name}: {e:#}");
            std::process::ExitCode::FAILURE
        }
    })
}

fn default_confdir() -> PathBuf {
    let hazel = Path::new("/etc/hazel");
    if hazel.is_dir() { hazel.into() } else { PathBuf::from("/etc/nut") }
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("HAZEL_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args: Vec<OsString> = std::env::args_os().collect();
    if let Some(code) = run_client_command(&args) {
        return code;
    }
    let cli = Cli::parse_from(args);
    let confdir = cli.confdir.clone().unwrap_or_else(default_confdir);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hazel: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve => commands::serve(&confdir).await,
            Command::CheckConfig => commands::check_config(&confdir).await,
            Command::Monitor { check_powerdown_flag: true, .. } => hazel::monitor::check_powerdown_flag(&confdir),
            Command::Monitor { command: Some(name), pid, pid_file, .. } => {
                let control = hazel::monitor::Control::from_name(&name).context("unknown monitor command")?;
                hazel::monitor::send_control(control, pid, &pid_file).map(|()| std::process::ExitCode::SUCCESS)
            }
            Command::Monitor { pid_file, .. } => hazel::monitor::run_standalone(&confdir, &pid_file).await,
            Command::Plugin { command: PluginCommand::Inspect { file } } => {
                commands::inspect_plugin(&confdir, &file).await
            }
            Command::Plugin { command: PluginCommand::List } => commands::list_plugins(&confdir).await,
            Command::Drivers { socket, command } => {
                hazel::live_set::control::drivers(&confdir, socket, &command.request_line()).await
            }
            Command::Usb { command } => hazel::usb_explore::run(&confdir, command).await,
            Command::KillPower { ups } => {
                hazel::late_shutdown::kill_power(&confdir, &ups).await.map(|()| std::process::ExitCode::SUCCESS)
            }
            Command::InitrdBundle { plugins, out, initrd_binary } => {
                let request = hazel::late_shutdown::InitrdBundleRequest { plugins, out, initrd_binary };
                hazel::late_shutdown::initrd_bundle(&confdir, &request).await.map(|()| std::process::ExitCode::SUCCESS)
            }
        }
        .with_context(|| format!("config dir {}", confdir.display()))
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hazel: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
