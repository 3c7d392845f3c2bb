//! `.helmignore`: which files of a chart directory Helm leaves out.
//!
//! Rules as Helm applies them: `#` comments, blank lines skipped, `**` rejected,
//! a trailing `/` matches directories only, a rule with `/` matches the whole
//! relative path and any other rule the basename, with Go's `filepath.Match`.
//! A `!` rule keeps its odd Helm meaning: it ignores every path that does not
//! match it (so charts using it fail to load, as with Helm).

/// Parsed `.helmignore` rules plus Helm's default `templates/.?*`.
#[derive(Clone, Debug, Default)]
pub struct IgnoreRules {
    patterns: Vec<Pattern>,
}

#[derive(Clone, Debug)]
struct Pattern {
    rule: String,
    negate: bool,
    must_dir: bool,
    whole_path: bool,
}

impl IgnoreRules {
    /// Parses `.helmignore` text. Errors name the rule and why it is refused.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut rules = IgnoreRules::default();
        for line in text.lines() {
            rules.add(line)?;
        }
        Ok(rules)
    }

    fn add(&mut self, rule: &str) -> Result<(), String> {
        let rule = rule.trim();
        if rule.is_empty() || rule.starts_with('#') {
            return Ok(());
        }
        if rule.contains("**") {
            return Err(format!(
                "rule {rule:?}: double-star (**) syntax is not supported"
            ));
        }
        if let Err(e) = go_match(rule, "abc") {
            return Err(format!("rule {rule:?}: {e}"));
        }
        let mut r = rule;
        let negate = r.starts_with('!');
        if negate {
            r = &r[1..];
        }
        let must_dir = r.ends_with('/');
        if must_dir {
            r = &r[..r.len() - 1];
        }
        let (r, whole_path) = if let Some(rest) = r.strip_prefix('/') {
            (rest, true)
        } else {
            (r, r.contains('/'))
        };
        self.patterns.push(Pattern {
            rule: r.to_owned(),
            negate,
            must_dir,
            whole_path,
        });
        Ok(())
    }

    /// Adds Helm's default rule (`templates/.?*`).
    pub fn add_defaults(&mut self) {
        let _ = self.add("templates/.?*");
    }

    /// Whether the slash-separated relative `path` is ignored.
    pub fn ignored(&self, path: &str, is_dir: bool) -> bool {
        if path.is_empty() || path == "." || path == "./" {
            return false;
        }
        for p in &self.patterns {
            let subject = if p.whole_path {
                path
            } else {
                path.rsplit('/').next().unwrap_or(path)
            };
            let m = go_match(&p.rule, subject).unwrap_or(false);
            if p.negate {
                if p.must_dir && !is_dir {
                    return true;
                }
                if !m {
                    return true;
                }
                continue;
            }
            if p.must_dir && !is_dir {
                continue;
            }
            if m {
                return true;
            }
        }
        false
    }
}

/// Go's `path/filepath.Match` on `/`-separated names.
pub(crate) fn go_match(pattern: &str, name: &str) -> Result<bool, String> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Validate the whole pattern first, as Go reports ErrBadPattern eagerly for most cases.
    validate(&p)?;
    Ok(match_here(&p, &n))
}

fn validate(p: &[char]) -> Result<(), String> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                if i + 1 >= p.len() {
                    return Err("syntax error in pattern".into());
                }
                i += 2;
            }
            '[' => {
                let end = class_end(p, i).ok_or("syntax error in pattern")?;
                i = end;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Index just after the `]` closing the class that starts at `start`.
fn class_end(p: &[char], start: usize) -> Option<usize> {
    let mut i = start + 1;
    if i < p.len() && p[i] == '^' {
        i += 1;
    }
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some(i + 1);
        }
        if p[i] == ']' && first {
            // Go: `[]` is a bad pattern.
            return None;
        }
        if p[i] == '\\' {
            i += 1;
        }
        if i + 1 < p.len() && p[i + 1] == '-' {
            if i + 2 >= p.len() || p[i + 2] == ']' {
                return None;
            }
            i += if p[i + 2] == '\\' { 4 } else { 3 };
        } else {
            i += 1;
        }
        first = false;
    }
    None
}

fn class_match(p: &[char], start: usize, c: char) -> bool {
    let mut i = start + 1;
    let negated = i < p.len() && p[i] == '^';
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() && (p[i] != ']' || first) {
        first = false;
        let mut lo = p[i];
        if lo == '\\' && i + 1 < p.len() {
            i += 1;
            lo = p[i];
        }
        i += 1;
        let mut hi = lo;
        if i + 1 < p.len() && p[i] == '-' && p[i + 1] != ']' {
            i += 1;
            hi = p[i];
            if hi == '\\' && i + 1 < p.len() {
                i += 1;
                hi = p[i];
            }
            i += 1;
        }
        if lo <= c && c <= hi {
            matched = true;
        }
    }
    matched != negated
}

fn match_here(p: &[char], n: &[char]) -> bool {
    if p.is_empty() {
        return n.is_empty();
    }
    match p[0] {
        '*' => {
            // `*` never crosses a separator.
            let mut k = 0;
            loop {
                if match_here(&p[1..], &n[k..]) {
                    return true;
                }
                if k >= n.len() || n[k] == '/' {
                    return false;
                }
                k += 1;
            }
        }
        '?' => !n.is_empty() && n[0] != '/' && match_here(&p[1..], &n[1..]),
        '[' => {
            let Some(end) = class_end(p, 0) else {
                return false;
            };
            !n.is_empty()
                && n[0] != '/'
                && class_match(p, 0, n[0])
                && match_here(&p[end..], &n[1..])
        }
        '\\' if p.len() > 1 => !n.is_empty() && n[0] == p[1] && match_here(&p[2..], &n[1..]),
        c => !n.is_empty() && n[0] == c && match_here(&p[1..], &n[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_filepath_match() {
        assert!(go_match("*.txt", "a.txt").unwrap());
        assert!(!go_match("*.txt", "d/a.txt").unwrap());
        assert!(go_match("a?c", "abc").unwrap());
        assert!(go_match("[a-c]x", "bx").unwrap());
        assert!(!go_match("[^a-c]x", "bx").unwrap());
        assert!(go_match("templates/.?*", "templates/.hidden").unwrap());
        assert!(!go_match("templates/.?*", "templates/.").unwrap());
        assert!(go_match("[", "x").is_err());
        assert!(go_match("\\*", "*").unwrap());
    }

    #[test]
    fn helmignore_rules() {
        let mut r = IgnoreRules::parse("# c\n*.bak\nsecret/\ndocs/*.md\n\n").unwrap();
        r.add_defaults();
        assert!(r.ignored("a.bak", false));
        assert!(r.ignored("templates/x/a.bak", false));
        assert!(r.ignored("secret", true));
        assert!(!r.ignored("secret", false));
        assert!(r.ignored("docs/x.md", false));
        assert!(!r.ignored("x/docs/x.md", false));
        assert!(r.ignored("templates/.swp", false));
        assert!(!r.ignored("templates/a.yaml", false));
        assert!(IgnoreRules::parse("a/**/b").is_err());
        let neg = IgnoreRules::parse("!keep.txt").unwrap();
        assert!(neg.ignored("Chart.yaml", false));
        assert!(!neg.ignored("keep.txt", false));
    }
}
