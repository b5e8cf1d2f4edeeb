//! Glue between the WIT world `file-plugin` and the behaviours in `lib.rs`.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use hazel_guest_rt::InstanceCell;

use crate::{Behavior, Config, ESCAPE_PROBES, HUGE_ALLOCATION, spin_forever};

wit_bindgen::generate!({
    path: "../../wit",
    world: "file-plugin",
});

use exports::hazel::plugin::driver::Guest;
use hazel::plugin::file::{self, FileError};
use hazel::plugin::types::{Change, Description, DeviceError, DeviceInfo, KillMode, Setting, VarMeta};

/// What one instance remembers between calls.
struct Instance {
    /// Settings from `init`; `None` before it.
    config: Option<Config>,
    /// Successful updates so far (published as `test.counter`).
    updates: u64,
}

static INSTANCE: InstanceCell<Instance> = InstanceCell::new(Instance { config: None, updates: 0 });

/// The exported driver.
struct Misbehave;

export!(Misbehave);

impl Guest for Misbehave {
    fn describe() -> Description {
        Description {
            name: "misbehave".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            protocol: "Hazel sandbox test device".to_string(),
            drivers: vec!["hazel-test-misbehave".to_string()],
            capabilities: vec!["log".to_string(), "clock".to_string(), "file".to_string()],
            usb_ids: Vec::new(),
        }
    }

    fn init(settings: Vec<Setting>) -> Result<DeviceInfo, DeviceError> {
        let config = parse_settings(&settings)?;
        if config.behavior == Behavior::SlowInit {
            spin_forever();
        }
        INSTANCE.with(|instance| instance.config = Some(config));
        Ok(DeviceInfo { manufacturer: Some("Hazel".to_string()), model: Some("misbehave".to_string()), serial: None })
    }

    fn update() -> Result<Vec<Change>, DeviceError> {
        let (config, updates) = INSTANCE.with(|instance| (instance.config.clone(), instance.updates));
        let Some(config) = config else {
            return Err(DeviceError::Failed("update before init".to_string()));
        };
        let mut allocated = None;
        if updates >= config.after {
            match config.behavior {
                Behavior::Trap => core::arch::wasm32::unreachable(),
                Behavior::Loop => spin_forever(),
                Behavior::Panic => panic!("misbehave: asked to panic"),
                Behavior::Alloc => allocated = Some(allocate_huge_infallibly()),
                Behavior::AllocGraceful => allocated = Some(allocate_huge()?),
                Behavior::Ok | Behavior::Escape | Behavior::SlowInit => {}
            }
        }
        let updates = updates + 1;
        INSTANCE.with(|instance| instance.updates = updates);

        let mut changes = vec![
            Change::SetStatus(vec!["OL".to_string()]),
            Change::SetValue(("test.counter".to_string(), updates.to_string())),
        ];
        if updates == 1 {
            // Metadata needs the variables to exist, so it follows them.
            changes.push(Change::SetMeta(VarMeta {
                name: "test.counter".to_string(),
                writable: false,
                string_max_len: None,
            }));
        }
        if let Some(bytes) = allocated {
            // Only reached if the host let 1 GiB through: make it visible.
            changes.push(Change::SetValue(("test.alloc".to_string(), format!("ok:{bytes}"))));
        }
        if config.behavior == Behavior::Escape {
            probe_files(config.port.as_deref(), &mut changes);
        }
        Ok(changes)
    }

    fn instcmd(_name: String, _argument: Option<String>) -> Result<(), DeviceError> {
        Err(DeviceError::Unknown)
    }

    fn set_var(_name: String, _value: String) -> Result<(), DeviceError> {
        Err(DeviceError::Unknown)
    }

    fn kill_power(_mode: KillMode) -> Result<(), DeviceError> {
        Err(DeviceError::Invalid("misbehave cannot cut power".to_string()))
    }
}

/// Read `behavior`, `after` and `port`; ignore everything else.
fn parse_settings(settings: &[Setting]) -> Result<Config, DeviceError> {
    let mut config = Config { behavior: Behavior::Ok, after: 0, port: None };
    for setting in settings {
        let value = setting.value.as_deref().unwrap_or("");
        match setting.key.as_str() {
            "behavior" => {
                config.behavior = Behavior::parse(value)
                    .ok_or_else(|| DeviceError::Invalid(format!("unknown behavior '{value}'")))?;
            }
            "after" => {
                config.after =
                    value.parse().map_err(|_| DeviceError::Invalid(format!("after must be a count, not '{value}'")))?;
            }
            "port" => config.port = setting.value.clone(),
            _ => {}
        }
    }
    Ok(config)
}

/// Allocate 1 GiB and write every byte, so the pages are really committed;
/// returns the size on success. A host limit makes `memory.grow` fail: the
/// reservation then returns an error (or the host traps the grow).
fn allocate_huge() -> Result<usize, DeviceError> {
    let mut block: Vec<u8> = Vec::new();
    block
        .try_reserve_exact(HUGE_ALLOCATION)
        .map_err(|_| DeviceError::Failed("allocating 1 GiB was refused".to_string()))?;
    block.resize(HUGE_ALLOCATION, 0xA5);
    // Keep the writes observable so the optimiser cannot drop the buffer.
    let last = block.last().copied().unwrap_or(0);
    core::hint::black_box(last);
    Ok(block.len())
}

/// Allocate and fill 1 GiB with no way to fail gracefully: when the host
/// refuses to grow memory, the allocation-failure handler aborts (traps).
fn allocate_huge_infallibly() -> usize {
    // black_box on the buffer itself: otherwise the optimiser may prove the
    // buffer unused and remove the allocation altogether.
    let block = core::hint::black_box(vec![0xA5u8; HUGE_ALLOCATION]);
    block.len()
}

/// Try every escape path plus the granted `port`, publishing one variable per
/// attempt: `test.read.<name>` and `test.stat.<name>`.
fn probe_files(port: Option<&str>, changes: &mut Vec<Change>) {
    let granted = port.map(|path| ("port", path));
    for (name, path) in ESCAPE_PROBES.iter().copied().chain(granted) {
        let read = match file::read(path) {
            Ok(bytes) => format!("ok:{}", bytes.len()),
            Err(error) => describe_file_error(&error),
        };
        let stat = match file::stat(path) {
            Ok(stat) => format!("ok:{}", stat.size),
            Err(error) => describe_file_error(&error),
        };
        changes.push(Change::SetValue((format!("test.read.{name}"), read)));
        changes.push(Change::SetValue((format!("test.stat.{name}"), stat)));
    }
}

/// The published spelling of a file error.
fn describe_file_error(error: &FileError) -> String {
    match error {
        FileError::Denied => "denied".to_string(),
        FileError::NotFound => "not-found".to_string(),
        FileError::TooLarge(limit) => format!("too-large:{limit}"),
        FileError::Io(message) => format!("io:{message}"),
    }
}
