//! `hazel`: a NUT-compatible UPS management host whose device drivers are
//! sandboxed WebAssembly plugins.

use hazel::commands;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};

/// Command line.
#[derive(Parser)]
#[command(name = "hazel", version, about = "NUT-compatible UPS management with sandboxed WebAssembly drivers")]
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
    /// Plugin tools.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
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
    let cli = Cli::parse();
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
            Command::Plugin { command: PluginCommand::Inspect { file } } => {
                commands::inspect_plugin(&confdir, &file).await
            }
            Command::Plugin { command: PluginCommand::List } => commands::list_plugins(&confdir).await,
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
