//! The block kinds: one file each, behind the [`Block`] enum. Each file holds the block's
//! definition (its part of the project format), its checks and what it does when it runs.
//!
//! Every dispatch over block kinds is one `match` here, without a wildcard arm, so that a new
//! kind cannot be forgotten anywhere.

mod api_call;
mod capture;
mod card;
mod carousel;
mod choice;
mod code;
mod condition;
mod custom_action;
mod end;
mod goto_flow;
mod goto_intent;
mod image;
mod jump;
mod llm;
mod random;
mod return_;
mod set;
mod speak;
mod text;
mod unsupported;

pub use api_call::{ApiCallBlock, Mapping};
pub use capture::CaptureBlock;
pub use card::{ButtonDef, CardBlock, CardDef};
pub use carousel::CarouselBlock;
pub use choice::{ChoiceBlock, OwnNoReply, Reprompts};
pub use code::{CodeBlock, CodePath};
pub use condition::{Branch, ConditionBlock};
pub use custom_action::{ActionPath, CustomActionBlock};
pub use end::EndBlock;
pub use goto_flow::GotoFlowBlock;
pub use goto_intent::GotoIntentBlock;
pub use image::ImageBlock;
pub use jump::JumpBlock;
pub use llm::LlmBlock;
pub use random::RandomBlock;
pub use return_::ReturnBlock;
pub use set::{Assignment, SetBlock};
pub use speak::SpeakBlock;
pub use text::TextBlock;
pub use unsupported::UnsupportedBlock;

use parley_protocol::Request;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::runtime::{Fault, Next, Runner};
use crate::session::Status;
use crate::turn::{ApiResult, LlmResult};
use crate::validate::Checker;

/// A block of a flow. `type` says which kind; `id` is unique within the flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Text(TextBlock),
    Speak(SpeakBlock),
    Image(ImageBlock),
    Card(CardBlock),
    Carousel(CarouselBlock),
    Choice(ChoiceBlock),
    Capture(CaptureBlock),
    Condition(ConditionBlock),
    Set(SetBlock),
    Random(RandomBlock),
    ApiCall(ApiCallBlock),
    Llm(LlmBlock),
    CustomAction(CustomActionBlock),
    GotoFlow(GotoFlowBlock),
    Return(ReturnBlock),
    GotoIntent(GotoIntentBlock),
    End(EndBlock),
    Code(CodeBlock),
    Unsupported(UnsupportedBlock),
    Jump(JumpBlock),
}

/// What a waiting block says about the user's request.
#[derive(Debug)]
pub(crate) enum Resume {
    /// It handled the request: go on.
    Go(Next),
    /// It is not for this block: try the global intents, then no-match.
    NotMine,
}

impl Block {
    pub fn id(&self) -> &str {
        match self {
            Block::Text(b) => &b.id,
            Block::Speak(b) => &b.id,
            Block::Image(b) => &b.id,
            Block::Card(b) => &b.id,
            Block::Carousel(b) => &b.id,
            Block::Choice(b) => &b.id,
            Block::Capture(b) => &b.id,
            Block::Condition(b) => &b.id,
            Block::Set(b) => &b.id,
            Block::Random(b) => &b.id,
            Block::ApiCall(b) => &b.id,
            Block::Llm(b) => &b.id,
            Block::CustomAction(b) => &b.id,
            Block::GotoFlow(b) => &b.id,
            Block::Return(b) => &b.id,
            Block::GotoIntent(b) => &b.id,
            Block::End(b) => &b.id,
            Block::Code(b) => &b.id,
            Block::Unsupported(b) => &b.id,
            Block::Jump(b) => &b.id,
        }
    }

    /// Checks the block's own fields and reports its links, variables, expressions, intents and
    /// flows to the checker.
    pub(crate) fn check(&self, cx: &mut Checker) {
        match self {
            Block::Text(b) => b.check(cx),
            Block::Speak(b) => b.check(cx),
            Block::Image(b) => b.check(cx),
            Block::Card(b) => b.check(cx),
            Block::Carousel(b) => b.check(cx),
            Block::Choice(b) => b.check(cx),
            Block::Capture(b) => b.check(cx),
            Block::Condition(b) => b.check(cx),
            Block::Set(b) => b.check(cx),
            Block::Random(b) => b.check(cx),
            Block::ApiCall(b) => b.check(cx),
            Block::Llm(b) => b.check(cx),
            Block::CustomAction(b) => b.check(cx),
            Block::GotoFlow(b) => b.check(cx),
            Block::Return(b) => b.check(cx),
            Block::GotoIntent(b) => b.check(cx),
            Block::End(b) => b.check(cx),
            Block::Code(b) => b.check(cx),
            Block::Unsupported(b) => b.check(cx),
            Block::Jump(b) => b.check(cx),
        }
    }

    /// Runs the block as the conversation reaches it.
    pub(crate) fn run(&self, rt: &mut Runner) -> Result<Next, Fault> {
        match self {
            Block::Text(b) => b.run(rt),
            Block::Speak(b) => b.run(rt),
            Block::Image(b) => b.run(rt),
            Block::Card(b) => b.run(rt),
            Block::Carousel(b) => b.run(rt),
            Block::Choice(b) => b.run(rt),
            Block::Capture(b) => b.run(rt),
            Block::Condition(b) => b.run(rt),
            Block::Set(b) => b.run(rt),
            Block::Random(b) => b.run(rt),
            Block::ApiCall(b) => b.run(rt),
            Block::Llm(b) => b.run(rt),
            Block::CustomAction(b) => b.run(rt),
            Block::GotoFlow(b) => b.run(rt),
            Block::Return(b) => b.run(rt),
            Block::GotoIntent(b) => b.run(rt),
            Block::End(b) => b.run(rt),
            Block::Code(b) => b.run(rt),
            Block::Unsupported(b) => b.run(rt),
            Block::Jump(b) => b.run(rt),
        }
    }

    /// Offers the user's request to the block the conversation waits at.
    pub(crate) fn resume(&self, rt: &mut Runner, request: &Request) -> Result<Resume, Fault> {
        match self {
            Block::Card(b) => b.resume(rt, request),
            Block::Carousel(b) => b.resume(rt, request),
            Block::Choice(b) => b.resume(rt, request),
            Block::Capture(b) => b.resume(rt, request),
            Block::CustomAction(b) => b.resume(request),
            Block::Text(_)
            | Block::Speak(_)
            | Block::Image(_)
            | Block::Condition(_)
            | Block::Set(_)
            | Block::Random(_)
            | Block::ApiCall(_)
            | Block::Llm(_)
            | Block::GotoFlow(_)
            | Block::Return(_)
            | Block::GotoIntent(_)
            | Block::End(_)
            | Block::Code(_)
            | Block::Unsupported(_)
            | Block::Jump(_) => Ok(Resume::NotMine),
        }
    }

    /// Gives an API call's result to the block that made it.
    pub(crate) fn resume_api(&self, rt: &mut Runner, result: &ApiResult) -> Result<Next, Fault> {
        match self {
            Block::ApiCall(b) => b.resume(rt, result),
            Block::Text(_)
            | Block::Speak(_)
            | Block::Image(_)
            | Block::Card(_)
            | Block::Carousel(_)
            | Block::Choice(_)
            | Block::Capture(_)
            | Block::Condition(_)
            | Block::Set(_)
            | Block::Random(_)
            | Block::Llm(_)
            | Block::CustomAction(_)
            | Block::GotoFlow(_)
            | Block::Return(_)
            | Block::GotoIntent(_)
            | Block::End(_)
            | Block::Code(_)
            | Block::Unsupported(_)
            | Block::Jump(_) => Err(Fault::internal(
                "an API result reached a block that made no call",
            )),
        }
    }

    /// Gives a model's answer to the LLM block that asked.
    pub(crate) fn resume_llm(&self, rt: &mut Runner, result: &LlmResult) -> Result<Next, Fault> {
        match self {
            Block::Llm(b) => b.resume(rt, result),
            Block::Text(_)
            | Block::Speak(_)
            | Block::Image(_)
            | Block::Card(_)
            | Block::Carousel(_)
            | Block::Choice(_)
            | Block::Capture(_)
            | Block::Condition(_)
            | Block::Set(_)
            | Block::Random(_)
            | Block::ApiCall(_)
            | Block::CustomAction(_)
            | Block::GotoFlow(_)
            | Block::Return(_)
            | Block::GotoIntent(_)
            | Block::End(_)
            | Block::Code(_)
            | Block::Unsupported(_)
            | Block::Jump(_) => Err(Fault::internal(
                "a model's answer reached a block that asked none",
            )),
        }
    }

    /// Whether a conversation may wait at this block with this status (a check of client-sent
    /// state).
    pub(crate) fn waits_as(&self, status: &Status) -> bool {
        match self {
            Block::Choice(_) | Block::Card(_) | Block::Carousel(_) => *status == Status::Choice,
            Block::Capture(_) => matches!(status, Status::Capture { .. }),
            Block::CustomAction(_) => *status == Status::CustomAction,
            Block::ApiCall(_) | Block::Llm(_) => *status == Status::ApiCall,
            Block::Text(_)
            | Block::Speak(_)
            | Block::Image(_)
            | Block::Condition(_)
            | Block::Set(_)
            | Block::Random(_)
            | Block::GotoFlow(_)
            | Block::Return(_)
            | Block::GotoIntent(_)
            | Block::End(_)
            | Block::Code(_)
            | Block::Unsupported(_)
            | Block::Jump(_) => false,
        }
    }
}
