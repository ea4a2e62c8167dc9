use parley_protocol::{Dimensions, Object, Trace, TraceKind, VisualPayload};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::runtime::{Fault, Next, Runner};
use crate::validate::Checker;

/// Shows an image. Its size, when given, lets the client reserve the space before it loads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageBlock {
    pub id: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl ImageBlock {
    pub(crate) fn check(&self, cx: &mut Checker) {
        cx.url("url", &self.url);
        if self.width.is_some() != self.height.is_some() {
            cx.error("width", "give both width and height, or neither");
        }
        cx.link("next", self.next.as_deref());
    }

    pub(crate) fn run(&self, rt: &mut Runner) -> Result<Next, Fault> {
        let dimensions = match (self.width, self.height) {
            (Some(width), Some(height)) => Some(Dimensions {
                width: width.into(),
                height: height.into(),
                extra: Object::new(),
            }),
            _ => None,
        };
        rt.say(Trace::new(TraceKind::Visual(VisualPayload {
            visual_type: Some("image".to_owned()),
            image: Some(rt.render(&self.url)),
            dimensions,
            ..VisualPayload::default()
        })));
        Ok(Next::follow(&self.next))
    }
}
