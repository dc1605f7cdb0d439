//! What a rule set was compiled from, as one digest: every file's path and text, in order, and
//! what the config declared. Compiling is a pure function of those, so two loads with the same
//! fingerprint give the same rules, and a reload of unchanged files can serve again the set it
//! already has instead of building a second copy beside it (a catalogue of 100,000 rules would
//! otherwise double the daemon's memory for the length of every reload).
//!
//! SHA-1, already in the tree for WeChat's signatures: the files are the operator's own, so
//! what matters is that no edit goes unnoticed by accident, not resistance to a forger (who
//! could only make a reload keep the rules it already serves).

use sha1::{Digest, Sha1};

use super::Declared;
use crate::diag::Sources;

/// The digest of a load's inputs (see the module's doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint([u8; 20]);

impl Fingerprint {
    /// The fingerprint of these files compiled against `declared`.
    pub fn of(sources: &Sources, declared: &Declared) -> Fingerprint {
        let mut sha = Sha1::new();
        // Every part is length-prefixed, so that no two different inputs run together alike.
        let mut part = |bytes: &[u8]| {
            sha.update((bytes.len() as u64).to_le_bytes());
            sha.update(bytes);
        };
        for (_, file) in sources.iter() {
            part(file.path().as_os_str().as_encoded_bytes());
            part(file.text().as_bytes());
        }
        for name in &declared.upstreams {
            part(name.as_bytes());
        }
        part(&[u8::from(declared.api)]);
        Fingerprint(sha.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::SourceFile;

    fn of(files: &[(&str, &str)], declared: &Declared) -> Fingerprint {
        let mut sources = Sources::new();
        for (path, text) in files {
            sources.add(SourceFile::new(*path, *text));
        }
        Fingerprint::of(&sources, declared)
    }

    #[test]
    fn any_change_to_the_inputs_changes_the_fingerprint() {
        let none = Declared::default();
        let base = of(&[("a.toml", "x = 1"), ("b.toml", "y")], &none);
        assert_eq!(base, of(&[("a.toml", "x = 1"), ("b.toml", "y")], &none));
        let changed = [
            of(&[("a.toml", "x = 2"), ("b.toml", "y")], &none),
            of(&[("a.toml", "x = 1"), ("c.toml", "y")], &none),
            of(&[("b.toml", "y"), ("a.toml", "x = 1")], &none),
            of(&[("a.toml", "x = 1")], &none),
            // Text moved from one file to the next is not the same load.
            of(&[("a.toml", "x = 1y"), ("b.toml", "")], &none),
            of(
                &[("a.toml", "x = 1"), ("b.toml", "y")],
                &Declared {
                    upstreams: vec!["crm".into()],
                    api: false,
                },
            ),
            of(
                &[("a.toml", "x = 1"), ("b.toml", "y")],
                &Declared {
                    upstreams: vec![],
                    api: true,
                },
            ),
        ];
        for (i, c) in changed.iter().enumerate() {
            assert_ne!(*c, base, "change {i}");
        }
    }
}
