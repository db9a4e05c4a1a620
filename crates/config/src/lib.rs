//! The configuration loader of dexd and dex-mm: one TOML file, then environment variables,
//! then command-line flags, each overriding the one before (file < environment < flags),
//! deserialized into the program's own `#[serde(deny_unknown_fields)]` structs.
//!
//! - Environment variables are `<PREFIX><SECTION>__<KEY>` (`DEX_API__BODY_LIMIT=131072`,
//!   `DEX_MM_STRATEGY__LEVELS=3`); values are read as TOML when they parse as a TOML value
//!   (numbers, booleans, arrays), else as text. Only variables whose first key is a key of
//!   the program's config count: other variables with the prefix belong to other programs
//!   or name flags, and are left alone.
//! - Errors name the key's full path and where its value came from: the file and line,
//!   the environment variable or the flag ([`ConfigError`], [`Origin`]). An unknown key is
//!   an error, in the file and in the environment alike; a renamed key ([`Renamed`]) is an
//!   error that says what to write instead.
//! - Durations are strings with units everywhere ([`duration`]).
//!
//! `#[serde(flatten)]` must not be used in the config structs: serde then hands the
//! flattened struct every key, and `deny_unknown_fields` no longer refuses any.

pub mod duration;
mod error;
mod introspect;
mod lines;

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use figment::{
    Figment, Metadata, Profile, Provider, Source,
    error::Kind,
    value::{Dict, Map, Value},
};
use serde::{Serialize, de::DeserializeOwned};

pub use crate::error::{ConfigError, Origin};

/// Reads one file alone, without environment or flags: a file that a config names (dexd's
/// `markets_file`).
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    Loader::new("").file(Some(path)).load()
}

/// A key that was renamed, and how its old value reads under the new name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Renamed {
    /// The old key's full path (`node.request_timeout_ms`).
    pub old: &'static str,
    /// The new key's full path (`node.request_timeout`).
    pub new: &'static str,
    /// What the old value was.
    pub was: OldValue,
}

/// What a renamed key's value was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OldValue {
    /// Whole milliseconds; the new key is a duration.
    Millis,
    /// Whole seconds; the new key is a duration.
    Seconds,
}

impl Renamed {
    /// An integer of milliseconds that became a duration.
    pub const fn millis(old: &'static str, new: &'static str) -> Renamed {
        Renamed {
            old,
            new,
            was: OldValue::Millis,
        }
    }

    /// An integer of seconds that became a duration.
    pub const fn seconds(old: &'static str, new: &'static str) -> Renamed {
        Renamed {
            old,
            new,
            was: OldValue::Seconds,
        }
    }

    /// `new = "2s"`: the line to write instead of `old = <value>`.
    fn replacement(&self, value: &Value) -> String {
        let name = self.new.rsplit('.').next().unwrap_or(self.new);
        let whole = value
            .to_i128()
            .and_then(|whole| u64::try_from(whole).ok())
            .or_else(|| value.to_u128().and_then(|whole| u64::try_from(whole).ok()));
        let duration = whole.map(|value| match self.was {
            OldValue::Millis => Duration::from_millis(value),
            OldValue::Seconds => Duration::from_secs(value),
        });
        match duration {
            Some(duration) => format!("{name} = \"{}\"", duration::format(duration)),
            None => format!("{name} = <a duration such as \"2s\">"),
        }
    }
}

/// The sources of one program's configuration, in the order they override each other.
#[derive(Debug, Clone)]
pub struct Loader {
    env_prefix: String,
    file: Option<PathBuf>,
    env: Vec<(String, String)>,
    ignored_env: Vec<String>,
    flags: Vec<(String, String, Result<Value, String>)>,
    renamed: Vec<Renamed>,
}

/// The `Source` of environment variables and flags in figment's metadata.
const ENV: &str = "environment variable";
const FLAG: &str = "flag";

impl Loader {
    /// A loader of the variables starting with `env_prefix` (`"DEX_"`), no file, no
    /// environment and no flags yet.
    pub fn new(env_prefix: &str) -> Loader {
        Loader {
            env_prefix: env_prefix.to_owned(),
            file: None,
            env: Vec::new(),
            ignored_env: Vec::new(),
            flags: Vec::new(),
            renamed: Vec::new(),
        }
    }

    /// Reads `path` first (it must exist); without one, the defaults apply.
    pub fn file(mut self, path: Option<&Path>) -> Loader {
        self.file = path.map(Path::to_owned);
        self
    }

    /// Environment variables (the process's: [`Loader::process_env`]; tests give theirs).
    pub fn env(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Loader {
        self.env = vars.into_iter().collect();
        self
    }

    /// The process's environment (variables whose name or value is not UTF-8 are skipped:
    /// none of ours is).
    pub fn process_env(self) -> Loader {
        let vars = std::env::vars_os().filter_map(|(name, value)| {
            Some((name.into_string().ok()?, value.into_string().ok()?))
        });
        self.env(vars)
    }

    /// Variables that name flags rather than keys (`DEX_DATA_DIR` of `--data-dir`), read by
    /// the program's flag parser: never taken as keys.
    pub fn ignore_env(mut self, vars: &[&str]) -> Loader {
        self.ignored_env
            .extend(vars.iter().map(|var| (*var).to_owned()));
        self
    }

    /// Keys that were renamed: found in any source, they are errors naming the new key.
    pub fn renamed(mut self, renamed: &[Renamed]) -> Loader {
        self.renamed.extend_from_slice(renamed);
        self
    }

    /// The value of command-line flag `flag` for `key` (`"api.listen"`): it overrides the
    /// file and the environment. Call it only for flags given.
    pub fn flag(mut self, key: &str, flag: &str, value: impl Serialize) -> Loader {
        let value = Value::serialize(value).map_err(|err| err.to_string());
        self.flags.push((key.to_owned(), flag.to_owned(), value));
        self
    }

    /// Reads every source and deserializes the result into `T`.
    pub fn load<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        let text = match &self.file {
            Some(path) => {
                Some(
                    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                        path: path.clone(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        let mut figment = Figment::new();
        if let (Some(path), Some(text)) = (&self.file, &text) {
            let dict: Dict = toml::from_str(text).map_err(|err| ConfigError::Syntax {
                path: path.clone(),
                message: err.to_string().trim_end().to_owned(),
            })?;
            figment = figment.merge(Layer {
                metadata: Metadata::from("TOML file", path.as_path()),
                dict,
            });
        }
        for layer in self.env_layers::<T>()? {
            figment = figment.merge(layer);
        }
        for (key, flag, value) in &self.flags {
            let value = value.clone().map_err(|reason| ConfigError::Invalid {
                key: key.clone(),
                origin: Origin::Flag(flag.clone()),
                reason,
            })?;
            figment = figment.merge(Layer {
                metadata: Metadata::from(FLAG, Source::Custom(flag.clone())),
                dict: nested(key, value),
            });
        }
        let origin_of = |metadata: Option<&Metadata>, path: &[String]| {
            self.origin(metadata, path, text.as_deref())
        };
        for renamed in &self.renamed {
            if let Ok(value) = figment.find_value(renamed.old) {
                let path: Vec<String> = renamed.old.split('.').map(str::to_owned).collect();
                return Err(ConfigError::Renamed {
                    key: renamed.old.to_owned(),
                    origin: origin_of(figment.get_metadata(value.tag()), &path),
                    replacement: renamed.replacement(&value),
                });
            }
        }
        figment.extract::<T>().map_err(|err| {
            let path = err.path.clone();
            let origin = origin_of(err.metadata.as_ref(), &path);
            match err.kind {
                Kind::UnknownField(_, expected) => ConfigError::UnknownKey {
                    key: path.join("."),
                    origin,
                    expected,
                },
                Kind::MissingField(field) => {
                    let mut key = path;
                    key.push(field.into_owned());
                    ConfigError::MissingKey {
                        key: key.join("."),
                        origin: match &self.file {
                            Some(path) => Origin::File {
                                path: path.clone(),
                                line: None,
                            },
                            None => Origin::Defaults,
                        },
                    }
                }
                kind => ConfigError::Invalid {
                    key: path.join("."),
                    origin,
                    reason: kind.to_string(),
                },
            }
        })
    }

    /// One layer per variable of ours, sorted by name (so that `DEX_API` cannot depend on
    /// the order of the environment when it and `DEX_API__LISTEN` are both set).
    fn env_layers<T: DeserializeOwned>(&self) -> Result<Vec<Layer>, ConfigError> {
        let mut top_level: Vec<&str> = introspect::struct_fields::<T>().to_vec();
        top_level.extend(
            self.renamed
                .iter()
                .map(|renamed| renamed.old.split('.').next().unwrap_or(renamed.old)),
        );
        let mut vars: Vec<&(String, String)> = self.env.iter().collect();
        vars.sort();
        let mut layers = Vec::new();
        for (var, text) in vars {
            let Some(rest) = var.strip_prefix(&self.env_prefix) else {
                continue;
            };
            if self.ignored_env.contains(var) {
                continue;
            }
            let keys: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            if !top_level.contains(&keys[0].as_str()) {
                continue;
            }
            let bad_name = |reason| ConfigError::BadEnvName {
                var: var.clone(),
                prefix: self.env_prefix.clone(),
                reason,
            };
            if keys.iter().any(String::is_empty) {
                return Err(bad_name("empty key"));
            }
            if keys.iter().any(|key| key.contains('.')) {
                return Err(bad_name("a key with a dot"));
            }
            let value = env_value(text).map_err(|reason| ConfigError::Invalid {
                key: keys.join("."),
                origin: Origin::Env(var.clone()),
                reason,
            })?;
            layers.push(Layer {
                metadata: Metadata::from(ENV, Source::Custom(var.clone())),
                dict: nested(&keys.join("."), value),
            });
        }
        Ok(layers)
    }

    /// Where the value at `path` came from, per figment's metadata of it.
    fn origin(&self, metadata: Option<&Metadata>, path: &[String], text: Option<&str>) -> Origin {
        let Some(metadata) = metadata else {
            return Origin::Defaults;
        };
        match &metadata.source {
            Some(Source::File(file)) => Origin::File {
                path: file.clone(),
                line: text.and_then(|text| lines::line_of(text, path)),
            },
            Some(Source::Custom(name)) if metadata.name == ENV => Origin::Env(name.clone()),
            Some(Source::Custom(name)) if metadata.name == FLAG => Origin::Flag(name.clone()),
            _ => Origin::Defaults,
        }
    }
}

/// A variable's value: a TOML value if it parses as one (`2000`, `true`, `["a", "b"]`),
/// else the text itself (`250ms`, `127.0.0.1:7780`).
fn env_value(text: &str) -> Result<Value, String> {
    let parsed = toml::from_str::<toml::Table>(&format!("value = {text}"))
        .ok()
        .and_then(|mut table| table.remove("value"));
    match parsed {
        Some(value) => Value::serialize(value).map_err(|err| err.to_string()),
        None => Ok(Value::from(text.to_owned())),
    }
}

/// `{a: {b: value}}` for the key `a.b`.
fn nested(key: &str, value: Value) -> Dict {
    figment::util::nest(key, value)
        .into_dict()
        .unwrap_or_default()
}

/// One source's values, with the metadata that names it in errors.
struct Layer {
    metadata: Metadata,
    dict: Dict,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        self.metadata.clone()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

#[cfg(test)]
mod tests;
