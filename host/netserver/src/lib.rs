//! Hazel's NUT network protocol server: what upsd is to NUT, on TCP 3493.
//!
//! Wire-compatible with upsd 2.8.0 (protocol 1.3): stock clients (upsc,
//! upsmon, upsrw, upscmd, exporters) talk to Hazel unchanged. Devices come
//! from a [`hazel_state::StateStore`]; writes go to devices through the
//! host's [`DeviceControl`].
//!
//! Putting it together:
//! ```no_run
//! # use std::sync::Arc;
//! # use hazel_netserver::{ReadOnlyControl, Server, ServerContext, UpsdConf, Users};
//! # async fn example(
//! #     store: Arc<hazel_state::StateStore>,
//! #     shutdown: impl std::future::Future<Output = ()>,
//! # ) -> Result<(), Box<dyn std::error::Error>> {
//! let conf = UpsdConf::parse("/etc/nut/upsd.conf", std::fs::read("/etc/nut/upsd.conf")?)?;
//! let users = Users::parse("/etc/nut/upsd.users", std::fs::read("/etc/nut/upsd.users")?)?;
//! let context = Arc::new(ServerContext::new(store, Arc::new(ReadOnlyControl), users, &conf));
//! let server = Server::bind(&conf, context).await?;
//! server.run(shutdown).await;
//! # Ok(()) }
//! ```
//!
//! Modules:
//! - [`protocol`]: the synchronous core, one request in, one reply out;
//! - `listener`: sockets and per-connection tasks ([`Server`]);
//! - [`users`], [`upsd_conf`]: the two configuration files;
//! - [`descriptions`]: texts for `GET DESC` / `GET CMDDESC`;
//! - [`tls`]: the certificate for `STARTTLS` (rustls); without one,
//!   `STARTTLS` is answered `ERR FEATURE-NOT-CONFIGURED` and clients continue
//!   in plain text ([`ServerContext::with_tls`]);
//! - `control`, `tracking`: writes to devices and their results.
//!
//! Not yet: client certificates (`CERTREQUEST`), loading descriptions from a
//! `cmdvartab` file.
#![deny(missing_docs)]

mod context;
mod control;
pub mod descriptions;
mod listener;
pub mod protocol;
pub mod tls;
mod tracking;
pub mod upsd_conf;
pub mod users;
mod warning;

pub use context::{ServerContext, ServerIdentity};
pub use control::{BoxFuture, Completion, ControlError, DeviceControl, HandoffError, ReadOnlyControl};
pub use listener::{BindError, IDLE_TIMEOUT, Server};
pub use protocol::{PendingWrite, Response, Session, handle_request, handle_request_into};
pub use tls::{ServerTls, TlsError};
pub use upsd_conf::{ListenAddr, UpsdConf, UpsdConfError};
pub use users::{Action, Users, UsersError};
pub use warning::Warning;
