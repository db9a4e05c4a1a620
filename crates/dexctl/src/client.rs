//! The HTTP client of a node's API: where the node is (flags, environment, data dir), the
//! token, and problems turned into readable errors.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result, anyhow};
use dex_api::{layout, types::Problem};
use serde_json::Value;

/// The API's default address (DESIGN §9).
pub(crate) const DEFAULT_URL: &str = "http://127.0.0.1:7780";

/// A node's API.
#[derive(Debug)]
pub(crate) struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

/// The data dir: `--data-dir`, `DEX_DATA_DIR`, or `~/.p2pdex`.
pub(crate) fn data_dir(flag: Option<&Path>) -> Option<PathBuf> {
    flag.map(Path::to_owned)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".p2pdex")))
}

impl Client {
    /// The URL from `--url`, else `<data dir>/api.url`, else the default; the token from
    /// `--token`, else `<data dir>/api.token`.
    pub(crate) fn new(
        url: Option<&str>,
        token: Option<&str>,
        data_dir: Option<&Path>,
    ) -> Result<Client> {
        let from_dir = |name: &str| -> Result<Option<String>> {
            let Some(dir) = data_dir else { return Ok(None) };
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => Ok(Some(text.trim().to_owned())),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
            }
        };
        let base = match url {
            Some(url) => url.to_owned(),
            None => from_dir(layout::API_URL)?.unwrap_or_else(|| DEFAULT_URL.to_owned()),
        };
        let token = match token {
            Some(token) => Some(token.to_owned()),
            None => from_dir(layout::API_TOKEN)?,
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Ok(Client {
            base: base.trim_end_matches('/').to_owned(),
            token,
            agent,
        })
    }

    /// The node's trading page with the token in the URL fragment (`#token=…`), which
    /// browsers keep to themselves: the page takes it and drops it from the address bar.
    pub(crate) fn page_link(&self) -> Result<String> {
        let token = self
            .token
            .as_deref()
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                anyhow!("no API token: give --token, DEX_TOKEN or the node's --data-dir")
            })?;
        Ok(format!(
            "{}/#token={}",
            self.base,
            dex_api::types::percent_encode(token)
        ))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn finish(
        &self,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Value> {
        let mut response = result.map_err(|err| {
            anyhow!(
                "cannot reach the node at {}: {err} (is dexd running? see --url and --data-dir)",
                self.base
            )
        })?;
        let status = response.status();
        let text = response
            .body_mut()
            .read_to_string()
            .context("cannot read the node's answer")?;
        if status.is_success() {
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text).context("the node's answer is not JSON");
        }
        match serde_json::from_str::<Problem>(&text) {
            Ok(problem) => Err(anyhow!(
                "{}: {} ({}, HTTP {})",
                problem.title,
                problem.detail,
                problem.slug(),
                problem.status
            )),
            Err(_) => Err(anyhow!(
                "HTTP {status}: {}",
                text.chars().take(500).collect::<String>()
            )),
        }
    }

    fn auth<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(token) => request.header("Authorization", &format!("Bearer {token}")),
            None => request,
        }
    }

    /// `GET path`.
    pub(crate) fn get(&self, path: &str) -> Result<Value> {
        let request = self.auth(self.agent.get(&self.url(path)));
        self.finish(request.call())
    }

    /// `POST path` with a JSON body.
    pub(crate) fn post(&self, path: &str, body: &str) -> Result<Value> {
        let request = self
            .auth(self.agent.post(&self.url(path)))
            .header("Content-Type", "application/json");
        self.finish(request.send(body))
    }

    /// `DELETE path`.
    pub(crate) fn delete(&self, path: &str) -> Result<Value> {
        let request = self.auth(self.agent.delete(&self.url(path)));
        self.finish(request.call())
    }
}
