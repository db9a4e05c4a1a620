//! The filter choice and the format names.

use dex_logging::{Error, LogFormat, filter};

#[test]
fn rust_log_wins_over_the_configured_level_unless_empty() {
    assert_eq!(
        filter(Some("dex_node=debug"), "info").unwrap().to_string(),
        "dex_node=debug"
    );
    assert_eq!(filter(Some(""), "warn").unwrap().to_string(), "warn");
    assert_eq!(filter(None, "info").unwrap().to_string(), "info");
}

#[test]
fn a_bad_filter_names_where_it_came_from() {
    match filter(Some("dex_node=loud"), "info") {
        Err(Error::InvalidFilter {
            source_name,
            filter,
            ..
        }) => assert_eq!(
            (source_name, filter.as_str()),
            ("RUST_LOG", "dex_node=loud")
        ),
        other => panic!("expected an invalid filter, got {other:?}"),
    }
    let err = filter(None, "very=loud=indeed").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("log level \"very=loud=indeed\" is not a valid filter")
    );
}

#[test]
fn formats_read_from_config_text() {
    #[derive(serde::Deserialize)]
    struct Log {
        format: LogFormat,
    }
    let parse = |text: &str| serde_json::from_str::<Log>(text).map(|log| log.format);
    assert_eq!(parse(r#"{"format":"human"}"#).unwrap(), LogFormat::Human);
    assert_eq!(parse(r#"{"format":"json"}"#).unwrap(), LogFormat::Json);
    assert!(parse(r#"{"format":"xml"}"#).is_err());
    assert_eq!(LogFormat::default(), LogFormat::Human);
}
