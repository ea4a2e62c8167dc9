use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::runtime::{Fault, Next, Runner};
use crate::turn::{ApiResult, Effect, HttpRequest};
use crate::validate::Checker;

/// Calls an HTTP API. The engine does no IO: the block suspends the turn with an
/// [`Effect::Http`]; the caller performs it and resumes with the [`ApiResult`]. A 2xx answer
/// maps fields of its JSON body to variables and takes `success`; anything else (an error
/// status, a timeout, a body that is not JSON when fields are mapped) takes `failure`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiCallBlock {
    pub id: String,
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// May hold `{variable}` placeholders (their values are URL-encoded).
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u32,
    #[serde(default)]
    pub mappings: Vec<Mapping>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// Stores the field at `path` of the response (dot-separated, array indices as numbers, e.g.
/// `current.temperature` or `items.0.name`) in `variable`; `null` when it is not there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Mapping {
    pub path: String,
    pub variable: String,
}

fn default_timeout() -> u32 {
    5_000
}

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

impl ApiCallBlock {
    pub(crate) fn check(&self, cx: &mut Checker) {
        if !METHODS.contains(&self.method.as_str()) {
            cx.error(
                "method",
                &format!("`{}` is not one of {}", self.method, METHODS.join(", ")),
            );
        }
        cx.template("url", &self.url);
        let literal = self.url.split('{').next().unwrap_or_default();
        // A path (`/demo/api/estimate`) is a call to the server that serves the project.
        let path = literal.starts_with('/') && !literal.starts_with("//");
        if !(path || literal.starts_with("https://") || literal.starts_with("http://")) {
            cx.error(
                "url",
                "an API URL must start with https://, http:// or / (a path on this server)",
            );
        }
        for (name, value) in &self.headers {
            cx.template(&format!("headers.{name}"), value);
        }
        if let Some(body) = &self.body {
            cx.template("body", body);
        }
        if self.timeout_ms == 0 || self.timeout_ms > 60_000 {
            cx.error("timeoutMs", "the timeout must be between 1 and 60000 ms");
        }
        for (i, m) in self.mappings.iter().enumerate() {
            cx.variable(&format!("mappings[{i}].variable"), &m.variable);
        }
        cx.link("success", self.success.as_deref());
        cx.link("failure", self.failure.as_deref());
    }

    pub(crate) fn run(&self, rt: &mut Runner) -> Result<Next, Fault> {
        let request = HttpRequest {
            method: self.method.clone(),
            url: rt.render_url(&self.url),
            headers: self
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), rt.render(v)))
                .collect(),
            body: self.body.as_deref().map(|b| rt.render(b)),
            timeout_ms: self.timeout_ms,
        };
        Ok(Next::Suspend(Effect::Http(request)))
    }

    pub(crate) fn resume(&self, rt: &mut Runner, result: &ApiResult) -> Result<Next, Fault> {
        let ApiResult::Response { status, body } = result else {
            return Ok(Next::follow(&self.failure));
        };
        if !(200..300).contains(status) {
            return Ok(Next::follow(&self.failure));
        }
        if !self.mappings.is_empty() {
            let Ok(json) = serde_json::from_str::<Value>(body) else {
                return Ok(Next::follow(&self.failure));
            };
            for m in &self.mappings {
                let value = lookup(&json, &m.path).cloned().unwrap_or(Value::Null);
                rt.set_variable(&m.variable, value)?;
            }
        }
        Ok(Next::follow(&self.success))
    }
}

fn lookup<'a>(json: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .filter(|p| !p.is_empty())
        .try_fold(json, |value, key| match value {
            Value::Object(map) => map.get(key),
            Value::Array(items) => items.get(key.parse::<usize>().ok()?),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::lookup;

    #[test]
    fn paths_walk_objects_and_arrays() {
        let json = serde_json::json!({ "a": { "items": [{ "name": "x" }] }, "n": 3 });
        assert_eq!(lookup(&json, "a.items.0.name"), Some(&"x".into()));
        assert_eq!(lookup(&json, "n"), Some(&3.into()));
        assert_eq!(lookup(&json, "a.items.1.name"), None);
        assert_eq!(lookup(&json, "n.x"), None);
        assert_eq!(lookup(&json, "a.items.first"), None);
        assert_eq!(lookup(&json, ""), Some(&json));
    }
}
