use std::{path::PathBuf, time::Duration};

use serde::Deserialize;
use tempfile::TempDir;

use super::*;

/// A config shaped like the programs': sections, a nested section, an array of tables.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Conf {
    name: String,
    #[serde(with = "crate::duration")]
    poll: Duration,
    node: NodeConf,
    peers: Vec<Peer>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct NodeConf {
    queue: usize,
    listen: Vec<String>,
    gossip: GossipConf,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct GossipConf {
    #[serde(with = "crate::duration")]
    heartbeat: Duration,
    fanout: u32,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Peer {
    addr: String,
    #[serde(default, with = "crate::duration::option")]
    timeout: Option<Duration>,
}

impl Default for Conf {
    fn default() -> Self {
        Conf {
            name: "default".into(),
            poll: Duration::from_secs(1),
            node: NodeConf::default(),
            peers: Vec::new(),
        }
    }
}

impl Default for NodeConf {
    fn default() -> Self {
        NodeConf {
            queue: 16,
            listen: vec!["a".into()],
            gossip: GossipConf::default(),
        }
    }
}

impl Default for GossipConf {
    fn default() -> Self {
        GossipConf {
            heartbeat: Duration::from_secs(1),
            fanout: 6,
        }
    }
}

const RENAMED: &[Renamed] = &[
    Renamed::millis("poll_ms", "poll"),
    Renamed::seconds("node.gossip.heartbeat_s", "node.gossip.heartbeat"),
];

/// `text` as `dexd.toml` in a temp dir.
fn file(text: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dexd.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

fn loader(path: &Path) -> Loader {
    Loader::new("DEX_").file(Some(path)).renamed(RENAMED)
}

const FILE: &str = r#"
name = "from-file"
poll = "250ms"

[node]
queue = 100
listen = ["x", "y"]

[node.gossip]
heartbeat = "2s"

[[peers]]
addr = "p1"
timeout = "1m 30s"
"#;

#[test]
fn the_file_alone_overrides_the_defaults() {
    let (_dir, path) = file(FILE);
    let conf: Conf = loader(&path).load().unwrap();
    assert_eq!(conf.name, "from-file");
    assert_eq!(conf.poll, Duration::from_millis(250));
    assert_eq!(conf.node.queue, 100);
    assert_eq!(conf.node.listen, ["x", "y"]);
    assert_eq!(conf.node.gossip.heartbeat, Duration::from_secs(2));
    // Keys the file leaves out keep their defaults, also inside a table it has.
    assert_eq!(conf.node.gossip.fanout, 6);
    assert_eq!(
        conf.peers,
        [Peer {
            addr: "p1".into(),
            timeout: Some(Duration::from_secs(90)),
        }]
    );
    // No file at all: the defaults.
    let conf: Conf = Loader::new("DEX_").load().unwrap();
    assert_eq!(conf, Conf::default());
}

#[test]
fn the_environment_overrides_the_file() {
    let (_dir, path) = file(FILE);
    let conf: Conf = loader(&path)
        .env(vars(&[
            ("DEX_NODE__QUEUE", "200"),
            ("DEX_NODE__GOSSIP__HEARTBEAT", "5s"),
            ("DEX_NODE__LISTEN", r#"["z"]"#),
            ("DEX_NAME", "from-env"),
        ]))
        .load()
        .unwrap();
    assert_eq!(conf.name, "from-env");
    assert_eq!(conf.node.queue, 200);
    assert_eq!(conf.node.listen, ["z"]);
    assert_eq!(conf.node.gossip.heartbeat, Duration::from_secs(5));
    // What the environment does not set stays as the file has it.
    assert_eq!(conf.poll, Duration::from_millis(250));
    assert_eq!(conf.peers.len(), 1);
}

#[test]
fn a_flag_overrides_the_environment_and_the_file() {
    let (_dir, path) = file(FILE);
    let conf: Conf = loader(&path)
        .env(vars(&[
            ("DEX_NODE__QUEUE", "200"),
            ("DEX_NAME", "from-env"),
        ]))
        .flag("node.queue", "--queue", 300)
        .flag("node.listen", "--listen", ["flag-1", "flag-2"])
        .load()
        .unwrap();
    assert_eq!(conf.node.queue, 300, "flag over environment");
    assert_eq!(conf.node.listen, ["flag-1", "flag-2"], "flag over file");
    assert_eq!(conf.name, "from-env");
    assert_eq!(conf.node.gossip.heartbeat, Duration::from_secs(2));
}

#[test]
fn an_unknown_top_level_key_is_refused_with_its_path_file_and_line() {
    let (_dir, path) = file(&format!("nmae = \"typo\"\n{FILE}"));
    let err = loader(&path).load::<Conf>().unwrap_err();
    assert_eq!(err.key(), Some("nmae"));
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("unknown key `nmae` in {} line 1", path.display())),
        "{message}"
    );
    assert!(message.contains("name, poll, node, peers"), "{message}");
}

#[test]
fn an_unknown_nested_key_is_refused_with_its_path() {
    let (_dir, path) = file(&FILE.replace("heartbeat = \"2s\"", "heartbeet = \"2s\""));
    let err = loader(&path).load::<Conf>().unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "unknown key `node.gossip.heartbeet` in {} line 10",
            path.display()
        )),
        "{message}"
    );
    // In an array of tables, the index is part of the path.
    let (_dir, path) = file(&FILE.replace("addr = \"p1\"", "addr = \"p1\"\nadr = 1"));
    let err = loader(&path).load::<Conf>().unwrap_err();
    assert_eq!(err.key(), Some("peers.0.adr"), "{err}");
    assert!(err.to_string().contains("line 14"), "{err}");
}

#[test]
fn an_unknown_key_from_the_environment_names_the_variable() {
    let (_dir, path) = file(FILE);
    let err = loader(&path)
        .env(vars(&[("DEX_NODE__GOSSIP__HEARTBEET", "1s")]))
        .load::<Conf>()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown key `node.gossip.heartbeet` in environment variable \
         DEX_NODE__GOSSIP__HEARTBEET (expected one of: heartbeat, fanout)"
    );
}

#[test]
fn other_programs_variables_and_flag_variables_are_left_alone() {
    let (_dir, path) = file(FILE);
    let conf: Conf = loader(&path)
        .env(vars(&[
            ("DEX_MM_CONFIG", "/elsewhere"),
            ("DEX_BIN_DIR", "/elsewhere"),
            ("DEX_NAME", "ignored: a flag's variable"),
            ("OTHER_NAME", "not our prefix"),
        ]))
        .ignore_env(&["DEX_NAME"])
        .load()
        .unwrap();
    assert_eq!(conf.name, "from-file");
    let err = loader(&path)
        .env(vars(&[("DEX_NODE____QUEUE", "1")]))
        .load::<Conf>()
        .unwrap_err();
    assert!(
        err.to_string().contains("DEX_NODE____QUEUE: empty key"),
        "{err}"
    );
}

#[test]
fn every_duration_form_is_accepted() {
    for (text, expected) in [
        ("250ms", Duration::from_millis(250)),
        ("2s", Duration::from_secs(2)),
        ("1m 30s", Duration::from_secs(90)),
        ("1h", Duration::from_secs(3600)),
        ("7d", Duration::from_secs(7 * 86_400)),
        ("1.5s", Duration::from_millis(1500)),
    ] {
        let (_dir, path) = file(&format!("[node.gossip]\nheartbeat = \"{text}\"\n"));
        let conf: Conf = loader(&path).load().unwrap();
        assert_eq!(conf.node.gossip.heartbeat, expected, "{text}");
        let conf: Conf = Loader::new("DEX_")
            .env(vars(&[("DEX_NODE__GOSSIP__HEARTBEAT", text)]))
            .load()
            .unwrap();
        assert_eq!(
            conf.node.gossip.heartbeat, expected,
            "{text} from the environment"
        );
    }
}

#[test]
fn a_bad_duration_is_refused_with_its_key_path() {
    let (_dir, path) = file("[node.gossip]\nfanout = 3\nheartbeat = \"3 parsecs\"\n");
    let err = loader(&path).load::<Conf>().unwrap_err();
    assert_eq!(err.key(), Some("node.gossip.heartbeat"));
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "key `node.gossip.heartbeat` in {} line 3: \"3 parsecs\" is not a duration",
            path.display()
        )),
        "{message}"
    );
    // A number without a unit is refused, not guessed.
    let (_dir, path) = file("poll = 250\n");
    let err = loader(&path).load::<Conf>().unwrap_err();
    assert_eq!(err.key(), Some("poll"));
    assert!(
        err.to_string().contains("(e.g. \"250ms\" or \"250s\")"),
        "{err}"
    );
    // In an array of tables.
    let (_dir, path) = file(&FILE.replace("1m 30s", "1.5"));
    let err = loader(&path).load::<Conf>().unwrap_err();
    assert_eq!(err.key(), Some("peers.0.timeout"), "{err}");
    // From a flag.
    let (_dir, path) = file(FILE);
    let err = loader(&path)
        .flag("poll", "--poll", "soon")
        .load::<Conf>()
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("key `poll` in flag --poll: \"soon\""),
        "{err}"
    );
}

#[test]
fn a_renamed_key_names_the_new_one_with_the_value_converted() {
    let (_dir, path) = file("poll_ms = 250\n");
    let err = loader(&path).load::<Conf>().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "key `poll_ms` in {} line 1 was renamed: use poll = \"250ms\"",
            path.display()
        )
    );
    let (_dir, path) = file("[node.gossip]\nheartbeat_s = 90\n");
    let err = loader(&path).load::<Conf>().unwrap_err();
    assert!(
        err.to_string()
            .ends_with("was renamed: use heartbeat = \"1m 30s\""),
        "{err}"
    );
    assert_eq!(err.key(), Some("node.gossip.heartbeat_s"));
    // From the environment too (its first key is not a key of the config any more).
    let err = Loader::new("DEX_")
        .renamed(RENAMED)
        .env(vars(&[("DEX_POLL_MS", "2000")]))
        .load::<Conf>()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "key `poll_ms` in environment variable DEX_POLL_MS was renamed: use poll = \"2s\""
    );
}

#[test]
fn a_missing_required_key_and_a_syntax_error_name_the_file() {
    let (_dir, path) = file("[[peers]]\ntimeout = \"1s\"\n");
    let err = loader(&path).load::<Conf>().unwrap_err();
    assert_eq!(err.key(), Some("peers.0.addr"), "{err}");
    assert!(
        err.to_string().starts_with("missing key `peers.0.addr`"),
        "{err}"
    );
    let (_dir, path) = file("[node\nqueue = 1\n");
    let err = loader(&path).load::<Conf>().unwrap_err();
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err}");
    assert!(err.to_string().contains("line 1"), "{err}");
    let err = Loader::new("DEX_")
        .file(Some(Path::new("/nonexistent/dexd.toml")))
        .load::<Conf>()
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read config file /nonexistent/dexd.toml"),
        "{err}"
    );
}

#[test]
fn the_top_level_keys_come_from_the_struct() {
    assert_eq!(
        introspect::struct_fields::<Conf>(),
        ["name", "poll", "node", "peers"]
    );
    assert!(introspect::struct_fields::<u32>().is_empty());
}
