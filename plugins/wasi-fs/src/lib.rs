//! `wasi-fs`: a test plugin the host must refuse to start.
//!
//! Unlike real plugins it is a normal `std` crate, and its `init` reads
//! `/etc/hostname` and opens a TCP connection to 127.0.0.1:3493, so the
//! component imports `wasi:filesystem` and `wasi:sockets` (plus the
//! `wasi:cli`/`wasi:io` interfaces std always needs). No device grant
//! covers those interfaces: the host's import check must reject the
//! component before any of its code runs. If a host ever did run it,
//! `init` reports what it managed to reach, which a test can assert on.
#![deny(missing_docs)]

#[cfg(target_arch = "wasm32")]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "plugin",
    });

    use exports::hazel::plugin::driver::Guest;
    use hazel::plugin::types::{Change, Description, DeviceError, DeviceInfo, KillMode, Setting};

    /// The exported driver.
    struct WasiFs;

    export!(WasiFs);

    impl Guest for WasiFs {
        fn describe() -> Description {
            Description {
                name: "wasi-fs".to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                protocol: "Hazel sandbox test: uses WASI filesystem and sockets".to_string(),
                drivers: vec!["hazel-test-wasi-fs".to_string()],
                capabilities: vec!["log".to_string(), "clock".to_string()],
                usb_ids: Vec::new(),
            }
        }

        fn init(_settings: Vec<Setting>) -> Result<DeviceInfo, DeviceError> {
            let hostname = std::fs::read("/etc/hostname");
            let connection = std::net::TcpStream::connect("127.0.0.1:3493");
            match (hostname, connection) {
                (Err(read), Err(connect)) => Err(DeviceError::Failed(format!(
                    "sandbox held: read /etc/hostname: {read}; connect 127.0.0.1:3493: {connect}"
                ))),
                (hostname, connection) => Err(DeviceError::Failed(format!(
                    "SANDBOX ESCAPE: read /etc/hostname ok={}, connect ok={}",
                    hostname.is_ok(),
                    connection.is_ok()
                ))),
            }
        }

        fn update() -> Result<Vec<Change>, DeviceError> {
            Err(DeviceError::Failed("wasi-fs never initializes".to_string()))
        }

        fn instcmd(_name: String, _argument: Option<String>) -> Result<(), DeviceError> {
            Err(DeviceError::Unknown)
        }

        fn set_var(_name: String, _value: String) -> Result<(), DeviceError> {
            Err(DeviceError::Unknown)
        }

        fn kill_power(_mode: KillMode) -> Result<(), DeviceError> {
            Err(DeviceError::Unknown)
        }
    }
}
