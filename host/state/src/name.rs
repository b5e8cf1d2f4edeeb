//! Case-insensitive names, as NUT compares UPS, variable and command names.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;

/// A name compared and ordered ASCII-case-insensitively (NUT's `strcasecmp`),
/// keeping the spelling it was first given for display.
#[derive(Clone)]
pub struct Name(String);

impl Name {
    /// Wrap a name.
    pub fn new(name: impl Into<String>) -> Self {
        Name(name.into())
    }

    /// The name as first spelled.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn cmp_str(a: &str, b: &str) -> Ordering {
        let a = a.bytes().map(|c| c.to_ascii_lowercase());
        let b = b.bytes().map(|c| c.to_ascii_lowercase());
        a.cmp(b)
    }
}

/// Borrowed form of [`Name`], so maps keyed by `Name` can be queried with a `&str`
/// without allocating.
#[repr(transparent)]
#[derive(Debug)]
pub struct NameRef(str);

impl NameRef {
    /// View a string as a case-insensitive name.
    pub fn new(s: &str) -> &NameRef {
        // SAFETY: NameRef is repr(transparent) over str.
        unsafe { &*(s as *const str as *const NameRef) }
    }
}

impl Borrow<NameRef> for Name {
    fn borrow(&self) -> &NameRef {
        NameRef::new(&self.0)
    }
}

impl PartialEq for NameRef {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}
impl Eq for NameRef {}
impl PartialOrd for NameRef {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for NameRef {
    fn cmp(&self, other: &Self) -> Ordering {
        Name::cmp_str(&self.0, &other.0)
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}
impl Eq for Name {}
impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Name {
    fn cmp(&self, other: &Self) -> Ordering {
        Name::cmp_str(&self.0, &other.0)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}
impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Name::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn ordering_and_lookup_ignore_case() {
        let mut m = BTreeMap::new();
        m.insert(Name::new("ups.status"), 1);
        m.insert(Name::new("Battery.Charge"), 2);
        m.insert(Name::new("battery.charge.low"), 3);
        assert_eq!(m.get(NameRef::new("UPS.STATUS")), Some(&1));
        let order: Vec<_> = m.keys().map(|k| k.as_str()).collect();
        assert_eq!(order, ["Battery.Charge", "battery.charge.low", "ups.status"]);
    }
}
