//! `USERNAME`, `PASSWORD`, `LOGIN`, `LOGOUT`, `PRIMARY`/`MASTER`, `FSD` and
//! `STARTTLS` (upsd `netuser.c`, `netmisc.c`, `netssl.c`).

use super::reply::{NutError, Reply};
use super::{Request, Response, Session};
use crate::users::Action;

/// Not validated here: upsd checks credentials only when a right is used.
pub(super) fn username(request: &Request<'_>, session: &mut Session) -> Result<Response, NutError> {
    let name = request.single_arg()?;
    if session.username.is_some() {
        return Err(NutError::AlreadySetUsername);
    }
    session.username = Some(name.to_string());
    Ok(Reply::single("OK").into())
}

pub(super) fn password(request: &Request<'_>, session: &mut Session) -> Result<Response, NutError> {
    let password = request.single_arg()?;
    if session.password.is_some() {
        return Err(NutError::AlreadySetPassword);
    }
    session.password = Some(password.to_string());
    Ok(Reply::single("OK").into())
}

fn allows(request: &Request<'_>, session: &Session, action: Action) -> bool {
    request.context.users().allows(session.username.as_deref(), session.password.as_deref(), action)
}

/// One LOGIN per connection; counts toward `NUMLOGINS` until disconnect.
/// Not gated on data freshness.
pub(super) fn login(request: &Request<'_>, session: &mut Session) -> Result<Response, NutError> {
    let ups = request.single_arg()?;
    if session.login.is_some() {
        return Err(NutError::AlreadyLoggedIn);
    }
    let device = request.device(ups)?;
    if !allows(request, session, Action::Login) {
        return Err(NutError::AccessDenied);
    }
    request.context.clients.set_login(session.client_id, device.name());
    session.login = Some(device.name().to_string());
    tracing::info!(
        user = session.username.as_deref().unwrap_or(""),
        client = %session.peer,
        device = device.name(),
        "client logged in to device"
    );
    Ok(Reply::single("OK").into())
}

pub(super) fn logout(request: &Request<'_>) -> Result<Response, NutError> {
    if !request.args.is_empty() {
        return Err(NutError::InvalidArgument);
    }
    let mut response = Response::from(Reply::single("OK Goodbye"));
    response.close = true;
    Ok(response)
}

/// `PRIMARY` and `MASTER` (its old name) only probe the right; either
/// action word in upsd.users grants both.
pub(super) fn primary(request: &Request<'_>, session: &Session, granted: &str) -> Result<Response, NutError> {
    let ups = request.single_arg()?;
    request.device(ups)?;
    if !allows(request, session, Action::Primary) {
        return Err(NutError::AccessDenied);
    }
    Ok(Reply::single(granted).into())
}

/// Sets the device's FSD latch; not gated on data freshness (a primary must
/// be able to shut down a device whose data went stale).
pub(super) fn fsd(request: &Request<'_>, session: &Session) -> Result<Response, NutError> {
    let ups = request.single_arg()?;
    let device = request.device(ups)?;
    if !allows(request, session, Action::Fsd) {
        return Err(NutError::AccessDenied);
    }
    tracing::warn!(
        user = session.username.as_deref().unwrap_or(""),
        client = %session.peer,
        device = device.name(),
        "client set forced shutdown (FSD)"
    );
    request.context.latch_fsd(device.name());
    Ok(Reply::single("OK FSD-SET").into())
}

/// Accepts the switch to TLS when a certificate is configured; the connection
/// task does the handshake after writing `OK STARTTLS`. As upsd, arguments are
/// ignored, and a second `STARTTLS` is refused before the certificate check.
pub(super) fn start_tls(request: &Request<'_>, session: &mut Session) -> Result<Response, NutError> {
    if session.tls {
        return Err(NutError::AlreadySslMode);
    }
    if request.context.tls.is_none() {
        return Err(NutError::FeatureNotConfigured);
    }
    session.tls = true;
    let mut response = Response::from(Reply::single("OK STARTTLS"));
    response.start_tls = true;
    Ok(response)
}
