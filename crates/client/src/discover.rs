//! Where a node's API is and its token: the files dexd writes into its data dir
//! ([`dex_api::layout`]).

use std::path::Path;

use dex_api::layout;

use crate::ClientError;

/// The API's default address (DESIGN §9), when neither a URL nor a data dir's `api.url`
/// says otherwise.
pub const DEFAULT_URL: &str = "http://127.0.0.1:7780";

/// The URL the node in `data_dir` listens on (its `api.url`, written each time it
/// starts listening and removed when it stops); `None` while there is none.
pub fn read_url(data_dir: &Path) -> Result<Option<String>, ClientError> {
    read_trimmed(data_dir, layout::API_URL)
}

/// The API token of the node in `data_dir` (its `api.token`, created at its first start);
/// `None` if there is none yet.
pub fn read_token(data_dir: &Path) -> Result<Option<String>, ClientError> {
    read_trimmed(data_dir, layout::API_TOKEN)
}

/// The file's text without surrounding whitespace; `None` if it does not exist.
fn read_trimmed(dir: &Path, name: &str) -> Result<Option<String>, ClientError> {
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text.trim().to_owned())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ClientError::DataDir { path, source }),
    }
}

/// The URL: `url`, else `<data dir>/api.url`, else [`DEFAULT_URL`].
pub(crate) fn url(url: Option<&str>, data_dir: Option<&Path>) -> Result<String, ClientError> {
    if let Some(url) = url {
        return Ok(url.to_owned());
    }
    let from_dir = match data_dir {
        Some(dir) => read_url(dir)?,
        None => None,
    };
    Ok(from_dir.unwrap_or_else(|| DEFAULT_URL.to_owned()))
}

/// The token: `token`, else `<data dir>/api.token`, else none.
pub(crate) fn token(
    token: Option<&str>,
    data_dir: Option<&Path>,
) -> Result<Option<String>, ClientError> {
    match (token, data_dir) {
        (Some(token), _) => Ok(Some(token.to_owned())),
        (None, Some(dir)) => read_token(dir),
        (None, None) => Ok(None),
    }
}
