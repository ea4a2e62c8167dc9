//! The engine's view of a conversation, and its mapping to and from the wire `State`.
//!
//! On the wire a state is `{ stack, storage, variables }` (Voiceflow's shape). The engine keeps
//! where each flow is in `stack` (`diagramID` = flow id, `nodeID` = block id), its own
//! bookkeeping under `storage.parley`, and the global variables in `variables`. A state that
//! comes from a client is checked against the version before it is used: it may be stale
//! (another version), damaged or forged, and none of those may panic.

use std::collections::BTreeMap;

use parley_protocol::{Frame, Object, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::compile::CompiledVersion;
use crate::turn::StepError;

/// Where a flow is: its id and, for a flow that called another, the block to continue at when
/// the callee returns; for the top frame, the block the conversation waits at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) flow: String,
    pub(crate) block: Option<String>,
}

/// Which input is legal next. The variant says what the conversation waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Status {
    /// Not launched yet: any request starts it.
    Fresh,
    /// The flows ran to their end: typed text goes to the global intents.
    Idle,
    /// At a choice (or a card with buttons): a button, an intent or typed text.
    Choice,
    /// At a capture: the user's reply. `attempts` counts the replies that did not fit.
    Capture { attempts: u32 },
    /// At a custom action: one of its paths.
    CustomAction,
    /// At an API call: only the call's result resumes it.
    ApiCall,
    /// The conversation is over: the next request starts a new one (as in Voiceflow's runtime).
    Ended,
}

/// A `u64` as 16 hex digits.
mod hex_u64 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(crate) fn serialize<S: Serializer>(n: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{n:016x}"))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = String::deserialize(d)?;
        if text.len() != 16 {
            return Err(D::Error::custom("the seed is not 16 hex digits"));
        }
        u64::from_str_radix(&text, 16).map_err(D::Error::custom)
    }
}

/// The engine's bookkeeping, kept in `storage.parley`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Bookkeeping {
    pub(crate) status: Status,
    /// The state of the random generator: random blocks and text variants draw from it, so a
    /// stateless conversation is deterministic. Written as 16 hex digits: as a JSON number it
    /// would lose bits in every JavaScript client (a double holds 53), and the state's signature
    /// with them.
    #[serde(with = "hex_u64")]
    pub(crate) seed: u64,
    /// No-matches in a row, to pick the next no-match prompt.
    pub(crate) no_match: u32,
    /// No-replies in a row.
    pub(crate) no_reply: u32,
    /// Turns taken.
    pub(crate) turn: u64,
    /// The conversation's last messages, the user's and the agent's, oldest first: what an
    /// LLM block sends as context (as many as the version's LLM blocks ask for, at most 20,
    /// each cut to [`MAX_HISTORY_CHARS`]). Absent from states made before it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) history: Vec<Said>,
    /// The paths each no-duplicates random block has taken since it last took them all, by
    /// block id (Voiceflow's `random: 2`). Absent from states made before it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) randoms: BTreeMap<String, Vec<String>>,
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Said {
    /// `user` or `assistant`.
    pub(crate) role: String,
    pub(crate) text: String,
}

/// How much of a message the history keeps, in characters.
pub(crate) const MAX_HISTORY_CHARS: usize = 1_000;

/// A conversation in the engine's terms.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Session {
    pub(crate) stack: Vec<Position>,
    pub(crate) book: Bookkeeping,
    pub(crate) variables: BTreeMap<String, Value>,
}

const STORAGE_KEY: &str = "parley";

impl Session {
    /// A conversation that has not started, with the version's default variables.
    pub(crate) fn fresh(version: &CompiledVersion, seed: u64) -> Session {
        Session {
            stack: Vec::new(),
            book: Bookkeeping {
                status: Status::Fresh,
                seed,
                no_match: 0,
                no_reply: 0,
                turn: 0,
                history: Vec::new(),
                randoms: BTreeMap::new(),
            },
            variables: version.default_variables(),
        }
    }

    /// Reads a wire state, checking everything the engine will rely on.
    pub(crate) fn from_state(
        version: &CompiledVersion,
        state: &State,
    ) -> Result<Session, StepError> {
        let bad = |reason: String| StepError::InvalidState { reason };
        let book = state.storage.get(STORAGE_KEY).ok_or_else(|| {
            bad("it has no `storage.parley` (not a state of this runtime)".into())
        })?;
        let book: Bookkeeping = serde_json::from_value(book.clone())
            .map_err(|e| bad(format!("`storage.parley` is malformed: {e}")))?;
        let mut stack = Vec::with_capacity(state.stack.len());
        for (i, frame) in state.stack.iter().enumerate() {
            let flow = frame
                .diagram_id
                .as_deref()
                .ok_or_else(|| bad(format!("frame {i} names no flow")))?;
            if !version.has_flow(flow) {
                return Err(bad(format!("frame {i} names the unknown flow `{flow}`")));
            }
            if let Some(block) = &frame.node_id
                && !version.has_block(flow, block)
            {
                return Err(bad(format!(
                    "frame {i} names the unknown block `{flow}/{block}`"
                )));
            }
            stack.push(Position {
                flow: flow.to_owned(),
                block: frame.node_id.clone(),
            });
        }
        let waits = !matches!(book.status, Status::Fresh | Status::Idle | Status::Ended);
        if waits {
            let top = stack
                .last()
                .and_then(|p| p.block.as_deref().map(|b| (p.flow.as_str(), b)))
                .ok_or_else(|| bad("it waits for input but says at no block".into()))?;
            if !version.block_waits_as(top.0, top.1, &book.status) {
                return Err(bad(format!(
                    "it waits at `{}/{}`, which is not a block that waits like that",
                    top.0, top.1
                )));
            }
        }
        let mut variables = BTreeMap::new();
        for (name, value) in &state.variables {
            if !version.has_variable(name) {
                return Err(bad(format!("it sets the undeclared variable `{name}`")));
            }
            variables.insert(name.clone(), value.clone());
        }
        // Variables declared after this state was written start at their defaults.
        for (name, value) in version.default_variables() {
            variables.entry(name).or_insert(value);
        }
        Ok(Session {
            stack,
            book,
            variables,
        })
    }

    /// Writes the wire state.
    pub(crate) fn to_state(&self) -> State {
        let stack = self
            .stack
            .iter()
            .map(|p| Frame {
                diagram_id: Some(p.flow.clone()),
                node_id: p.block.clone(),
                ..Frame::default()
            })
            .collect();
        let mut storage = Object::new();
        storage.insert(
            STORAGE_KEY.to_owned(),
            serde_json::to_value(&self.book).unwrap_or(Value::Null),
        );
        State {
            stack,
            storage,
            variables: self.variables.clone().into_iter().collect(),
            extra: Object::new(),
        }
    }

    /// The next number from the conversation's generator (splitmix64): deterministic, and
    /// carried in the state.
    pub(crate) fn next_random(&mut self) -> u64 {
        self.book.seed = self.book.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.book.seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform index below `n` (`n` > 0).
    pub(crate) fn pick(&mut self, n: usize) -> usize {
        (self.next_random() % n.max(1) as u64) as usize
    }
}
