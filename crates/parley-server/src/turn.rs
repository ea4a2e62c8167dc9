//! One turn as the server takes it: the engine's step, the API calls it asks for, and the
//! response shaped by the request's `config`.

use parley_engine::{
    ApiResult, CompiledVersion, Context, Dialogue, Effect, Input, LlmResult, Step,
};
use parley_protocol::{
    Config, Request, SlateContent, State, TextPayload, Trace, TraceKind, strip_ssml,
};

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use crate::error::ApiError;
use crate::http::ApiCaller;

/// Where engine steps run: tokio's blocking threads, at most `permits` at once, so that a long
/// turn never holds an async worker (which answers every other request, `/health` included);
/// a turn's steps together get `budget` of that time.
#[derive(Debug)]
pub struct TurnPool {
    permits: Arc<tokio::sync::Semaphore>,
    budget: Duration,
    max_utterance_chars: usize,
}

static POOL: OnceLock<TurnPool> = OnceLock::new();

/// Sets the process's turn bounds (`parley serve` does, from its options); the first call
/// wins, and a process that makes none gets [`crate::Limits::default`]'s.
pub fn configure(limits: &crate::Limits) {
    let _ = POOL.set(TurnPool::new(limits));
}

impl TurnPool {
    fn new(limits: &crate::Limits) -> TurnPool {
        TurnPool {
            permits: Arc::new(tokio::sync::Semaphore::new(limits.parallel_turns().max(1))),
            budget: limits.turn_budget(),
            max_utterance_chars: limits.max_utterance_chars,
        }
    }

    fn get() -> &'static TurnPool {
        POOL.get_or_init(|| TurnPool::new(&crate::Limits::default()))
    }
}

/// Refuses typed text (or an intent's query) longer than the process allows: the NLU's work
/// grows with it.
pub fn check_utterance(request: &Request) -> Result<(), ApiError> {
    let max = TurnPool::get().max_utterance_chars;
    let text = match &request.kind {
        parley_protocol::RequestKind::Text(text) => Some(text.as_str()),
        parley_protocol::RequestKind::Intent(intent) => intent.query.as_deref(),
        _ => None,
    };
    // Counting stops at the limit: a 10 MB text costs no more to refuse than a 2 KB one.
    if text.is_some_and(|t| t.chars().nth(max).is_some()) {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "utterance_too_long",
            format!("the text is longer than {max} characters, the most this server reads"),
        ));
    }
    Ok(())
}

/// One engine step on the pool, within what is left of the turn's budget: the dialogue goes
/// to a blocking thread with its input and comes back with the step.
async fn pooled_step(
    version: &Arc<CompiledVersion>,
    dialogue: Dialogue,
    input: Input,
    ctx: &Arc<Context>,
    spent: &mut Duration,
) -> Result<(Dialogue, Step), ApiError> {
    let pool = TurnPool::get();
    let over = || {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "turn_too_long",
            format!(
                "the turn took more than {} ms of the engine's time: try a shorter message",
                pool.budget.as_millis()
            ),
        )
    };
    // Waiting for a thread is not the turn's work: the budget starts with the step.
    let permit = pool
        .permits
        .clone()
        .acquire_owned()
        .await
        .map_err(ApiError::internal)?;
    let left = pool.budget.checked_sub(*spent).ok_or_else(over)?;
    let (version, ctx) = (version.clone(), ctx.clone());
    let started = Instant::now();
    // The permit goes with the work: a step cut off by the budget still holds its thread
    // until it ends, and the pool stays bounded.
    let work = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut dialogue = dialogue;
        let step = dialogue.handle(&version, input, &ctx);
        step.map(|step| (dialogue, step))
    });
    let done = tokio::time::timeout(left, work).await;
    *spent += started.elapsed();
    match done {
        Ok(turn) => Ok(turn.map_err(ApiError::internal)??),
        Err(_) => Err(over()),
    }
}

/// API calls one turn may make (a flow that calls in a loop is cut short: each further call
/// fails, so the flow takes its failure path).
const MAX_CALLS_PER_TURN: usize = 8;

/// The outcome of a turn.
#[derive(Debug)]
pub struct Outcome {
    pub state: State,
    pub traces: Vec<Trace>,
    /// The request as understood (`text` resolved to an `intent`).
    pub request: Option<Request>,
}

/// What the engine is told besides the state and the request.
///
/// A stateless turn passes no `now_secs` and no `user`: its answer is a function of its state
/// and request alone, so the built-in `timestamp` and `user_id` stay as they were.
pub fn turn_context(
    seed: u64,
    now_secs: Option<i64>,
    user: Option<&str>,
    platform: Option<String>,
    config: Option<&Config>,
) -> Context {
    Context {
        seed,
        now: now_secs,
        user_id: user.map(str::to_owned),
        platform,
        stop_all: config.and_then(|c| c.stop_all).unwrap_or(false),
        stop_types: config
            .and_then(|c| c.stop_types.clone())
            .unwrap_or_default(),
        // Set by the route, which knows whether the caller may have it (`debug_allowed`).
        debug: false,
    }
}

/// What performs a turn's effects: the API caller for API-call blocks, the language model for
/// LLM blocks (none configured: they fail), and whether the client asked for a model's answer
/// as `completion` traces (`config.completionEvents`, `?completion_events=true`).
#[derive(Debug, Clone, Copy)]
pub struct Tools<'a> {
    pub caller: &'a ApiCaller,
    /// This server's own address (`http://127.0.0.1:8080`), against which an API call's path
    /// (`/demo/api/estimate`) is resolved. Never the `Host` a client sent: a client must not
    /// choose where the server connects.
    pub self_url: Option<&'a str>,
    pub llm: Option<&'a crate::llm::LlmClient>,
    pub completion_events: bool,
}

impl<'a> From<&'a ApiCaller> for Tools<'a> {
    fn from(caller: &'a ApiCaller) -> Tools<'a> {
        Tools {
            caller,
            self_url: None,
            llm: None,
            completion_events: false,
        }
    }
}

/// Whether callers without a secret key may have `debug` traces on the `development` version
/// of a project that never had a key: `parley serve --debug-traces`, for the author's laptop
/// and the demo. Off by default because such a version is also what a keyless deployment
/// serves its visitors (the server's default version, and `production` too wherever the two
/// aliases name one version: every Voiceflow import, the demo), and the traces carry each API
/// call's URL, headers and body. A process-wide switch, as the server's other CLI flags are.
static KEYLESS_DEBUG: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Lets callers without a secret key have `debug` traces where [`debug_allowed`] says so.
pub fn allow_keyless_debug(allow: bool) {
    KEYLESS_DEBUG.store(allow, std::sync::atomic::Ordering::Relaxed);
}

/// Whether a caller may have `debug` traces (`config.debug: true`): a secret key; or, when the
/// server was told to ([`allow_keyless_debug`]), any caller of a project that never had a key,
/// on its `development` version. Anyone else is answered as if it had not asked: the traces
/// name every intent, the threshold, and each API call with its headers.
pub(crate) fn debug_allowed(
    secret: bool,
    keys_locked: bool,
    project: &parley_engine::CompiledProject,
    version: &Arc<CompiledVersion>,
) -> bool {
    if secret {
        return true;
    }
    let development = project
        .version("development")
        .is_some_and(|d| Arc::ptr_eq(d, version));
    !keys_locked && development && KEYLESS_DEBUG.load(std::sync::atomic::Ordering::Relaxed)
}

/// Whether a request's `config` asks for `debug` traces.
pub(crate) fn asks_debug(config: Option<&Config>) -> bool {
    config
        .and_then(|c| c.extra.get("debug"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
}

/// Whether a request's `config` asks for `completion` traces.
pub fn wants_completion_events(config: Option<&Config>) -> bool {
    config
        .and_then(|c| c.extra.get("completionEvents"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
}

/// Runs the engine until the turn no longer waits for an API call or a model.
pub async fn take_turn(
    version: &Arc<CompiledVersion>,
    state: Option<State>,
    request: Request,
    ctx: Context,
    tools: Tools<'_>,
) -> Result<Outcome, ApiError> {
    run_turn(version, state, request, ctx, tools, &mut |_| {}).await
}

/// A `completion` trace (Voiceflow's streamed LLM text): `start`, `content` with a piece of
/// the answer, `end`.
fn completion(state: &str, content: Option<&str>) -> Trace {
    let mut payload = serde_json::json!({ "state": state });
    if let Some(content) = content {
        payload["content"] = content.into();
    }
    Trace::new(TraceKind::Custom {
        kind: "completion".to_owned(),
        payload: Some(payload),
    })
}

/// [`take_turn`], handing each step's traces to `said` as soon as the engine made them, before
/// the API call (or the model) the step asks for: what the streaming routes send at once. The
/// outcome still holds every trace.
///
/// A model's answer with completion events on is said piece by piece, as `completion` traces
/// (`start`, one `content` per piece as the model writes it, `end`), instead of the finished
/// `ai` text trace.
pub async fn run_turn(
    version: &Arc<CompiledVersion>,
    state: Option<State>,
    request: Request,
    ctx: Context,
    tools: Tools<'_>,
    said: &mut (dyn FnMut(&[Trace]) + Send),
) -> Result<Outcome, ApiError> {
    check_utterance(&request)?;
    // The budget counts the engine's time only: API calls have their own timeouts.
    let mut engine_time = Duration::ZERO;
    let ctx = Arc::new(ctx);
    // The state is read once and written once: between the turn's steps the conversation
    // stays in the engine's form.
    let dialogue = Dialogue::resume(version, state.as_ref(), ctx.seed)?;
    let (mut dialogue, mut turn) = pooled_step(
        version,
        dialogue,
        Input::Request(request),
        &ctx,
        &mut engine_time,
    )
    .await?;
    let understood = turn.request.take();
    let mut traces = std::mem::take(&mut turn.traces);
    said(&traces);
    let mut calls = 0;
    while let Some(effect) = turn.effect.take() {
        calls += 1;
        let mut streamed = false;
        let input = match effect {
            Effect::Http(_) | Effect::Llm(_) if calls > MAX_CALLS_PER_TURN => {
                let reason = format!("more than {MAX_CALLS_PER_TURN} calls in one turn");
                match effect {
                    Effect::Http(_) => Input::ApiResult(ApiResult::Failed { reason }),
                    Effect::Llm(_) => Input::LlmResult(LlmResult::Failed { reason }),
                }
            }
            Effect::Http(mut http) => {
                if let Some(base) = tools.self_url {
                    on_server(&mut http.url, base);
                }
                Input::ApiResult(tools.caller.call(&http).await)
            }
            Effect::Llm(llm) => Input::LlmResult(match tools.llm {
                None => {
                    tracing::warn!(
                        "an LLM block ran, but no language model is configured \
                         (PARLEY_LLM_BASE_URL): it takes its failure path"
                    );
                    LlmResult::Failed {
                        reason: "no language model is configured".to_owned(),
                    }
                }
                Some(model) if tools.completion_events => {
                    streamed = true;
                    let start = completion("start", None);
                    said(std::slice::from_ref(&start));
                    traces.push(start);
                    let mut pieces = Vec::new();
                    let result = model
                        .ask(&llm, &mut |piece| {
                            let trace = completion("content", Some(piece));
                            said(std::slice::from_ref(&trace));
                            pieces.push(trace);
                        })
                        .await;
                    // A cut-off answer's end says so (`error`), so that a client does not
                    // take the pieces for a whole answer; the failure path follows.
                    let mut end = completion("end", None);
                    if let (LlmResult::Failed { reason }, TraceKind::Custom { payload, .. }) =
                        (&result, &mut end.kind)
                        && let Some(payload) = payload
                    {
                        payload["error"] = reason.clone().into();
                    }
                    said(std::slice::from_ref(&end));
                    traces.append(&mut pieces);
                    traces.push(end);
                    result
                }
                Some(model) => model.ask(&llm, &mut |_| {}).await,
            }),
        };
        let answered = matches!(input, Input::LlmResult(LlmResult::Answer { .. }));
        (dialogue, turn) = pooled_step(version, dialogue, input, &ctx, &mut engine_time).await?;
        if streamed && answered {
            // The answer went out as completion traces: not again as a finished text.
            if let Some(i) = turn
                .traces
                .iter()
                .position(|t| matches!(&t.kind, TraceKind::Text(text) if text.ai == Some(true)))
            {
                turn.traces.remove(i);
            }
        }
        said(&turn.traces);
        traces.append(&mut turn.traces);
    }
    Ok(Outcome {
        state: dialogue.into_state(),
        traces,
        request: understood,
    })
}

/// Applies `config` and writes the traces as Voiceflow's runtime does.
///
/// - `excludeTypes` (by default `block`, `debug` and `flow`, as Voiceflow's runtime does) leaves
///   traces out; `stripSSML` (default true) removes SSML tags from `speak` messages. `tts` asks
///   for audio this server does not synthesise; `speak` traces keep their text. (`stopAll` and
///   `stopTypes` are the engine's: they make a custom action wait.)
/// - A `text` trace gets `slate` (built from its markdown) and its `message` becomes the plain
///   text, as in Voiceflow's answers: Voiceflow's web widget renders the slate and drops a text
///   trace without one.
/// - `now_ms` (stateful answers) stamps every trace's `time`, in Unix milliseconds. Stateless
///   answers carry no clock reading, so the same state and request give the same bytes.
/// - `base` (`http://host:port`, the address the client reached this server at) makes a
///   picture or a clip given as a path on this server (`/demo/images/logo.svg`) absolute: the
///   client shows it on a page of another origin.
pub fn shape(
    traces: Vec<Trace>,
    config: Option<&Config>,
    now_ms: Option<u64>,
    base: Option<&str>,
) -> Vec<Trace> {
    let default = Config::default();
    let config = config.unwrap_or(&default);
    let excluded = |t: &str| match &config.exclude_types {
        Some(types) => types.iter().any(|x| x == t),
        None => matches!(t, "block" | "debug" | "flow"),
    };
    let debug = asks_debug(Some(config));
    let mut out = Vec::with_capacity(traces.len());
    for mut trace in traces {
        if excluded(trace.type_name()) {
            continue;
        }
        match &mut trace.kind {
            TraceKind::Speak(speak) if config.strips_ssml() => {
                if let Some(message) = &mut speak.message {
                    *message = strip_ssml(message);
                }
            }
            TraceKind::Text(text) => {
                // A client that asks for debug traces also gets the text as the engine said
                // it, before the markdown became slate and a default delay was added (the
                // workbench writes it into the transcript tests it exports): it is what the
                // message shows, so anyone may have it.
                let source = debug
                    .then(|| serde_json::json!({ "message": text.message, "delay": text.delay }));
                with_slate(text);
                if let Some(source) = source {
                    text.extra.insert("source".to_owned(), source);
                }
            }
            _ => {}
        }
        if let Some(base) = base {
            absolute_media(&mut trace.kind, base);
        }
        if let Some(now) = now_ms {
            trace.time = Some(now.into());
        }
        out.push(trace);
    }
    out
}

/// A path on this server (`/x`, not `//host/x`) made absolute against `base`.
pub fn on_server(url: &mut String, base: &str) {
    if url.starts_with('/') && !url.starts_with("//") {
        url.insert_str(0, base.trim_end_matches('/'));
    }
}

/// The pictures, clips and links of a trace, made absolute against `base` (see [`shape`]): a
/// link left as a path would open on the page's own site, not this server.
fn absolute_media(kind: &mut TraceKind, base: &str) {
    let card = |card: &mut parley_protocol::Card| {
        if let Some(url) = &mut card.image_url {
            on_server(url, base);
        }
        if let Some(nodes) = card.description.as_mut().and_then(|d| d.slate.as_mut()) {
            absolute_links(nodes, base);
        }
    };
    match kind {
        TraceKind::Text(text) => {
            if let Some(nodes) = text.slate.as_mut().and_then(|s| s.content.as_mut()) {
                absolute_links(nodes, base);
            }
        }
        TraceKind::Visual(visual) => {
            if let Some(url) = &mut visual.image {
                on_server(url, base);
            }
        }
        TraceKind::Speak(speak) => {
            if let Some(url) = &mut speak.src {
                on_server(url, base);
            }
        }
        TraceKind::CardV2(one) => card(one),
        TraceKind::Carousel(carousel) => carousel.cards.iter_mut().for_each(card),
        _ => {}
    }
}

/// The links (`url` of slate elements) in `nodes` and their children, made absolute.
fn absolute_links(nodes: &mut [parley_protocol::SlateNode], base: &str) {
    for node in nodes {
        if let parley_protocol::SlateNode::Element(element) = node {
            if let Some(url) = &mut element.url {
                on_server(url, base);
            }
            absolute_links(&mut element.children, base);
        }
    }
}

/// The pause before a message when its block sets none (Parley's widget's own default;
/// Voiceflow's runtime uses 1,000 ms).
const DEFAULT_DELAY_MS: u32 = 600;

/// Gives a text trace its slate (from the markdown in `message`), its plain `message` and its
/// `delay`, as Voiceflow's runtime writes them.
fn with_slate(text: &mut TextPayload) {
    if text.slate.is_some() {
        return;
    }
    let Some(markdown) = text.message.take() else {
        return;
    };
    let rich = crate::slate::from_markdown(&markdown);
    let content = rich
        .content
        .into_iter()
        .filter_map(|node| serde_json::from_value(node).ok())
        .collect();
    let mut slate = SlateContent {
        id: Some(crate::slate::id_of(&markdown)),
        content: Some(content),
        ..SlateContent::default()
    };
    let delay = text
        .delay
        .clone()
        .unwrap_or_else(|| DEFAULT_DELAY_MS.into());
    slate
        .extra
        .insert("messageDelayMilliseconds".to_owned(), delay.clone().into());
    text.delay = Some(delay);
    text.slate = Some(slate);
    text.message = Some(rich.plain);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traces() -> Vec<Trace> {
        serde_json::from_value(serde_json::json!([
            { "type": "block", "payload": {} },
            { "type": "text", "payload": { "message": "one" } },
            { "type": "debug", "payload": { "message": "d" } },
            { "type": "speak", "payload": { "message": "<speak>two</speak>" } },
            { "type": "choice", "payload": { "buttons": [] } },
            { "type": "text", "payload": { "message": "three" } }
        ]))
        .unwrap()
    }

    fn types(traces: &[Trace]) -> Vec<&str> {
        traces.iter().map(Trace::type_name).collect()
    }

    #[test]
    fn links_and_pictures_given_as_paths_are_made_absolute() {
        let traces: Vec<Trace> = serde_json::from_value(serde_json::json!([
            { "type": "text", "payload": {
                "message": "See [the menu](/demo/menu) or [theirs](https://a.example/m)" } },
            { "type": "cardV2", "payload": { "title": "Pizza", "imageUrl": "/demo/p.png",
                "description": { "text": "more", "slate": [{ "children": [
                    { "type": "link", "url": "/demo/more", "children": [{ "text": "more" }] }
                ] }] },
                "buttons": [] } }
        ]))
        .unwrap();
        let shaped = shape(traces, None, None, Some("https://shop.example"));
        let json = serde_json::to_string(&shaped).unwrap();
        for absolute in [
            r#""url":"https://shop.example/demo/menu""#,
            r#""url":"https://a.example/m""#,
            r#""url":"https://shop.example/demo/more""#,
            r#""imageUrl":"https://shop.example/demo/p.png""#,
        ] {
            assert!(json.contains(absolute), "{absolute} in {json}");
        }
        assert!(!json.contains(r#"":"/demo"#), "{json}");
    }

    #[test]
    fn config_shapes_the_turn() {
        assert_eq!(
            types(&shape(traces(), None, None, None)),
            ["text", "speak", "choice", "text"]
        );
        // `stopTypes` is the engine's (a custom action waits): the server cuts nothing.
        let config: Config = serde_json::from_value(serde_json::json!({
            "excludeTypes": ["text"], "stopTypes": ["choice"], "stripSSML": false
        }))
        .unwrap();
        let shaped = shape(traces(), Some(&config), None, None);
        assert_eq!(types(&shaped), ["block", "debug", "speak", "choice"]);
        let TraceKind::Speak(speak) = &shaped[2].kind else {
            panic!()
        };
        assert_eq!(speak.message.as_deref(), Some("<speak>two</speak>"));
        let TraceKind::Speak(speak) = &shape(traces(), None, None, None)[1].kind else {
            panic!()
        };
        assert_eq!(speak.message.as_deref(), Some("two"));
    }

    #[test]
    fn text_traces_get_slate_and_stateful_ones_a_time() {
        let shaped = shape(traces(), None, Some(1_700_000_000_123), None);
        let wire = serde_json::to_value(&shaped[0]).unwrap();
        assert_eq!(wire["payload"]["message"], "one");
        assert_eq!(
            wire["payload"]["slate"]["content"],
            serde_json::json!([{ "children": [{ "text": "one" }] }])
        );
        assert_eq!(wire["payload"]["slate"]["messageDelayMilliseconds"], 600);
        assert_eq!(wire["payload"]["delay"], 600);
        assert!(wire["payload"]["slate"]["id"].is_string());
        assert!(
            shaped
                .iter()
                .all(|t| t.time == Some(1_700_000_000_123u64.into()))
        );
        // Stateless: no clock, the same bytes every time.
        let once = serde_json::to_string(&shape(traces(), None, None, None)).unwrap();
        assert_eq!(
            once,
            serde_json::to_string(&shape(traces(), None, None, None)).unwrap()
        );
        assert!(!once.contains("\"time\""));
    }
}
