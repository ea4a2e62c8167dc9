//! The interpreter: one turn of a conversation.
//!
//! [`step`] reads the state, hands the input to whatever the conversation waits at (a choice, a
//! capture, a custom action, an API call), falls back to the global intents and then to
//! no-match, and runs blocks until the conversation waits again, suspends on an effect, or ends.
//! A turn that runs more blocks than the version's step budget, or whose expression fails, ends
//! with the project's error message and a `debug` trace, never a hang or a panic.

use std::collections::BTreeMap;

use parley_protocol::{
    IntentEntity, IntentName, IntentPayload, LaunchPayload, NoReplyPayload, Object, Request,
    RequestKind, State, Trace, TraceKind,
};
use serde_json::{Value, json};

use crate::blocks::{Block, Resume};
use crate::compile::CompiledVersion;
use crate::session::{Position, Session, Status};
use crate::turn::{ApiResult, Context, Effect, Input, LlmResult, Step, StepError, Turn};

/// How deep `goto_flow` calls and interruptions by global intents may nest.
const MAX_STACK: usize = 32;
/// The largest a single variable may grow (serialised), and all of them together.
const MAX_VARIABLE_BYTES: usize = 16 * 1024;
const MAX_VARIABLES_BYTES: usize = 64 * 1024;

/// What a block says happens next.
#[derive(Debug)]
pub(crate) enum Next {
    /// Run this block of the current flow.
    Go(String),
    /// The current flow is finished: go back to the flow that called or was interrupted.
    Done,
    /// Stop the turn and wait here for the user.
    Wait(Status),
    /// Stop the turn: the caller performs the effect and resumes with its result.
    Suspend(Effect),
    /// Run another flow, then come back to `then`.
    Call { flow: String, then: Option<String> },
    /// Leave this flow for the one a global intent starts.
    GotoIntent(String),
    /// Leave this flow for another, from its start, without coming back.
    Jump(String),
    /// The conversation is over.
    End,
}

impl Next {
    /// `next` when there is one, else the flow is finished.
    pub(crate) fn follow(next: &Option<String>) -> Next {
        next.clone().map_or(Next::Done, Next::Go)
    }
}

/// Something went wrong inside a turn: told to the user as the project's error message.
#[derive(Debug)]
pub(crate) struct Fault {
    code: &'static str,
    pub(crate) message: String,
}

impl Fault {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Fault {
        Fault {
            code,
            message: message.into(),
        }
    }

    /// A state that validation should have made impossible.
    pub(crate) fn internal(message: impl Into<String>) -> Fault {
        Fault::new("internal", message)
    }
}

/// One turn in progress.
#[derive(Debug)]
pub(crate) struct Runner<'v> {
    v: &'v CompiledVersion,
    session: Session,
    traces: Vec<Trace>,
    budget: u32,
    effect: Option<Effect>,
    /// The NLU's reading of the turn's text (its scores for every intent), and the best match
    /// over all intents: several steps of a turn ask for them.
    analysed: std::cell::RefCell<Option<Analysed>>,
    /// `config.stopAll` and `config.stopTypes`: custom actions that wait even when set to go on.
    stop_all: bool,
    stop_types: Vec<String>,
    /// The user's text this turn: it joins the history when the turn ends, so that an LLM
    /// block's history holds the turns before this one (its prompt holds this one's).
    heard: Option<String>,
}

#[derive(Debug)]
struct Analysed {
    text: String,
    analysis: crate::nlu::Analysis,
    best: Option<crate::Match>,
}

/// Runs one step of a turn from a wire state: [`Dialogue::resume`], [`Dialogue::handle`], and
/// the state back. A turn that suspends (an API call, a model) is better taken with a
/// [`Dialogue`], which keeps the conversation in the engine's form between its steps.
pub fn step(
    version: &CompiledVersion,
    state: Option<&State>,
    input: Input,
    ctx: &Context,
) -> Result<Turn, StepError> {
    let session = match state {
        Some(state) => Session::from_state(version, state)?,
        None => Session::fresh(version, ctx.seed),
    };
    let (session, step) = run(version, session, input, ctx)?;
    Ok(Turn {
        state: session.to_state(),
        traces: step.traces,
        effect: step.effect,
        request: step.request,
    })
}

/// A conversation between the steps of a turn, in the engine's own form: read from the wire
/// state once ([`Dialogue::resume`]), handed each input of the turn ([`Dialogue::handle`]: the
/// request, then the result of each effect it suspends on), and written back once
/// ([`Dialogue::into_state`]). So a turn that suspends several times does not parse and write
/// its state at every suspension (as quinn-proto keeps a `Connection`, YarnSpinner a
/// `Dialogue`).
#[derive(Debug, Clone)]
pub struct Dialogue {
    session: Session,
    /// The version it was resumed on: [`Dialogue::handle`] refuses another.
    version: String,
}

impl Dialogue {
    /// The conversation a wire state holds (checked against the version), or a new one.
    pub fn resume(
        version: &CompiledVersion,
        state: Option<&State>,
        seed: u64,
    ) -> Result<Dialogue, StepError> {
        let session = match state {
            Some(state) => Session::from_state(version, state)?,
            None => Session::fresh(version, seed),
        };
        Ok(Dialogue {
            session,
            version: version.id().to_owned(),
        })
    }

    /// One input: the turn's request, or the result of the effect the last step asked for. An
    /// input the conversation cannot take leaves it as it was.
    pub fn handle(
        &mut self,
        version: &CompiledVersion,
        input: Input,
        ctx: &Context,
    ) -> Result<Step, StepError> {
        if version.id() != self.version {
            return Err(StepError::InvalidState {
                reason: format!(
                    "the dialogue was resumed on version `{}`, not `{}`",
                    self.version,
                    version.id()
                ),
            });
        }
        // A clone, so that a refused input changes nothing (a step may have changed the
        // session before it found the input wrong).
        let (session, step) = run(version, self.session.clone(), input, ctx)?;
        self.session = session;
        Ok(step)
    }

    /// The wire state of the conversation as it is now.
    pub fn state(&self) -> State {
        self.session.to_state()
    }

    /// The wire state, at the end of the turn.
    pub fn into_state(self) -> State {
        self.session.to_state()
    }
}

/// One step on a session: what [`step`] and [`Dialogue::handle`] share.
fn run(
    version: &CompiledVersion,
    session: Session,
    input: Input,
    ctx: &Context,
) -> Result<(Session, Step), StepError> {
    let mut rt = Runner {
        v: version,
        session,
        traces: Vec::new(),
        budget: version.settings().step_budget,
        effect: None,
        analysed: std::cell::RefCell::new(None),
        stop_all: ctx.stop_all,
        stop_types: ctx.stop_types.clone(),
        heard: None,
    };
    rt.session.book.turn += 1;
    rt.context_variables(ctx);
    // The seed a new conversation's random choices follow, as digits (a u64 is more than a
    // JavaScript number holds): a transcript test recorded from the wire starts from it.
    if ctx.debug && rt.session.book.turn == 1 {
        rt.say(debug_trace(json!({
            "type": "seed",
            "message": format!("a new conversation, seed {}", ctx.seed),
            "seed": ctx.seed.to_string(),
        })));
    }
    let request = match input {
        Input::Request(request) => {
            if let (true, RequestKind::Text(text)) = (ctx.debug, &request.kind) {
                let trace = rt.nlu_debug(text);
                rt.say(trace);
            }
            rt.request(request)?
        }
        Input::ApiResult(result) => {
            if ctx.debug {
                rt.say(api_result_debug(&result));
            }
            rt.api_result(&result)?;
            None
        }
        Input::LlmResult(result) => {
            if ctx.debug {
                rt.say(debug_trace(match &result {
                    LlmResult::Answer { text } => json!({
                        "type": "llm_result",
                        "message": "the model answered",
                        "answer": text,
                    }),
                    LlmResult::Failed { reason } => json!({
                        "type": "llm_result",
                        "message": format!("the model failed: {reason}"),
                        "failed": reason,
                    }),
                }));
            }
            rt.llm_result(&result)?;
            None
        }
    };
    let (session, mut step) = rt.finish(request);
    if let (true, Some(Effect::Http(http))) = (ctx.debug, &step.effect) {
        step.traces.push(debug_trace(json!({
            "type": "api",
            "message": format!("API call: {} {}", http.method, http.url),
            "method": http.method,
            "url": http.url,
            "headers": http.headers,
            "body": http.body,
            "timeoutMs": http.timeout_ms,
        })));
    }
    if let (true, Some(Effect::Llm(llm))) = (ctx.debug, &step.effect) {
        step.traces.push(debug_trace(json!({
            "type": "llm",
            "message": format!("asking a model ({})", llm.model.as_deref().unwrap_or("default")),
            "model": llm.model,
            "temperature": llm.temperature,
            "maxTokens": llm.max_tokens,
            "timeoutMs": llm.timeout_ms,
            "messages": llm
                .messages
                .iter()
                .map(|m| json!({ "role": m.role, "content": m.content }))
                .collect::<Vec<_>>(),
        })));
    }
    Ok((session, step))
}

/// A `debug` trace (Voiceflow's shape: a `message`, here with the details beside it).
fn debug_trace(payload: Value) -> Trace {
    Trace::new(TraceKind::Diagnostic {
        kind: parley_protocol::Diagnostic::Debug,
        payload: Some(payload),
    })
}

/// The `debug` trace of an API call's result, as the engine is handed it.
fn api_result_debug(result: &ApiResult) -> Trace {
    debug_trace(match result {
        ApiResult::Response { status, body } => json!({
            "type": "api_result",
            "message": format!("API answered {status}"),
            "status": status,
            "body": body,
        }),
        ApiResult::Failed { reason } => json!({
            "type": "api_result",
            "message": format!("API call failed: {reason}"),
            "failed": reason,
        }),
    })
}

impl<'v> Runner<'v> {
    // ---- the turn ----

    /// The built-in variables the caller knows: `timestamp`, `user_id`, `platform`.
    fn context_variables(&mut self, ctx: &Context) {
        let vars = &mut self.session.variables;
        if let Some(now) = ctx.now {
            vars.insert("timestamp".to_owned(), now.into());
        }
        if let Some(user) = &ctx.user_id {
            vars.insert("user_id".to_owned(), user.clone().into());
        }
        if let Some(platform) = &ctx.platform {
            vars.insert("platform".to_owned(), platform.clone().into());
        }
    }

    /// `intent_confidence`: the NLU's (or the client's) confidence in the request's intent, in
    /// percent with two decimals, as Voiceflow's runtime keeps it; set before any block runs.
    fn intent_confidence(&mut self, request: &Request) {
        let confidence = match &request.kind {
            RequestKind::Intent(intent) => intent.confidence.as_ref().and_then(|c| c.as_f64()),
            RequestKind::Text(text) => self.classify(text).map(|m| m.confidence),
            _ => None,
        };
        if let Some(confidence) = confidence {
            let percent = (confidence * 10_000.0).round() / 100.0;
            if let Some(n) = serde_json::Number::from_f64(percent) {
                self.session
                    .variables
                    .insert("intent_confidence".to_owned(), Value::Number(n));
            }
        }
    }

    fn request(&mut self, request: Request) -> Result<Option<Request>, StepError> {
        // `last_event`: the client's last request, whatever its type; only its type when it is
        // larger than a variable may be (a long text is in `last_utterance` already).
        if let Ok(mut event) = serde_json::to_value(&request) {
            if size(&event) > MAX_VARIABLE_BYTES {
                event = json!({ "type": request.type_name() });
            }
            self.session
                .variables
                .insert("last_event".to_owned(), event);
        }
        self.intent_confidence(&request);
        if let RequestKind::Launch(payload) = &request.kind {
            self.launch(payload.as_ref())?;
            return Ok(Some(request));
        }
        if !matches!(request.kind, RequestKind::NoReply(_)) {
            self.session.book.no_reply = 0;
        }
        if let RequestKind::Text(text) = &request.kind {
            self.session
                .variables
                .insert("last_utterance".to_owned(), text.clone().into());
            self.heard = Some(text.clone());
        }
        match self.session.book.status.clone() {
            // Any first request starts the conversation, and so does any request after the end,
            // as in Voiceflow's runtime (its stack is empty then).
            Status::Fresh | Status::Ended => {
                self.launch(None)?;
                Ok(Some(request))
            }
            Status::ApiCall => Err(self.unexpected(&request, vec!["an API result".to_owned()])),
            Status::CustomAction => {
                let block = self.waiting_block().map_err(|_| self.state_error())?;
                match self.catch(|rt| block.resume(rt, &request)) {
                    Some(Resume::Go(next)) => self.drive(next),
                    // None of its paths: a global intent interrupts, else the action takes its
                    // default path and the request is spent (as Voiceflow's runtime does).
                    Some(Resume::NotMine) => {
                        let Block::CustomAction(action) = block else {
                            return Err(self.state_error());
                        };
                        let echo = self.resolved(&request);
                        if let Some(intent) = self.global_intent_of(&request) {
                            self.interrupt(&intent);
                        } else {
                            self.drive(action.default_next());
                        }
                        return Ok(Some(echo));
                    }
                    None => {}
                }
                Ok(Some(request))
            }
            Status::Idle | Status::Choice | Status::Capture { .. } => {
                if matches!(request.kind, RequestKind::NoReply(_)) {
                    self.no_reply();
                    return Ok(Some(request));
                }
                Ok(Some(self.user_input(request)))
            }
        }
    }

    /// Typed text, an intent, an event or a button, while the conversation waits for the user.
    fn user_input(&mut self, request: Request) -> Request {
        let echo = self.resolved(&request);
        if self.session.book.status != Status::Idle {
            let Ok(block) = self.waiting_block() else {
                self.fault(Fault::internal("the conversation waits at no block"));
                return echo;
            };
            match self.catch(|rt| block.resume(rt, &request)) {
                Some(Resume::Go(next)) => {
                    self.session.book.no_match = 0;
                    self.drive(next);
                    return echo;
                }
                Some(Resume::NotMine) => {}
                None => return echo,
            }
        }
        if let Some(intent) = self.global_intent_of(&request) {
            self.session.book.no_match = 0;
            self.interrupt(&intent);
            return echo;
        }
        self.no_match();
        echo
    }

    fn api_result(&mut self, result: &ApiResult) -> Result<(), StepError> {
        if self.session.book.status != Status::ApiCall {
            return Err(StepError::UnexpectedApiResult);
        }
        let block = self.waiting_block().map_err(|_| self.state_error())?;
        if let Some(next) = self.catch(|rt| block.resume_api(rt, result)) {
            self.drive(next);
        }
        Ok(())
    }

    fn llm_result(&mut self, result: &LlmResult) -> Result<(), StepError> {
        if self.session.book.status != Status::ApiCall {
            return Err(StepError::UnexpectedApiResult);
        }
        let block = self.waiting_block().map_err(|_| self.state_error())?;
        if !matches!(block, Block::Llm(_)) {
            return Err(StepError::UnexpectedApiResult);
        }
        if let Some(next) = self.catch(|rt| block.resume_llm(rt, result)) {
            self.drive(next);
        }
        Ok(())
    }

    /// Starts the conversation over: the flow from its start, the variables from their
    /// defaults, except the settable ones (they are the client's: a name it gave stays), and
    /// then the variables the launch itself sets.
    fn launch(&mut self, payload: Option<&LaunchPayload>) -> Result<(), StepError> {
        let mut variables = self.v.default_variables();
        for (name, value) in &self.session.variables {
            // The client's variables, and the built-ins that outlive a conversation.
            let kept = self.v.is_settable(name)
                || matches!(
                    name.as_str(),
                    "sessions" | "user_id" | "timestamp" | "platform" | "locale" | "last_event"
                );
            if kept {
                variables.insert(name.clone(), value.clone());
            }
        }
        let sessions = variables
            .get("sessions")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        variables.insert("sessions".to_owned(), (sessions + 1).into());
        if variables.get("locale").is_none_or(Value::is_null) {
            variables.insert("locale".to_owned(), "en-US".into());
        }
        if let Some(given) = payload.and_then(|p| p.variables.as_ref()) {
            for (name, value) in given {
                if !self.v.is_settable(name) {
                    return Err(StepError::VariableNotSettable { name: name.clone() });
                }
                variables.insert(name.clone(), value.clone());
            }
        }
        self.session.variables = variables;
        self.session.book.no_match = 0;
        self.session.book.no_reply = 0;
        let start = self.v.start_flow();
        self.session.stack = vec![Position {
            flow: start.id.clone(),
            block: None,
        }];
        self.drive(Next::Go(start.start.clone()));
        Ok(())
    }

    /// The no-reply handling of the choice the conversation waits at, if it has its own.
    fn own_no_reply(&self) -> Option<&'v crate::blocks::OwnNoReply> {
        if self.session.book.status != Status::Choice {
            return None;
        }
        match self.waiting_block() {
            Ok(Block::Choice(choice)) => choice.no_reply.as_ref(),
            _ => None,
        }
    }

    fn no_reply(&mut self) {
        // A choice's own prompts first, then the version's first prompt once, then its way
        // out, or the end (Voiceflow's node no-reply, counter for counter).
        if let Some(own) = self.own_no_reply() {
            self.session.book.no_reply += 1;
            let n = self.session.book.no_reply as usize;
            let global = self
                .v
                .settings()
                .no_reply
                .as_ref()
                .and_then(|c| c.prompts.first());
            let prompt = match own.prompts.get(n - 1) {
                Some(prompt) => Some(prompt),
                None if n == own.prompts.len() + 1 => global,
                None => None,
            };
            if let Some(prompt) = prompt {
                let prompt = self.render(prompt);
                self.say(Trace::text(prompt));
                self.repeat_choice();
                return;
            }
            self.session.book.no_reply = 0;
            self.drive(own.next.clone().map_or(Next::End, Next::Go));
            return;
        }
        let Some(config) = self.v.settings().no_reply.clone() else {
            return;
        };
        self.session.book.no_reply += 1;
        let n = self.session.book.no_reply as usize;
        match config.prompts.get(n - 1) {
            Some(prompt) => {
                let prompt = self.render(prompt);
                self.say(Trace::text(prompt));
                self.repeat_choice();
            }
            None => self.drive(Next::End),
        }
    }

    fn no_match(&mut self) {
        self.session.book.no_match += 1;
        // A choice's own prompts first, then its way out (Voiceflow's reprompts and else path).
        if self.session.book.status == Status::Choice
            && let Ok(Block::Choice(choice)) = self.waiting_block()
            && let Some(own) = &choice.no_match
        {
            let n = self.session.book.no_match as usize;
            let i = if own.randomize && n <= own.prompts.len() {
                self.pick(own.prompts.len())
            } else {
                n - 1
            };
            if let Some(prompt) = own.prompts.get(i) {
                let prompt = self.render(prompt);
                self.say(Trace::text(prompt));
                self.repeat_choice();
                return;
            }
            if let Some(next) = &own.next {
                self.session.book.no_match = 0;
                self.drive(Next::Go(next.clone()));
                return;
            }
        }
        let prompt = self.no_match_prompt();
        self.say(Trace::text(prompt));
        self.repeat_choice();
    }

    /// Shows a waiting choice's buttons again: clients hide them once the user has typed.
    fn repeat_choice(&mut self) {
        if self.session.book.status == Status::Choice
            && let Ok(block) = self.waiting_block()
            && let Some(Next::Wait(status)) = self.catch(|rt| block.run(rt))
        {
            self.session.book.status = status;
        }
    }

    /// A global intent interrupts: its flow runs on top of where the conversation waits, and
    /// when it finishes the conversation comes back there (the waiting block runs again).
    fn interrupt(&mut self, intent: &str) {
        let Some(flow) = self.v.global_flow(intent) else {
            self.fault(Fault::internal(format!(
                "no flow for the global intent `{intent}`"
            )));
            return;
        };
        if self.session.book.status == Status::Idle {
            self.session.stack.clear();
        }
        // Saying the intent of a flow that is already running restarts that flow where it is,
        // rather than stacking a second copy of it.
        if let Some(running) = self.session.stack.iter().position(|p| p.flow == flow.id) {
            self.session.stack.truncate(running);
        }
        if self.session.stack.len() >= MAX_STACK {
            // Keep the newest frames: an endless chain of interruptions forgets the oldest.
            self.session.stack.remove(0);
        }
        self.session.stack.push(Position {
            flow: flow.id.clone(),
            block: None,
        });
        self.drive(Next::Go(flow.start.clone()));
    }

    /// Runs blocks from `next` until the conversation waits, suspends or ends.
    fn drive(&mut self, mut next: Next) {
        loop {
            next = match next {
                Next::Go(block_id) => {
                    if self.budget == 0 {
                        let budget = self.v.settings().step_budget;
                        self.fault(Fault::new(
                            "step_budget",
                            format!("the turn ran {budget} blocks without waiting: a loop?"),
                        ));
                        return;
                    }
                    self.budget -= 1;
                    let Some(top) = self.session.stack.last_mut() else {
                        self.fault(Fault::internal("no flow to run a block in"));
                        return;
                    };
                    top.block = Some(block_id.clone());
                    let flow = top.flow.clone();
                    let Some(block) = self.v.block(&flow, &block_id) else {
                        self.fault(Fault::internal(format!("no block `{flow}/{block_id}`")));
                        return;
                    };
                    match block.run(self) {
                        Ok(next) => next,
                        Err(fault) => {
                            self.fault(fault);
                            return;
                        }
                    }
                }
                Next::Done => {
                    self.session.stack.pop();
                    let mut resume = None;
                    while let Some(parent) = self.session.stack.last() {
                        match &parent.block {
                            Some(block) => {
                                resume = Some(block.clone());
                                break;
                            }
                            None => {
                                self.session.stack.pop();
                            }
                        }
                    }
                    match resume {
                        Some(block) => Next::Go(block),
                        None => {
                            self.session.book.status = Status::Idle;
                            return;
                        }
                    }
                }
                Next::Wait(status) => {
                    self.session.book.status = status;
                    return;
                }
                Next::Suspend(effect) => {
                    self.session.book.status = Status::ApiCall;
                    self.effect = Some(effect);
                    return;
                }
                Next::Call { flow, then } => {
                    if self.session.stack.len() >= MAX_STACK {
                        self.fault(Fault::new(
                            "stack_depth",
                            format!("flows called each other more than {MAX_STACK} deep"),
                        ));
                        return;
                    }
                    let Some(callee) = self.v.flow(&flow) else {
                        self.fault(Fault::internal(format!("no flow `{flow}`")));
                        return;
                    };
                    if let Some(top) = self.session.stack.last_mut() {
                        top.block = then;
                    }
                    self.session.stack.push(Position {
                        flow: callee.id.clone(),
                        block: None,
                    });
                    Next::Go(callee.start.clone())
                }
                Next::Jump(flow) => {
                    let Some(target) = self.v.flow(&flow) else {
                        self.fault(Fault::internal(format!("no flow `{flow}`")));
                        return;
                    };
                    self.session.stack.pop();
                    self.session.stack.push(Position {
                        flow: target.id.clone(),
                        block: None,
                    });
                    Next::Go(target.start.clone())
                }
                Next::GotoIntent(intent) => {
                    let Some(flow) = self.v.global_flow(&intent) else {
                        self.fault(Fault::internal(format!(
                            "no flow for the intent `{intent}`"
                        )));
                        return;
                    };
                    self.session.stack.pop();
                    self.session.stack.push(Position {
                        flow: flow.id.clone(),
                        block: None,
                    });
                    Next::Go(flow.start.clone())
                }
                Next::End => {
                    self.say(Trace::new(TraceKind::End(None)));
                    self.session.book.status = Status::Ended;
                    self.session.stack.clear();
                    return;
                }
            };
        }
    }

    /// Ends the turn with the project's error message; the conversation can go on from its
    /// global intents.
    fn fault(&mut self, fault: Fault) {
        let message = self.v.settings().error_message.clone();
        self.say(Trace::text(message));
        self.say(Trace::new(TraceKind::Diagnostic {
            kind: parley_protocol::Diagnostic::Debug,
            payload: Some(json!({ "type": "error", "code": fault.code, "message": fault.message })),
        }));
        self.session.book.status = Status::Idle;
        self.session.stack.clear();
        self.effect = None;
    }

    /// Runs `f`, turning a fault into the error message (`None`).
    fn catch<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, Fault>) -> Option<T> {
        match f(self) {
            Ok(value) => Some(value),
            Err(fault) => {
                self.fault(fault);
                None
            }
        }
    }

    /// Adds a message to the conversation's history, dropping the oldest past the limit.
    fn remember(&mut self, role: &str, text: &str) {
        let kept = self.v.history_kept();
        if kept == 0 {
            return;
        }
        let history = &mut self.session.book.history;
        history.push(crate::session::Said {
            role: role.to_owned(),
            text: text
                .chars()
                .take(crate::session::MAX_HISTORY_CHARS)
                .collect(),
        });
        let over = history.len().saturating_sub(kept);
        history.drain(..over);
    }

    fn finish(mut self, request: Option<Request>) -> (Session, Step) {
        // What the user and the agent said this turn joins the history (only for a version
        // whose LLM blocks read it: no copies of every message on every other turn).
        let keeps_history = self.v.history_kept() > 0;
        if let Some(heard) = self.heard.take().filter(|_| keeps_history) {
            self.remember("user", &heard);
        }
        let said: Vec<String> = self
            .traces
            .iter()
            .filter(|_| keeps_history)
            .filter_map(|t| match &t.kind {
                TraceKind::Text(text) => text.message.clone(),
                _ => None,
            })
            .collect();
        for text in said {
            self.remember("assistant", &text);
        }
        // `last_response`: the last thing said this turn, if anything was.
        let said = self.traces.iter().rev().find_map(|t| match &t.kind {
            TraceKind::Text(text) => text.message.clone(),
            TraceKind::Speak(speak) => speak.message.clone(),
            _ => None,
        });
        if let Some(said) = said {
            self.session
                .variables
                .insert("last_response".to_owned(), said.into());
        }
        let waits_for_user = matches!(
            self.session.book.status,
            Status::Idle | Status::Choice | Status::Capture { .. }
        );
        // A waiting choice's own timeout, else the version's.
        let timeout = self.own_no_reply().and_then(|own| own.timeout).or(self
            .v
            .settings()
            .no_reply
            .as_ref()
            .map(|c| c.timeout));
        if waits_for_user && let Some(timeout) = timeout {
            self.traces
                .push(Trace::new(TraceKind::NoReply(NoReplyPayload {
                    timeout: timeout.into(),
                    extra: Object::new(),
                })));
        }
        (
            self.session,
            Step {
                traces: self.traces,
                effect: self.effect,
                request,
            },
        )
    }

    // ---- helpers for the dispatch ----

    fn waiting_block(&self) -> Result<&'v Block, ()> {
        let top = self.session.stack.last().ok_or(())?;
        let block = top.block.as_deref().ok_or(())?;
        self.v.block(&top.flow, block).ok_or(())
    }

    fn state_error(&self) -> StepError {
        StepError::InvalidState {
            reason: "it waits at a block that does not wait".to_owned(),
        }
    }

    fn unexpected(&self, request: &Request, expected: Vec<String>) -> StepError {
        StepError::UnexpectedRequest {
            got: request.type_name().to_owned(),
            expected,
        }
    }

    /// The request as understood: typed text the NLU recognises comes back as an `intent`
    /// request with its query, confidence and entities (as Voiceflow's runtime echoes it).
    fn resolved(&self, request: &Request) -> Request {
        let RequestKind::Text(text) = &request.kind else {
            return request.clone();
        };
        let Some(m) = self.classify(text) else {
            return request.clone();
        };
        Request {
            kind: RequestKind::Intent(IntentPayload {
                intent: IntentName {
                    name: m.intent.clone(),
                    extra: Object::new(),
                },
                query: Some(text.clone()),
                entities: Some(
                    m.slots
                        .iter()
                        .map(|(name, value)| IntentEntity {
                            name: name.clone(),
                            value: value.clone(),
                            extra: Object::new(),
                        })
                        .collect(),
                ),
                confidence: serde_json::Number::from_f64(m.confidence),
                extra: Object::new(),
            }),
            extra: request.extra.clone(),
        }
    }

    /// The global intent a request means, with its slots filled in, if any.
    fn global_intent_of(&mut self, request: &Request) -> Option<String> {
        match &request.kind {
            RequestKind::Intent(p) if self.v.global_flow(&p.intent.name).is_some() => {
                self.fill_slots_from_entities(&p.intent.name, p.entities.as_deref());
                Some(p.intent.name.clone())
            }
            RequestKind::Text(text) => {
                let m = self.classify(text)?;
                self.v.global_flow(&m.intent)?;
                self.fill_slots(&m.intent, &m.slots);
                Some(m.intent)
            }
            RequestKind::Event(p) if self.v.global_flow(&p.event.name).is_some() => {
                Some(p.event.name.clone())
            }
            RequestKind::Intent(_)
            | RequestKind::Event(_)
            | RequestKind::Launch(_)
            | RequestKind::NoReply(_)
            | RequestKind::Action { .. } => None,
        }
    }

    fn fill_slots(&mut self, intent: &str, values: &BTreeMap<String, String>) {
        for slot in self.v.slots(intent) {
            if let Some(value) = values.get(&slot.name) {
                self.session
                    .variables
                    .insert(slot.variable().to_owned(), value.clone().into());
            }
        }
    }

    /// The NLU's reading of the text, once per turn, for `f`.
    fn with_analysis<R>(&self, text: &str, f: impl FnOnce(&Analysed) -> R) -> R {
        let mut cache = self.analysed.borrow_mut();
        let analysed = match cache.take() {
            Some(cached) if cached.text == text => cached,
            _ => {
                let nlu = self.v.nlu();
                let analysis = nlu.analyse(text);
                let best = nlu.best(&analysis, None);
                Analysed {
                    text: text.to_owned(),
                    analysis,
                    best,
                }
            }
        };
        f(cache.insert(analysed))
    }

    /// The `debug` trace of what the NLU read in the text: every intent's score, the match
    /// (none below the threshold) and its slots.
    fn nlu_debug(&self, text: &str) -> Trace {
        let nlu = self.v.nlu();
        let (scores, threshold) = self.with_analysis(text, |a| nlu.scores(&a.analysis));
        let best = self.classify(text);
        let message = match &best {
            Some(m) => format!("NLU: {} ({})", m.intent, m.confidence),
            None => format!("NLU: no match (threshold {threshold})"),
        };
        debug_trace(json!({
            "type": "nlu",
            "message": message,
            "utterance": text,
            "intents": scores
                .iter()
                .map(|(name, confidence)| json!({ "name": name, "confidence": confidence }))
                .collect::<Vec<_>>(),
            "threshold": threshold,
            "match": best.as_ref().map(|m| json!({
                "intent": m.intent,
                "confidence": m.confidence,
                "slots": m.slots,
            })),
        }))
    }

    /// What the NLU makes of the text, over all intents; computed once per turn.
    fn classify(&self, text: &str) -> Option<crate::Match> {
        self.with_analysis(text, |a| a.best.clone())
    }

    // ---- what blocks use ----

    pub(crate) fn say(&mut self, trace: Trace) {
        self.traces.push(trace);
    }

    /// Says a model's answer: a text trace marked `ai`, as Voiceflow marks its AI steps' text.
    pub(crate) fn say_ai(&mut self, text: &str) {
        let mut trace = Trace::text(text);
        if let TraceKind::Text(payload) = &mut trace.kind {
            payload.ai = Some(true);
        }
        self.say(trace);
    }

    /// The conversation's last `n` messages, as chat messages.
    pub(crate) fn history(&self, n: usize) -> Vec<crate::turn::LlmMessage> {
        let history = &self.session.book.history;
        history[history.len().saturating_sub(n)..]
            .iter()
            .map(|said| crate::turn::LlmMessage {
                role: said.role.clone(),
                content: said.text.clone(),
            })
            .collect()
    }

    /// Whether a custom action of this type waits for the client whatever its own setting
    /// (`config.stopAll`, `config.stopTypes`).
    pub(crate) fn stops_at(&self, action: &str) -> bool {
        self.stop_all || self.stop_types.iter().any(|t| t == action)
    }

    pub(crate) fn status(&self) -> Status {
        self.session.book.status.clone()
    }

    /// A uniform index below `n`, from the conversation's seed.
    pub(crate) fn pick(&mut self, n: usize) -> usize {
        if n <= 1 { 0 } else { self.session.pick(n) }
    }

    /// One of `paths` not taken since the block `id` last took them all (then any of them, and
    /// the count starts again): Voiceflow's no-duplicates random step.
    pub(crate) fn pick_unused(&mut self, id: &str, paths: &[String]) -> usize {
        let used = self.session.book.randoms.remove(id).unwrap_or_default();
        let mut open: Vec<usize> = (0..paths.len())
            .filter(|&i| !used.contains(&paths[i]))
            .collect();
        let mut used = used;
        if open.is_empty() {
            open = (0..paths.len()).collect();
            used.clear();
        }
        let i = open[self.pick(open.len())];
        used.push(paths[i].clone());
        self.session.book.randoms.insert(id.to_owned(), used);
        i
    }

    /// Fills `{variable}` placeholders.
    pub(crate) fn render(&self, template: &str) -> String {
        crate::template::render(template, &self.session.variables, false)
    }

    /// Fills `{variable}` placeholders with URL-encoded values.
    pub(crate) fn render_url(&self, template: &str) -> String {
        crate::template::render(template, &self.session.variables, true)
    }

    /// Fills placeholders in every string of a JSON value.
    pub(crate) fn render_json(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.render(s)),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.render_json(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.render_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// A seed for a JavaScript evaluation's `Math.random`, from the conversation's generator
    /// (Rhai has no random functions: its evaluations draw nothing, so its states stay as
    /// they were).
    fn script_seed(&mut self) -> u64 {
        match self.v.expressions().language() {
            crate::project::ExpressionLanguage::Javascript => self.session.pick(usize::MAX) as u64,
            crate::project::ExpressionLanguage::Rhai => 0,
        }
    }

    /// Whether the version's expressions are JavaScript (an imported Voiceflow project).
    pub(crate) fn javascript(&self) -> bool {
        self.v.expressions().language() == crate::project::ExpressionLanguage::Javascript
    }

    pub(crate) fn evaluate(&mut self, expression: &str) -> Result<Value, Fault> {
        let seed = self.script_seed();
        self.v
            .expressions()
            .evaluate(expression, &self.session.variables, seed)
            .map_err(|e| Fault::new("expression", e))
    }

    pub(crate) fn condition(&mut self, expression: &str) -> Result<bool, Fault> {
        let seed = self.script_seed();
        self.v
            .expressions()
            .condition(expression, &self.session.variables, seed)
            .map_err(|e| Fault::new("expression", e))
    }

    /// Runs a code block's JavaScript: its changes to the variables are kept; the answer is
    /// the value it returned (with `paths`).
    pub(crate) fn run_code(&mut self, code: &str, paths: bool) -> Result<Value, String> {
        let seed = self.script_seed();
        let run = crate::js::run_code(code, &self.session.variables, seed, paths)?;
        for (name, value) in run.changed {
            self.set_variable(&name, value).map_err(|f| f.message)?;
        }
        Ok(run.returned)
    }

    /// A `debug` trace that tells what happened without ending the turn (a failed code block,
    /// a node that cannot run), as Voiceflow's runtime reports them.
    pub(crate) fn debug(&mut self, payload: Value) {
        self.say(Trace::new(TraceKind::Diagnostic {
            kind: parley_protocol::Diagnostic::Debug,
            payload: Some(payload),
        }));
    }

    /// Voiceflow's set step (JavaScript): its assignments run as one script, each seeing the
    /// ones before it, so one that throws leaves every variable as it was; the error is the
    /// inner `Err`, its message.
    pub(crate) fn assign_all(
        &mut self,
        assignments: &[crate::blocks::Assignment],
    ) -> Result<Result<(), String>, Fault> {
        let mut scratch = self.session.variables.clone();
        let mut values = Vec::with_capacity(assignments.len());
        for a in assignments {
            let seed = self.script_seed();
            match self.v.expressions().evaluate(&a.value, &scratch, seed) {
                Ok(value) => {
                    scratch.insert(a.variable.clone(), value.clone());
                    values.push((a.variable.as_str(), value));
                }
                Err(e) => return Ok(Err(e)),
            }
        }
        for (name, value) in values {
            self.set_variable(name, value)?;
        }
        Ok(Ok(()))
    }

    pub(crate) fn set_variable(&mut self, name: &str, value: Value) -> Result<(), Fault> {
        if size(&value) > MAX_VARIABLE_BYTES {
            return Err(Fault::new(
                "variable_too_large",
                format!("`{name}` would hold more than {MAX_VARIABLE_BYTES} bytes"),
            ));
        }
        let previous = self.session.variables.insert(name.to_owned(), value);
        let total: usize = self.session.variables.values().map(size).sum();
        if total > MAX_VARIABLES_BYTES {
            match previous {
                Some(previous) => self.session.variables.insert(name.to_owned(), previous),
                None => self.session.variables.remove(name),
            };
            return Err(Fault::new(
                "variables_too_large",
                format!("the variables would hold more than {MAX_VARIABLES_BYTES} bytes"),
            ));
        }
        Ok(())
    }

    pub(crate) fn no_match_prompt(&self) -> String {
        let prompts = &self.v.settings().no_match;
        let n =
            (self.session.book.no_match.max(1) as usize - 1).min(prompts.len().saturating_sub(1));
        prompts.get(n).map(|p| self.render(p)).unwrap_or_default()
    }

    /// The value of an entity found in the text.
    pub(crate) fn extract(&self, entity: &str, text: &str) -> Option<String> {
        self.v.nlu().extract(entity, text)
    }

    /// Whether the request means a global intent that leads out of the current flow (without
    /// acting on it). An intent of the flow the user is in already is not an interruption.
    pub(crate) fn means_other_global_intent(&self, request: &Request) -> bool {
        let current = self.session.stack.last().map(|p| p.flow.as_str());
        let leads_out = |intent: &str| {
            self.v
                .global_flow(intent)
                .is_some_and(|flow| Some(flow.id.as_str()) != current)
        };
        match &request.kind {
            RequestKind::Intent(p) => leads_out(&p.intent.name),
            RequestKind::Text(text) => self.classify(text).is_some_and(|m| leads_out(&m.intent)),
            RequestKind::Event(p) => leads_out(&p.event.name),
            RequestKind::Launch(_) | RequestKind::NoReply(_) | RequestKind::Action { .. } => false,
        }
    }

    /// Classifies the text among some intents only; fills the winner's slots.
    pub(crate) fn classify_among(&mut self, text: &str, intents: &[&str]) -> Option<String> {
        if intents.is_empty() {
            return None;
        }
        let nlu = self.v.nlu();
        let m = self.with_analysis(text, |a| nlu.best(&a.analysis, Some(intents)))?;
        self.fill_slots(&m.intent, &m.slots);
        Some(m.intent)
    }

    /// Fills an intent's slots from the entities an `intent` request carried.
    pub(crate) fn fill_slots_from_entities(
        &mut self,
        intent: &str,
        entities: Option<&[IntentEntity]>,
    ) {
        let values: BTreeMap<String, String> = entities
            .unwrap_or_default()
            .iter()
            .map(|e| (e.name.clone(), e.value.clone()))
            .collect();
        self.fill_slots(intent, &values);
    }
}

/// The state of a conversation that has not started: what `GET /interact/state` answers.
pub fn initial_state(version: &CompiledVersion, seed: u64) -> State {
    Session::fresh(version, seed).to_state()
}

/// Checks a state against the version without taking a turn (e.g. a state an admin `PUT`s).
pub fn check_state(version: &CompiledVersion, state: &State) -> Result<(), StepError> {
    Session::from_state(version, state).map(|_| ())
}

/// Sets variables outside a turn: what the stateful API's `state.variables` and `PATCH
/// …/variables` do. A client (`only_settable`) may set the variables the project declares
/// settable; an admin may set any declared variable. With no state, a fresh one is made.
pub fn set_variables(
    version: &CompiledVersion,
    state: Option<&State>,
    variables: &Object,
    only_settable: bool,
    seed: u64,
) -> Result<State, StepError> {
    let mut session = match state {
        Some(state) => Session::from_state(version, state)?,
        None => Session::fresh(version, seed),
    };
    for (name, value) in variables {
        let allowed = if only_settable {
            version.is_settable(name)
        } else {
            version.has_variable(name)
        };
        if !allowed {
            return Err(StepError::VariableNotSettable { name: name.clone() });
        }
        session.variables.insert(name.clone(), value.clone());
    }
    Ok(session.to_state())
}

/// A value's size as JSON, in bytes.
fn size(v: &Value) -> usize {
    serde_json::to_string(v).map_or(usize::MAX, |s| s.len())
}
