//! Tag-list pagination (OCI distribution spec, "Listing Tags"): a registry that holds more
//! tags than one answer carries returns the rest behind `Link: <URL>; rel="next"`. The next
//! URL may be relative or absolute; it must stay on the registry that was asked (a hostile
//! registry must not send berth, with its credentials, elsewhere), must not repeat, and the
//! walk stops at [`MAX_TAG_PAGES`] pages or [`MAX_TAGS`] tags.

use url::Url;

/// The most tag-list pages one listing follows.
pub const MAX_TAG_PAGES: usize = 1000;
/// The most tags one listing collects.
pub const MAX_TAGS: usize = 100_000;

/// The `rel="next"` target of a `Link` header value (RFC 8288), if any.
pub fn next_link(header: &str) -> Option<&str> {
    let mut rest = header;
    loop {
        let start = rest.find('<')?;
        let after = &rest[start + 1..];
        let end = after.find('>')?;
        let target = &after[..end];
        let params_and_more = &after[end + 1..];
        // This link's parameters run to the next link (`, <`).
        let params_end = params_and_more.find('<').unwrap_or(params_and_more.len());
        let params = &params_and_more[..params_end];
        if params.split(';').any(is_rel_next) {
            return Some(target.trim());
        }
        rest = &params_and_more[params_end..];
    }
}

fn is_rel_next(param: &str) -> bool {
    let Some((key, value)) = param.split_once('=') else {
        return false;
    };
    key.trim().eq_ignore_ascii_case("rel")
        && value
            .trim()
            .trim_matches(',')
            .trim()
            .trim_matches('"')
            .split_whitespace()
            .any(|r| r.eq_ignore_ascii_case("next"))
}

/// Why a next link is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum PageError {
    /// The link is not a URL, even relative to the page it came from.
    Invalid(String),
    /// The link leaves the registry (another scheme, host or port).
    OtherHost(String),
    /// The link was followed before: the registry loops.
    Repeated(String),
    /// More pages than [`MAX_TAG_PAGES`].
    TooManyPages,
    /// More tags than [`MAX_TAGS`].
    TooManyTags,
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageError::Invalid(s) => write!(f, "the next-page link {s:?} is not a URL"),
            PageError::OtherHost(s) => write!(
                f,
                "the next-page link {s} leads to another host; berth follows tag pages only on the registry it asked"
            ),
            PageError::Repeated(s) => write!(
                f,
                "the next-page link {s} was already followed; the registry's pagination loops"
            ),
            PageError::TooManyPages => write!(
                f,
                "more than {MAX_TAG_PAGES} pages of tags; the registry's pagination does not end"
            ),
            PageError::TooManyTags => write!(
                f,
                "more than {MAX_TAGS} tags; refusing a list this long (no chart repository holds that many versions)"
            ),
        }
    }
}

/// The walk over one repository's tag pages: which URL comes next.
#[derive(Debug)]
pub struct TagPages {
    seen: Vec<Url>,
}

impl TagPages {
    /// A walk starting at `first` (the `/v2/<name>/tags/list` URL).
    pub fn new(first: Url) -> TagPages {
        TagPages { seen: vec![first] }
    }

    /// The URL to fetch after the page fetched from the last URL, whose `Link` header is
    /// `link`: `None` at the end, or an error when the link may not be followed.
    pub fn next(&mut self, link: Option<&str>) -> Result<Option<Url>, PageError> {
        let Some(target) = link.and_then(next_link) else {
            return Ok(None);
        };
        let current = self.seen.last().cloned().ok_or(PageError::TooManyPages)?;
        let next = current
            .join(target)
            .map_err(|_| PageError::Invalid(target.to_string()))?;
        if next.scheme() != current.scheme()
            || next.host_str() != current.host_str()
            || next.port_or_known_default() != current.port_or_known_default()
        {
            return Err(PageError::OtherHost(next.to_string()));
        }
        if self.seen.contains(&next) {
            return Err(PageError::Repeated(next.to_string()));
        }
        if self.seen.len() >= MAX_TAG_PAGES {
            return Err(PageError::TooManyPages);
        }
        self.seen.push(next.clone());
        Ok(Some(next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first() -> Url {
        Url::parse("https://r.example:5000/v2/a/b/tags/list?n=2").expect("url")
    }

    #[test]
    fn finds_the_next_link_among_others() {
        assert_eq!(
            next_link(r#"</v2/a/tags/list?last=x&n=2>; rel="next""#),
            Some("/v2/a/tags/list?last=x&n=2")
        );
        assert_eq!(
            next_link(r#"<https://h/p?a=1,2>; rel="prev", <https://h/q>; type="x"; rel=next"#),
            Some("https://h/q")
        );
        assert_eq!(next_link(r#"<https://h/p>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn follows_relative_and_absolute_links_on_the_same_registry() {
        let mut p = TagPages::new(first());
        let n = p
            .next(Some(r#"</v2/a/b/tags/list?last=2&n=2>; rel="next""#))
            .expect("relative")
            .expect("a next page");
        assert_eq!(
            n.as_str(),
            "https://r.example:5000/v2/a/b/tags/list?last=2&n=2"
        );
        let n = p
            .next(Some(
                r#"<https://r.example:5000/v2/a/b/tags/list?last=4&n=2>; rel="next""#,
            ))
            .expect("absolute")
            .expect("a next page");
        assert_eq!(n.query(), Some("last=4&n=2"));
        assert_eq!(p.next(None).expect("end"), None);
    }

    #[test]
    fn refuses_other_hosts_repeats_and_endless_walks() {
        for other in [
            "https://evil.example:5000/v2/a/b/tags/list?last=2",
            "https://r.example:5001/v2/a/b/tags/list?last=2",
            "http://r.example:5000/v2/a/b/tags/list?last=2",
            "//evil.example/v2/a/b/tags/list",
        ] {
            let mut p = TagPages::new(first());
            let e = p
                .next(Some(&format!("<{other}>; rel=\"next\"")))
                .expect_err(other);
            assert!(matches!(e, PageError::OtherHost(_)), "{other}: {e}");
        }
        let mut p = TagPages::new(first());
        let e = p
            .next(Some(r#"</v2/a/b/tags/list?n=2>; rel="next""#))
            .expect_err("the first page again");
        assert!(matches!(e, PageError::Repeated(_)), "{e}");

        let mut p = TagPages::new(first());
        let mut last = Ok(None);
        for i in 0..=MAX_TAG_PAGES {
            last = p.next(Some(&format!("</v2/a/b/tags/list?last={i}>; rel=\"next\"")));
            if last.is_err() {
                break;
            }
        }
        assert_eq!(last, Err(PageError::TooManyPages));
    }
}
