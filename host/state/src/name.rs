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

    /// `strcasecmp` order: bytes compared after ASCII lowercasing, a prefix
    /// first. A plain indexed loop: the iterator-chain form (`Iterator::cmp`
    /// over two `map`s) cost ~100 instructions per comparison, and a lookup
    /// makes several comparisons (bench/README.md, "CPU cost per request").
    fn cmp_str(a: &str, b: &str) -> Ordering {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        for (x, y) in a.iter().zip(b) {
            if x != y {
                let (x, y) = (x.to_ascii_lowercase(), y.to_ascii_lowercase());
                if x != y {
                    return x.cmp(&y);
                }
            }
        }
        a.len().cmp(&b.len())
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

    /// The reference order: the lowercased byte strings compared as a whole.
    fn reference(a: &str, b: &str) -> Ordering {
        a.to_ascii_lowercase().as_bytes().cmp(b.to_ascii_lowercase().as_bytes())
    }

    #[test]
    fn comparison_matches_lowercased_byte_order() {
        // Letters either side of the case gap ('[' .. '`' sort between the
        // upper- and lowercase letters), prefixes, and non-ASCII bytes.
        let alphabet = ["a", "A", "z", "Z", "_", "[", ".", "é", ""];
        let mut words = Vec::new();
        for x in alphabet {
            for y in alphabet {
                for z in alphabet {
                    words.push(format!("{x}{y}{z}"));
                    words.push(format!("battery.{x}{y}{z}"));
                }
            }
        }
        for a in &words {
            for b in &words {
                assert_eq!(Name::cmp_str(a, b), reference(a, b), "{a:?} vs {b:?}");
                assert_eq!(Name::new(a.as_str()) == Name::new(b.as_str()), reference(a, b).is_eq());
            }
        }
    }
}
