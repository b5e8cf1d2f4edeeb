//! `GET …` (upsd `netget.c`).

use super::reply::{NutError, Reply};
use super::{Request, Session};
use crate::descriptions::{FALLBACK, command_description, variable_description};

pub(super) fn get(request: &Request<'_>, session: &Session) -> Result<Reply, NutError> {
    let sub = request.arg(0)?;
    if sub.eq_ignore_ascii_case("TRACKING") {
        return Ok(tracking(request, session));
    }
    // Arity is checked in stages, as upsd does: an unknown sub-command with
    // too few arguments is INVALID-ARGUMENT either way.
    let ups = request.arg(1)?;
    if sub.eq_ignore_ascii_case("NUMLOGINS") {
        return numlogins(request, ups);
    }
    if sub.eq_ignore_ascii_case("UPSDESC") {
        return upsdesc(request, ups);
    }
    let name = request.arg(2)?;
    if sub.eq_ignore_ascii_case("VAR") {
        var(request, ups, name)
    } else if sub.eq_ignore_ascii_case("TYPE") {
        var_type(request, ups, name)
    } else if sub.eq_ignore_ascii_case("DESC") {
        desc(request, ups, name)
    } else if sub.eq_ignore_ascii_case("CMDDESC") {
        cmddesc(request, ups, name)
    } else {
        Err(NutError::InvalidArgument)
    }
}

/// `GET TRACKING` → `ON`/`OFF`; `GET TRACKING <id>` → the result, but only
/// on a connection with tracking on.
fn tracking(request: &Request<'_>, session: &Session) -> Reply {
    match request.args.get(1) {
        None => Reply::single(if session.tracking { "ON" } else { "OFF" }),
        Some(id) if session.tracking => Reply::single(request.context.tracking.reply_for(id)),
        Some(_) => NutError::FeatureNotConfigured.into(),
    }
}

fn numlogins(request: &Request<'_>, ups: &str) -> Result<Reply, NutError> {
    let device = request.device(ups)?;
    request.fresh_snapshot(&device)?;
    let count = request.context.login_count(device.name());
    Ok(Reply::single(&format!("NUMLOGINS {ups} {count}")))
}

/// Not gated on data freshness. The fallback text differs from `LIST UPS`'s,
/// as in upsd.
fn upsdesc(request: &Request<'_>, ups: &str) -> Result<Reply, NutError> {
    let device = request.device(ups)?;
    let mut reply = Reply::new();
    reply.quoted_line(&format!("UPSDESC {ups} "), device.description().unwrap_or("Unavailable"));
    Ok(reply)
}

fn var(request: &Request<'_>, ups: &str, name: &str) -> Result<Reply, NutError> {
    // server.* is answered by the server itself, whatever the UPS name.
    if name.get(..7).is_some_and(|head| head.eq_ignore_ascii_case("server.")) {
        return server_var(request, ups, name);
    }
    let device = request.device(ups)?;
    let snapshot = request.fresh_snapshot(&device)?;
    let variable = snapshot.var(name).ok_or(NutError::VarNotSupported)?;
    let mut reply = request.reply();
    let value = request.presented_value(&device, name, &variable.value);
    reply.quoted_line_parts(&["VAR ", ups, " ", name, " "], &value);
    Ok(reply)
}

fn server_var(request: &Request<'_>, ups: &str, name: &str) -> Result<Reply, NutError> {
    let identity = &request.context.identity;
    let (canonical, value) = if name.eq_ignore_ascii_case("server.info") {
        ("server.info", identity.banner())
    } else if name.eq_ignore_ascii_case("server.version") {
        ("server.version", identity.version.clone())
    } else {
        return Err(NutError::VarNotSupported);
    };
    let mut reply = Reply::new();
    reply.quoted_line(&format!("VAR {ups} {canonical} "), &value);
    Ok(reply)
}

fn var_type(request: &Request<'_>, ups: &str, name: &str) -> Result<Reply, NutError> {
    let device = request.device(ups)?;
    let snapshot = request.fresh_snapshot(&device)?;
    let variable = snapshot.var(name).ok_or(NutError::VarNotSupported)?;
    Ok(Reply::single(&format!("TYPE {ups} {name} {}", variable.type_words())))
}

/// Descriptions are sent unescaped, as upsd sends cmdvartab texts; the
/// variable need not exist.
fn desc(request: &Request<'_>, ups: &str, name: &str) -> Result<Reply, NutError> {
    let device = request.device(ups)?;
    request.fresh_snapshot(&device)?;
    let text = variable_description(name).unwrap_or(FALLBACK);
    Ok(Reply::single(&format!("DESC {ups} {name} \"{text}\"")))
}

fn cmddesc(request: &Request<'_>, ups: &str, name: &str) -> Result<Reply, NutError> {
    let device = request.device(ups)?;
    request.fresh_snapshot(&device)?;
    let text = command_description(name).unwrap_or(FALLBACK);
    Ok(Reply::single(&format!("CMDDESC {ups} {name} \"{text}\"")))
}
