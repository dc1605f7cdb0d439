//! The commit of a git checkout, read from `.git` without running git, so that `/healthz` can
//! say which version of the rules is being served.
//!
//! Handles a `.git` directory or a `.git` file (`gitdir: …`, as in worktrees and submodules),
//! a detached `HEAD`, a branch ref as a loose file or in `packed-refs`. Anything else gives
//! `None`: this is information for operators, never a reason to fail.

use std::path::{Path, PathBuf};

/// The commit checked out in the git working tree that contains `dir`, if any.
pub fn head_commit(dir: &Path) -> Option<String> {
    let git_dir = find_git_dir(dir)?;
    let head = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
    let head = head.trim();
    match head.strip_prefix("ref: ") {
        None => valid(head),
        Some(reference) => {
            // A worktree's refs live in the common directory.
            let common = std::fs::read_to_string(git_dir.join("commondir"))
                .ok()
                .map(|c| git_dir.join(c.trim()))
                .unwrap_or_else(|| git_dir.clone());
            for base in [&git_dir, &common] {
                if let Ok(id) = std::fs::read_to_string(base.join(reference)) {
                    return valid(id.trim());
                }
            }
            let packed = std::fs::read_to_string(common.join("packed-refs")).ok()?;
            packed.lines().find_map(|line| {
                let (id, name) = line.split_once(' ')?;
                (name == reference).then(|| valid(id)).flatten()
            })
        }
    }
}

fn find_git_dir(dir: &Path) -> Option<PathBuf> {
    let start = dir.canonicalize().ok()?;
    for d in start.ancestors() {
        let dot_git = d.join(".git");
        if dot_git.is_dir() {
            return Some(dot_git);
        }
        if let Ok(text) = std::fs::read_to_string(&dot_git) {
            let target = text.trim().strip_prefix("gitdir: ")?;
            return Some(d.join(target));
        }
    }
    None
}

fn valid(id: &str) -> Option<String> {
    (id.len() >= 40 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const ID: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn loose_packed_detached_and_none() {
        let repo = tempfile::tempdir().unwrap();
        let rules = repo.path().join("rules/sub");
        fs::create_dir_all(&rules).unwrap();
        assert_eq!(head_commit(&rules), None);

        let git = repo.path().join(".git");
        fs::create_dir_all(git.join("refs/heads")).unwrap();
        fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        fs::write(
            git.join("packed-refs"),
            format!("# pack-refs with: peeled\n{ID} refs/heads/main\n"),
        )
        .unwrap();
        assert_eq!(head_commit(&rules).as_deref(), Some(ID));

        let loose = ID.replace('0', "f");
        fs::write(git.join("refs/heads/main"), format!("{loose}\n")).unwrap();
        assert_eq!(head_commit(&rules), Some(loose));

        fs::write(git.join("HEAD"), format!("{ID}\n")).unwrap();
        assert_eq!(head_commit(&rules).as_deref(), Some(ID));
    }

    #[test]
    fn a_git_file_points_elsewhere() {
        let repo = tempfile::tempdir().unwrap();
        let real = repo.path().join("real-git");
        fs::create_dir_all(&real).unwrap();
        fs::write(real.join("HEAD"), format!("{ID}\n")).unwrap();
        let work = repo.path().join("work");
        fs::create_dir_all(&work).unwrap();
        fs::write(work.join(".git"), format!("gitdir: {}\n", real.display())).unwrap();
        assert_eq!(head_commit(&work).as_deref(), Some(ID));
    }
}
