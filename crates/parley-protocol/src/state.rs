//! The conversation state of the stateless flavour.

use serde::{Deserialize, Serialize};

use crate::Object;

/// `{ "stack": [Frame], "storage": {…}, "variables": {…} }`.
///
/// Clients treat it as opaque (they may read `variables`) and send it back exactly as received;
/// fields this crate does not model (a runtime's signature, say) are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub stack: Vec<Frame>,
    pub storage: Object,
    pub variables: Object,
    #[serde(flatten)]
    pub extra: Object,
}

/// One frame of the stack: which program (flow) the conversation is in, at which node, and that
/// flow's local variables and storage.
///
/// Voiceflow's runtime writes the program as `diagramID` and reads the older `programID` too;
/// both are kept as they came.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    #[serde(rename = "diagramID", default, skip_serializing_if = "Option::is_none")]
    pub diagram_id: Option<String>,
    #[serde(rename = "programID", default, skip_serializing_if = "Option::is_none")]
    pub program_id: Option<String>,
    #[serde(rename = "nodeID", default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<Object>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<Object>,
    #[serde(flatten)]
    pub extra: Object,
}
