//! `SET VAR`, `SET TRACKING` and `INSTCMD` (upsd `netset.c`,
//! `netinstcmd.c`): validate, hand the write to the device, answer `OK` or
//! `OK TRACKING <id>`, and record the device's outcome when it comes.

use std::sync::Arc;

use hazel_state::Variable;

use super::reply::{NutError, Reply};
use super::{PendingWrite, Request, Response, Session};
use crate::control::{Completion, HandoffError};
use crate::tracking::{TrackingTable, new_tracking_id};
use crate::users::Action;

pub(super) fn set(request: &Request<'_>, session: &mut Session) -> Result<Response, NutError> {
    // upsd: at least a sub-command and one argument, whatever the sub-command
    let sub = request.arg(0)?;
    request.arg(1)?;
    if sub.eq_ignore_ascii_case("VAR") {
        set_var(request, session)
    } else if sub.eq_ignore_ascii_case("TRACKING") {
        set_tracking(request, session)
    } else {
        Err(NutError::InvalidArgument)
    }
}

/// Needs only the credential gate (any USERNAME and PASSWORD), as in upsd.
fn set_tracking(request: &Request<'_>, session: &mut Session) -> Result<Response, NutError> {
    let value = request.arg(1)?;
    if value.eq_ignore_ascii_case("ON") {
        session.tracking = true;
    } else if value.eq_ignore_ascii_case("OFF") {
        session.tracking = false;
    } else {
        return Err(NutError::InvalidArgument);
    }
    Ok(Reply::single("OK").into())
}

/// `SET VAR <ups> <var> <value>`; extra arguments are ignored, as in upsd.
fn set_var(request: &Request<'_>, session: &Session) -> Result<Response, NutError> {
    let (ups, name, value) = (request.arg(1)?, request.arg(2)?, request.arg(3)?);
    let device = request.device(ups)?;
    let snapshot = request.fresh_snapshot(&device)?;
    let users = request.context.users();
    if !users.allows(session.username.as_deref(), session.password.as_deref(), Action::Set) {
        return Err(NutError::AccessDenied);
    }
    let (canonical, variable) =
        snapshot.vars().find(|(known, _)| known.eq_ignore_ascii_case(name)).ok_or(NutError::VarNotSupported)?;
    check_new_value(variable, value)?;

    let handoff = request.context.control.set_var(device.name(), canonical, value);
    let what = format!("SET {canonical}");
    let dispatched = dispatch(request, session, device.name(), &what, handoff, NutError::SetFailed)?;
    tracing::info!(
        user = session.username.as_deref().unwrap_or(""),
        client = %session.peer,
        device = device.name(),
        variable = canonical,
        value,
        tracking = dispatched.0.as_deref().unwrap_or("disabled"),
        "set variable"
    );
    Ok(dispatched.into_response())
}

/// upsd's checks of a new value, in its order: writable, string length,
/// enum membership, range membership. NUMBER values are not validated.
///
/// Deliberate difference: upsd compares the raw value with *escaped* enum
/// entries, so entries containing `\`, `"` or `#` can never be chosen; Hazel
/// keeps values unescaped and compares like with like.
fn check_new_value(variable: &Variable, value: &str) -> Result<(), NutError> {
    if !variable.meta.writable {
        return Err(NutError::Readonly);
    }
    if let Some(max_len) = variable.meta.string_max_len {
        if max_len < 1 {
            // a device bug (upsd logs "auxdata is invalid")
            return Err(NutError::SetFailed);
        }
        if value.len() > usize::try_from(max_len).unwrap_or(usize::MAX) {
            return Err(NutError::TooLong);
        }
    }
    if !variable.enum_values.is_empty() && !variable.enum_values.iter().any(|allowed| allowed == value) {
        return Err(NutError::InvalidValue);
    }
    if !variable.ranges.is_empty() {
        let number = atoi(value);
        if !variable.ranges.iter().any(|range| (range.min..=range.max).contains(&number)) {
            return Err(NutError::InvalidValue);
        }
    }
    Ok(())
}

/// C `atoi` as upsd applies it to range checks: optional leading whitespace
/// and sign, then digits; anything unparsable counts as 0. Saturates instead
/// of overflowing.
fn atoi(text: &str) -> i64 {
    let text = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, text.get(1..).unwrap_or("")),
        Some(b'+') => (false, text.get(1..).unwrap_or("")),
        _ => (false, text),
    };
    let magnitude = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |acc, digit| acc.saturating_mul(10).saturating_add(i64::from(digit - b'0')));
    if negative { -magnitude } else { magnitude }
}

/// `INSTCMD <ups> <cmd> [<argument>]`. The argument is used only when it is
/// the third and last token; with more tokens upsd silently drops it.
pub(super) fn instcmd(request: &Request<'_>, session: &mut Session) -> Result<Response, NutError> {
    let (ups, name) = (request.arg(0)?, request.arg(1)?);
    let argument = match request.args {
        [_, _, argument] => Some(*argument),
        _ => None,
    };
    let device = request.device(ups)?;
    let snapshot = request.fresh_snapshot(&device)?;
    let canonical =
        snapshot.commands().find(|known| known.eq_ignore_ascii_case(name)).ok_or(NutError::CmdNotSupported)?;
    let users = request.context.users();
    if !users.allows_instcmd(session.username.as_deref(), session.password.as_deref(), canonical) {
        return Err(NutError::AccessDenied);
    }

    let handoff = request.context.control.instcmd(device.name(), canonical, argument);
    let what = format!("INSTCMD {canonical}");
    let dispatched = dispatch(request, session, device.name(), &what, handoff, NutError::InstcmdFailed)?;
    tracing::info!(
        user = session.username.as_deref().unwrap_or(""),
        client = %session.peer,
        device = device.name(),
        command = canonical,
        argument = argument.unwrap_or(""),
        tracking = dispatched.0.as_deref().unwrap_or("disabled"),
        "instant command"
    );
    Ok(dispatched.into_response())
}

/// The outcome of a successful hand-off: the tracking id given to the
/// client (if tracking is on) and the device's execution to drive.
struct Dispatched(Option<String>, PendingWrite);

impl Dispatched {
    fn into_response(self) -> Response {
        let Dispatched(tracking_id, pending) = self;
        let line = match &tracking_id {
            Some(id) => format!("OK TRACKING {id}"),
            None => "OK".to_string(),
        };
        let mut response = Response::from(Reply::single(&line));
        response.pending_write = Some(pending);
        response
    }
}

/// Turn a hand-off into the client's answer: a failed hand-off is
/// `failure`; a successful one registers the tracking id (if the client
/// tracks) and wraps the completion so it records the device's outcome.
fn dispatch(
    request: &Request<'_>,
    session: &Session,
    device: &str,
    what: &str,
    handoff: Result<Completion, HandoffError>,
    failure: NutError,
) -> Result<Dispatched, NutError> {
    let completion = handoff.map_err(|error| {
        tracing::warn!(device, request = what, %error, "write not delivered to device");
        failure
    })?;
    let tracking_id = session.tracking.then(new_tracking_id);
    if let Some(id) = &tracking_id {
        request.context.tracking.begin(id.clone());
    }
    let pending = record_outcome(
        request.context.tracking.clone(),
        tracking_id.clone(),
        device.to_string(),
        what.to_string(),
        completion,
    );
    Ok(Dispatched(tracking_id, pending))
}

fn record_outcome(
    tracking: Arc<TrackingTable>,
    tracking_id: Option<String>,
    device: String,
    what: String,
    completion: Completion,
) -> PendingWrite {
    Box::pin(async move {
        let outcome = completion.await;
        match outcome {
            Ok(()) => tracing::debug!(device, request = what, "device carried out the request"),
            Err(error) => {
                tracing::info!(device, request = what, %error, "device did not carry out the request")
            }
        }
        if let Some(id) = tracking_id {
            tracking.complete(&id, outcome);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::atoi;

    #[test]
    fn atoi_matches_c() {
        assert_eq!(atoi("42"), 42);
        assert_eq!(atoi("  -17abc"), -17);
        assert_eq!(atoi("+5"), 5);
        assert_eq!(atoi("abc"), 0);
        assert_eq!(atoi(""), 0);
        assert_eq!(atoi("-"), 0);
        assert_eq!(atoi("99999999999999999999999"), i64::MAX);
        assert_eq!(atoi("-99999999999999999999999"), -i64::MAX);
    }
}
