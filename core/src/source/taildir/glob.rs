//! Path patterns for `taildir`: `*`, `?` and `[abc]` / `[a-z]` / `[!a]` within
//! any path component (shell-style, `/` is never matched). No `**`: a walk of a
//! whole tree on every scan costs a board more than naming the directories.

use std::path::{Component, Path, PathBuf};

/// The paths matching `pattern` now, sorted: the caller checks they are regular files
/// (it stats them anyway; a second stat per file per scan is what idle boards pay for).
/// Unreadable directories are skipped.
pub fn expand(pattern: &Path) -> Vec<PathBuf> {
    let mut current = vec![PathBuf::new()];
    for component in pattern.components() {
        let part = match component {
            Component::Normal(p) => p,
            other => {
                current.iter_mut().for_each(|c| c.push(other.as_os_str()));
                continue;
            }
        };
        let text = part.to_string_lossy();
        if !has_wildcard(&text) {
            current.iter_mut().for_each(|c| c.push(part));
            continue;
        }
        let mut next = Vec::new();
        for dir in &current {
            let listing = if dir.as_os_str().is_empty() { Path::new(".") } else { dir.as_path() };
            let Ok(entries) = std::fs::read_dir(listing) else { continue };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name_text = name.to_string_lossy();
                // Hidden files only when the pattern asks for them, as a shell does.
                if name_text.starts_with('.') && !text.starts_with('.') {
                    continue;
                }
                if matches(text.as_bytes(), name_text.as_bytes()) {
                    next.push(dir.join(&name));
                }
            }
        }
        current = next;
    }
    current.sort();
    current
}

/// Whether `text` holds a pattern character.
pub fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

/// Shell-style match of one component.
pub fn matches(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0usize, 0usize);
    // Where to resume after the last `*`: (pattern index after it, name index it covers up to).
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p + 1, n));
                p += 1;
                continue;
            }
            Some(b'?') => {
                p += 1;
                n += 1;
                continue;
            }
            Some(b'[') => {
                if let Some((hit, len)) = class(&pattern[p..], name[n]) {
                    if hit {
                        p += len;
                        n += 1;
                        continue;
                    }
                } else if name[n] == b'[' {
                    p += 1;
                    n += 1;
                    continue;
                }
            }
            Some(&c) if c == name[n] => {
                p += 1;
                n += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, sn)) => {
                p = sp;
                n = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|c| *c == b'*')
}

/// Matches `c` against the class at the start of `pattern` (`[...]`): (hit, class length),
/// or `None` when the bracket is not closed (then it is a literal `[`).
fn class(pattern: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut i = 1;
    let negated = matches!(pattern.get(i), Some(b'!' | b'^'));
    if negated {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    while let Some(&b) = pattern.get(i) {
        if b == b']' && !first {
            return Some((hit != negated, i + 1));
        }
        first = false;
        if pattern.get(i + 1) == Some(&b'-') && pattern.get(i + 2).is_some_and(|e| *e != b']') {
            let end = pattern[i + 2];
            hit |= (b..=end).contains(&c);
            i += 3;
        } else {
            hit |= b == c;
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_match_like_a_shell() {
        let m = |p: &str, n: &str| matches(p.as_bytes(), n.as_bytes());
        assert!(m("*.log", "app.log"));
        assert!(!m("*.log", "app.log.1"));
        assert!(m("app.log*", "app.log"));
        assert!(m("app.log*", "app.log.17"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("[ab]*", "beta"));
        assert!(!m("[!ab]*", "beta"));
        assert!(m("x[0-9]", "x7"));
        assert!(!m("x[0-9]", "xa"));
        assert!(m("*a*b*c", "xxaxxbxxc"));
        assert!(!m("*a*b*c", "xxaxxbxx"));
        assert!(m("[", "["), "an unclosed bracket is a literal");
        assert!(m("*", ""));
    }

    #[test]
    fn expands_wildcards_in_directories_and_names() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        for (sub, file) in [("a", "x.log"), ("b", "y.log"), ("b", "y.txt"), ("c", ".hidden.log")] {
            std::fs::create_dir_all(dir.path().join(sub))?;
            std::fs::write(dir.path().join(sub).join(file), b"line\n")?;
        }
        let found = expand(&dir.path().join("*/*.log"));
        let names: Vec<_> = found.iter().filter_map(|p| p.strip_prefix(dir.path()).ok()).collect();
        assert_eq!(names, [Path::new("a/x.log"), Path::new("b/y.log")]);
        assert!(expand(&dir.path().join("missing/*.log")).is_empty());
        assert_eq!(expand(&dir.path().join("a/x.log")).len(), 1, "a literal path is found too");
        assert!(expand(&dir.path().join("missing.log")).iter().all(|p| !p.exists()), "checked by the caller");
        Ok(())
    }
}
