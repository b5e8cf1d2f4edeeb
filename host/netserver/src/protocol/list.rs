//! `LIST …` (upsd `netlist.c`): `BEGIN LIST …`, the items, `END LIST …`,
//! all in one reply.

use std::borrow::Cow;

use super::Request;
use super::reply::{NutError, Reply};

pub(super) fn list(request: &Request<'_>) -> Result<Reply, NutError> {
    let sub = request.arg(0)?;
    if sub.eq_ignore_ascii_case("UPS") {
        return Ok(ups(request));
    }
    let ups = request.arg(1)?;
    if sub.eq_ignore_ascii_case("VAR") {
        return vars(request, ups, false);
    }
    if sub.eq_ignore_ascii_case("RW") {
        return vars(request, ups, true);
    }
    if sub.eq_ignore_ascii_case("CMD") {
        return commands(request, ups);
    }
    if sub.eq_ignore_ascii_case("CLIENT") {
        return clients(request, ups);
    }
    let name = request.arg(2)?;
    if sub.eq_ignore_ascii_case("ENUM") {
        enums(request, ups, name)
    } else if sub.eq_ignore_ascii_case("RANGE") {
        ranges(request, ups, name)
    } else {
        Err(NutError::InvalidArgument)
    }
}

/// Devices in configuration order (what a fresh upsd shows), whatever their
/// state.
fn ups(request: &Request<'_>) -> Reply {
    let mut reply = Reply::single("BEGIN LIST UPS");
    for device in request.context.store.devices() {
        let description = device.description().unwrap_or("Description unavailable");
        reply.quoted_line(&format!("UPS {} ", device.name()), description);
    }
    reply.line("END LIST UPS");
    reply
}

/// `LIST VAR` (every variable) or `LIST RW` (writable ones), sorted
/// case-insensitively, with the device's spelling of each name.
fn vars(request: &Request<'_>, ups: &str, writable_only: bool) -> Result<Reply, NutError> {
    let device = request.device(ups)?;
    let snapshot = request.fresh_snapshot(&device)?;
    let kind = if writable_only { "RW" } else { "VAR" };
    let mut reply = request.reply();
    reply.line_parts(&["BEGIN LIST ", kind, " ", ups]);
    for (name, variable) in snapshot.vars() {
        if writable_only && !variable.meta.writable {
            continue;
        }
        // upsd shows the FSD latch in LIST VAR only, not in LIST RW.
        let value = if writable_only {
            Cow::Borrowed(variable.value.as_str())
        } else {
            request.presented_value(&device, name, &variable.value)
        };
        reply.quoted_line_parts(&[kind, " ", ups, " ", name, " "], &value);
    }
    reply.line_parts(&["END LIST ", kind, " ", ups]);
    Ok(reply)
}

fn commands(request: &Request<'_>, ups: &str) -> Result<Reply, NutError> {
    let device = request.device(ups)?;
    let snapshot = request.fresh_snapshot(&device)?;
    let mut reply = Reply::single(&format!("BEGIN LIST CMD {ups}"));
    for command in snapshot.commands() {
        reply.line(&format!("CMD {ups} {command}"));
    }
    reply.line(&format!("END LIST CMD {ups}"));
    Ok(reply)
}

fn enums(request: &Request<'_>, ups: &str, name: &str) -> Result<Reply, NutError> {
    let device = request.device(ups)?;
    let snapshot = request.fresh_snapshot(&device)?;
    let variable = snapshot.var(name).ok_or(NutError::VarNotSupported)?;
    let mut reply = Reply::single(&format!("BEGIN LIST ENUM {ups} {name}"));
    for value in &variable.enum_values {
        reply.quoted_line(&format!("ENUM {ups} {name} "), value);
    }
    reply.line(&format!("END LIST ENUM {ups} {name}"));
    Ok(reply)
}

fn ranges(request: &Request<'_>, ups: &str, name: &str) -> Result<Reply, NutError> {
    let device = request.device(ups)?;
    let snapshot = request.fresh_snapshot(&device)?;
    let variable = snapshot.var(name).ok_or(NutError::VarNotSupported)?;
    let mut reply = Reply::single(&format!("BEGIN LIST RANGE {ups} {name}"));
    for range in &variable.ranges {
        reply.line(&format!("RANGE {ups} {name} \"{}\" \"{}\"", range.min, range.max));
    }
    reply.line(&format!("END LIST RANGE {ups} {name}"));
    Ok(reply)
}

/// Clients logged in to the device, newest first; not gated on data
/// freshness. Item lines carry the configured device name, as upsd's do.
fn clients(request: &Request<'_>, ups: &str) -> Result<Reply, NutError> {
    let device = request.device(ups)?;
    let mut reply = Reply::single(&format!("BEGIN LIST CLIENT {ups}"));
    for (login, address) in request.context.clients.logins(device.name()) {
        reply.line(&format!("CLIENT {login} {address}"));
    }
    reply.line(&format!("END LIST CLIENT {ups}"));
    Ok(reply)
}
