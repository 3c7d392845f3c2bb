//! A customer's config values against examples/hello's config screen.

use berth_spec::config::{ResolvedConfig, parse_values, resolve};
use std::path::Path;

fn app() -> berth_spec::Application {
    berth_spec::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello"))
        .unwrap()
        .app
}

fn gen_fixed(_: &berth_spec::Generated) -> String {
    "generated-secret".into()
}

#[test]
fn defaults_apply_and_external_fields_stay_hidden() {
    let r = resolve(&app(), &Default::default(), None, &mut gen_fixed).unwrap();
    assert_eq!(r.values["database"], "embedded");
    assert_eq!(r.values["replicas"], 2);
    assert!(
        !r.shown.contains("db_host"),
        "external fields hidden for embedded"
    );
    assert!(r.shown.contains("embedded_db_size"));
    assert_eq!(r.values["embedded_db_password"], "generated-secret");
}

#[test]
fn external_database_requires_its_fields_and_reports_all_problems() {
    let input = parse_values(
        "database: external\nreplicas: 50\nhostname: Not A Host\ndb_port: x\nreplcas: 2\n",
    )
    .unwrap();
    let problems = resolve(&app(), &input, None, &mut gen_fixed).unwrap_err();
    let items: Vec<&str> = problems.iter().map(|p| p.item.as_str()).collect();
    for expected in [
        "replcas",
        "db_port",
        "hostname",
        "replicas",
        "db_host",
        "db_password",
    ] {
        assert!(
            items.contains(&expected),
            "missing problem for {expected}: {problems:#?}"
        );
    }
    let typo = problems.iter().find(|p| p.item == "replcas").unwrap();
    assert_eq!(typo.help.as_deref(), Some("did you mean `replicas`?"));
}

#[test]
fn generated_values_survive_upgrades() {
    let first = resolve(&app(), &Default::default(), None, &mut |_| "first".into()).unwrap();
    let second = resolve(&app(), &Default::default(), Some(&first), &mut |_| {
        "second".into()
    })
    .unwrap();
    assert_eq!(second.values["embedded_db_password"], "first");
}

#[test]
fn passwords_are_never_echoed_in_problems() {
    let mut app = app();
    for g in &mut app.spec.config {
        for i in &mut g.items {
            if i.name == "db_password" {
                i.validation = Some(berth_spec::Validation {
                    regex: Some("[a-z]+".into()),
                    ..Default::default()
                });
            }
        }
    }
    let input = parse_values("database: external\ndb_host: db\ndb_password: S3cr3t!!\n").unwrap();
    let problems = resolve(&app, &input, None, &mut gen_fixed).unwrap_err();
    let text = format!("{problems:?}");
    assert!(!text.contains("S3cr3t"), "{text}");
    assert!(ResolvedConfig::secret_items(&app).contains("db_password"));
}

#[test]
fn conditions_evaluate_against_resolved_values() {
    let input =
        parse_values("database: external\ndb_host: db.internal\ndb_password: pw\n").unwrap();
    let r = resolve(&app(), &input, None, &mut gen_fixed).unwrap();
    assert!(r.holds("database == \"external\"").unwrap());
    assert!(r.shown.contains("db_host"));
    assert_eq!(r.values["db_port"], 5432);
}
