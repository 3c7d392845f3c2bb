//! The `when` grammar: every form troubleshoot's analyzers accept, the fuzz corpus replayed on
//! stable, and a deterministic random walk over the token alphabet (no panics, bounded time).

use berth_troubleshoot::when::{Env, Op, Subject, When, parse_bool, parse_quantity};
use std::path::PathBuf;

/// Names every comparison it sees so tests can check how an expression was read.
struct Echo;

impl Env for Echo {
    fn cmp(&self, subject: Option<&Subject>, op: Op, value: &str) -> Result<bool, String> {
        let left = match subject {
            Some(Subject::Call { func, .. }) if func == "count" => 2.0,
            Some(_) => 10.0,
            None => 5.0,
        };
        Ok(op.holds(&left, &parse_quantity(value)?))
    }
    fn word(&self, word: &str) -> Result<bool, String> {
        match word {
            "connected" => Ok(true),
            w => parse_bool(w).ok_or_else(|| format!("unknown word {w}")),
        }
    }
}

fn eval(s: &str) -> Result<bool, String> {
    When::parse(s).map_err(|e| e.to_string())?.eval(&Echo)
}

#[test]
fn every_documented_form_parses() {
    let cases: &[(&str, When)] = &[
        ("", When::Always),
        ("connected", When::Word("connected".into())),
        ("\"true\"", When::Word("true".into())),
        (
            "< 1.28.0",
            When::Cmp {
                subject: None,
                op: Op::Lt,
                value: "1.28.0".into(),
            },
        ),
        (
            ">=1",
            When::Cmp {
                subject: None,
                op: Op::Ge,
                value: "1".into(),
            },
        ),
        (
            "== containerd",
            When::Cmp {
                subject: None,
                op: Op::Eq,
                value: "containerd".into(),
            },
        ),
        (
            "=== x",
            When::Cmp {
                subject: None,
                op: Op::Eq,
                value: "x".into(),
            },
        ),
        (
            "!== x",
            When::Cmp {
                subject: None,
                op: Op::Ne,
                value: "x".into(),
            },
        ),
        (
            "a <> b",
            When::Cmp {
                subject: Some(Subject::Ident("a".into())),
                op: Op::Ne,
                value: "b".into(),
            },
        ),
        (
            "sum(memoryCapacity) < 16Gi",
            When::Cmp {
                subject: Some(Subject::Call {
                    func: "sum".into(),
                    arg: "memoryCapacity".into(),
                }),
                op: Op::Lt,
                value: "16Gi".into(),
            },
        ),
        (
            "count() < 3",
            When::Cmp {
                subject: Some(Subject::Call {
                    func: "count".into(),
                    arg: String::new(),
                }),
                op: Op::Lt,
                value: "3".into(),
            },
        ),
        (
            "used/total > 70%",
            When::Cmp {
                subject: Some(Subject::Ident("used/total".into())),
                op: Op::Gt,
                value: "70%".into(),
            },
        ),
        (
            "supports x86-64-v2",
            When::Cmp {
                subject: None,
                op: Op::Supports,
                value: "x86-64-v2".into(),
            },
        ),
        (
            "Group = ''",
            When::Cmp {
                subject: Some(Subject::Ident("Group".into())),
                op: Op::Eq,
                value: String::new(),
            },
        ),
    ];
    for (src, want) in cases {
        assert_eq!(
            &When::parse(src).unwrap_or_else(|e| panic!("{src}: {e}")),
            want,
            "{src}"
        );
    }
}

#[test]
fn evaluation_follows_the_operators() {
    assert_eq!(eval("< 6"), Ok(true));
    assert_eq!(eval("> 6"), Ok(false));
    assert_eq!(eval("count() == 2"), Ok(true));
    assert_eq!(
        eval(">= 1 < 6"),
        Ok(true),
        "implicit AND, as clusterVersion ranges"
    );
    assert_eq!(eval(">= 1 < 4"), Ok(false));
    assert_eq!(eval("> 9 || < 6"), Ok(true));
    assert_eq!(
        eval("x > 9 && < 11"),
        Ok(true),
        "second comparison reuses the subject x"
    );
    assert_eq!(eval("connected"), Ok(true));
    assert_eq!(eval("false"), Ok(false));
    assert!(eval("< 5Qi").is_err());
    assert!(eval("frobnicated").is_err());
}

#[test]
fn malformed_expressions_are_errors_that_quote_them() {
    for bad in [
        "<",
        ">= ",
        "sum(memoryCapacity)",
        "count() <",
        "&& < 1",
        "< 1 ||",
        "f(g(x)) < 1",
        "a) < 1",
    ] {
        let e = When::parse(bad).expect_err(bad);
        assert_eq!(e.expr, bad, "the error names the expression");
        assert!(!e.cause.is_empty());
    }
    let long = "< 1 ".repeat(2000);
    assert!(
        When::parse(&long).is_err(),
        "absurdly long expressions are refused"
    );
    let wide = "é".repeat(3000);
    let e = When::parse(&wide).expect_err("too long");
    assert_eq!(
        e.expr.chars().count(),
        64,
        "the quoted prefix is cut on a character boundary"
    );
}

#[test]
fn fuzz_corpus_replays_without_panics() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/when_expr");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz corpus is checked in") {
        let data = std::fs::read(entry.expect("entry").path()).expect("corpus file");
        if let Ok(s) = std::str::from_utf8(&data)
            && let Ok(w) = When::parse(s)
        {
            let _ = w.eval(&Echo);
        }
        n += 1;
    }
    assert!(n >= 30, "corpus has {n} entries");
}

#[test]
fn random_token_soup_never_panics() {
    const TOKENS: &[&str] = &[
        "<", "<=", ">", ">=", "=", "==", "===", "!=", "!==", "<>", "&&", "||", "(", ")", "count()",
        "sum(x)", "x", "1", "1.28.0", "16Gi", "70%", "'", "\"", " ", "  ", "supports", "hasFlags",
        "a,b", "\t", "é", "-1", "1e309",
    ];
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..20_000 {
        let mut s = String::new();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 9) as usize;
        for k in 0..len {
            let idx = ((seed >> (k * 5)) % TOKENS.len() as u64) as usize;
            s.push_str(TOKENS[idx]);
            if seed >> (k + 40) & 1 == 1 {
                s.push(' ');
            }
        }
        if let Ok(w) = When::parse(&s) {
            let _ = w.eval(&Echo);
        }
    }
}
