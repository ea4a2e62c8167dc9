//! The language model an LLM block asks: any server that speaks OpenAI's chat completions
//! (OpenAI, Ollama, llama.cpp's server, vLLM…), streamed.
//!
//! `PARLEY_LLM_BASE_URL` (e.g. `http://127.0.0.1:11434/v1`), `PARLEY_LLM_MODEL` (the model
//! when a block names none) and `PARLEY_LLM_API_KEY` (sent as a bearer token, when set) name
//! it. The server configures it, so it may be on a private network (unlike API-call blocks,
//! whose URLs a project writes). Without one, an LLM block takes its failure path and the
//! server says why in its log.
//!
//! The answer is read as server-sent events (`data: {chunk}` frames, `choices[0].delta.content`,
//! then `data: [DONE]`); each piece of text goes to the caller as it arrives, which is what
//! streams an answer into the visitor's bubble (`completion` traces).

use std::time::Duration;

use futures_util::StreamExt;
use parley_engine::{LlmRequest, LlmResult};
use serde_json::{Value, json};

/// The largest answer read, in bytes (a model that does not stop is cut off here).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Where LLM blocks' requests go.
#[derive(Clone)]
pub struct LlmClient {
    client: reqwest::Client,
    /// `…/v1`: the chat completions are at `{base}/chat/completions`.
    base: String,
    model: Option<String>,
    key: Option<String>,
}

impl std::fmt::Debug for LlmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmClient")
            .field("base", &self.base)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl LlmClient {
    /// The model server at `base` (`http(s)://…`, up to and without `/chat/completions`).
    pub fn new(base: &str, model: Option<String>, key: Option<String>) -> Result<Self, String> {
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!("the LLM base URL `{base}` is not http(s)://…"));
        }
        crate::http::ensure_crypto();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("parley/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(LlmClient {
            client,
            base: base.trim_end_matches('/').to_owned(),
            model: model.filter(|m| !m.is_empty()),
            key: key.filter(|k| !k.is_empty()),
        })
    }

    /// The model server the environment names, if any (a malformed one is logged and unused).
    pub fn from_env() -> Option<LlmClient> {
        let base = std::env::var("PARLEY_LLM_BASE_URL").ok()?;
        let model = std::env::var("PARLEY_LLM_MODEL").ok();
        let key = std::env::var("PARLEY_LLM_API_KEY").ok();
        match LlmClient::new(&base, model, key) {
            Ok(client) => Some(client),
            Err(e) => {
                tracing::error!("PARLEY_LLM_BASE_URL: {e}");
                None
            }
        }
    }

    /// Asks the model, handing each piece of the answer to `piece` as it arrives; the whole
    /// answer, or why there is none.
    pub async fn ask(
        &self,
        request: &LlmRequest,
        piece: &mut (dyn FnMut(&str) + Send),
    ) -> LlmResult {
        let timeout = Duration::from_millis(u64::from(request.timeout_ms));
        match tokio::time::timeout(timeout, self.try_ask(request, piece)).await {
            Ok(Ok(text)) => LlmResult::Answer { text },
            Ok(Err(reason)) => LlmResult::Failed { reason },
            Err(_) => LlmResult::Failed {
                reason: format!("the model did not finish within {} ms", request.timeout_ms),
            },
        }
    }

    async fn try_ask(
        &self,
        request: &LlmRequest,
        piece: &mut (dyn FnMut(&str) + Send),
    ) -> Result<String, String> {
        let Some(model) = request.model.clone().or_else(|| self.model.clone()) else {
            return Err("no model: the block names none and PARLEY_LLM_MODEL is not set".into());
        };
        let messages: Vec<Value> = request
            .messages
            .iter()
            .map(|m| json!({ "role": m.role, "content": m.content }))
            .collect();
        let mut body = json!({ "model": model, "messages": messages, "stream": true });
        if let Some(t) = request.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(n) = request.max_tokens {
            body["max_tokens"] = json!(n);
        }
        let mut call = self
            .client
            .post(format!("{}/chat/completions", self.base))
            .header("accept", "text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(key) = &self.key {
            call = call.bearer_auth(key);
        }
        let response = call
            .send()
            .await
            .map_err(|e| format!("the model server did not answer: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            // The error's first 4 KB are enough to say what went wrong.
            let mut text = String::new();
            let mut body = response.bytes_stream();
            while let Some(Ok(chunk)) = body.next().await {
                text.push_str(&String::from_utf8_lossy(&chunk));
                if text.len() > 4096 {
                    break;
                }
            }
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| text.chars().take(200).collect());
            return Err(format!("the model server answered {status}: {message}"));
        }
        let mut events = eventsource_stream::EventStream::new(response.bytes_stream());
        let mut answer = String::new();
        while let Some(event) = events.next().await {
            let event = event.map_err(|e| format!("the answer was cut off: {e}"))?;
            let data = event.data.trim();
            if data == "[DONE]" {
                return Ok(answer);
            }
            let chunk: Value = serde_json::from_str(data)
                .map_err(|e| format!("the model server sent a malformed chunk: {e}"))?;
            if let Some(message) = chunk["error"]["message"].as_str() {
                return Err(format!("the model failed: {message}"));
            }
            if let Some(text) = chunk["choices"][0]["delta"]["content"].as_str()
                && !text.is_empty()
            {
                if answer.len() + text.len() > MAX_ANSWER_BYTES {
                    return Err(format!(
                        "the answer is longer than {MAX_ANSWER_BYTES} bytes"
                    ));
                }
                answer.push_str(text);
                piece(text);
            }
        }
        Err("the answer was cut off before its end ([DONE])".into())
    }
}
