//! What a turn's traces mean for the chat window: the bubbles to reveal one by one, the
//! quick-reply buttons, the no-reply timer, the end of the conversation and the custom actions
//! for the host page. Plain Rust, tested natively; components only render it.

use parley_protocol::{Button, Card, Request, Trace, TraceKind, strip_ssml};

use crate::rich_text::{Block, from_markdown, from_slate};
use crate::safety::{safe_audio, safe_image};

/// A button the user can click: its label, and the request it sends.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ButtonView {
    pub label: String,
    pub request: Request,
}

/// A card, alone or in a carousel.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CardView {
    pub title: String,
    pub description: Vec<Block>,
    pub image: Option<String>,
    pub buttons: Vec<ButtonView>,
}

/// One bubble of the bot's.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Bubble {
    Text(Vec<Block>),
    /// A `speak` trace: its text without SSML, and its audio when it has a safe one.
    Speech {
        text: String,
        audio: Option<String>,
    },
    Image {
        src: String,
        width: Option<u32>,
        height: Option<u32>,
    },
    Card(CardView),
    Carousel(Vec<CardView>),
}

/// A bubble and the typing delay before it (the trace's `delay`, when it gives one).
#[derive(Debug, Clone, PartialEq)]
pub struct Reveal {
    pub bubble: Bubble,
    pub delay_ms: Option<f64>,
}

/// Everything a turn asks of the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TurnView {
    pub reveals: Vec<Reveal>,
    /// Quick replies under the last message (the last `choice` of the turn wins).
    pub choices: Vec<ButtonView>,
    /// Seconds of silence after which the widget sends `no-reply`.
    pub no_reply_secs: Option<f64>,
    /// The conversation is over: close the input, offer a new chat.
    pub ended: bool,
    /// Custom actions, for the host page to answer.
    pub actions: Vec<Trace>,
    /// Traces not shown: diagnostics, and types this widget does not know or that were
    /// malformed (kept for the console).
    pub skipped: Vec<String>,
}

fn buttons(buttons: &[Button]) -> Vec<ButtonView> {
    buttons
        .iter()
        .filter(|b| !b.name.trim().is_empty())
        .map(|b| ButtonView {
            label: b.name.clone(),
            request: b.request.clone(),
        })
        .collect()
}

fn card(card: &Card) -> CardView {
    let description = card.description.as_ref();
    CardView {
        title: card.title.clone().unwrap_or_default(),
        description: match description.and_then(|d| d.slate.as_deref()) {
            Some(slate) if !slate.is_empty() => from_slate(slate),
            _ => from_markdown(
                description
                    .and_then(|d| d.text.as_deref())
                    .unwrap_or_default(),
            ),
        },
        image: card.image_url.as_deref().and_then(safe_image),
        buttons: buttons(card.buttons.as_deref().unwrap_or_default()),
    }
}

fn dimension(n: &serde_json::Number) -> Option<u32> {
    n.as_f64()
        .filter(|v| v.is_finite() && *v > 0.0 && *v < 100_000.0)
        .map(|v| v.round() as u32)
}

/// Reads a turn.
pub fn read_turn(traces: &[Trace]) -> TurnView {
    let mut view = TurnView::default();
    for trace in traces {
        let bubble = match &trace.kind {
            TraceKind::Text(p) => {
                let blocks = match p.slate.as_ref().and_then(|s| s.content.as_deref()) {
                    Some(content) if !content.is_empty() => from_slate(content),
                    _ => from_markdown(p.message.as_deref().unwrap_or_default()),
                };
                (!blocks.is_empty()).then(|| (Bubble::Text(blocks), p.delay_ms()))
            }
            TraceKind::Speak(p) => {
                let text = strip_ssml(p.message.as_deref().unwrap_or_default());
                let audio = p.src.as_deref().and_then(safe_audio);
                (!text.is_empty() || audio.is_some())
                    .then_some((Bubble::Speech { text, audio }, None))
            }
            TraceKind::Visual(p) => {
                let src = p.image.as_deref().and_then(safe_image);
                let (width, height) = match &p.dimensions {
                    Some(d) => (dimension(&d.width), dimension(&d.height)),
                    None => (None, None),
                };
                match src {
                    Some(src) => Some((Bubble::Image { src, width, height }, None)),
                    None => {
                        view.skipped.push("visual (no safe image URL)".to_owned());
                        None
                    }
                }
            }
            TraceKind::CardV2(c) => Some((Bubble::Card(card(c)), None)),
            TraceKind::Carousel(p) => {
                let cards: Vec<CardView> = p.cards.iter().map(card).collect();
                (!cards.is_empty()).then_some((Bubble::Carousel(cards), None))
            }
            TraceKind::Choice(p) => {
                view.choices = buttons(&p.buttons);
                None
            }
            TraceKind::NoReply(p) => {
                view.no_reply_secs = p.timeout_secs();
                None
            }
            TraceKind::End(_) => {
                view.ended = true;
                None
            }
            TraceKind::Custom { kind, .. } => {
                if trace.action_paths().is_empty() {
                    view.skipped.push(kind.clone());
                } else {
                    view.actions.push(trace.clone());
                }
                None
            }
            TraceKind::Diagnostic { kind, .. } => {
                view.skipped.push(kind.as_str().to_owned());
                None
            }
            TraceKind::Invalid { kind, reason, .. } => {
                view.skipped.push(format!("{kind} (malformed: {reason})"));
                None
            }
        };
        if let Some((bubble, delay_ms)) = bubble {
            view.reveals.push(Reveal { bubble, delay_ms });
        }
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rich_text::plain_text;

    fn turn(json: serde_json::Value) -> TurnView {
        read_turn(&serde_json::from_value::<Vec<Trace>>(json).unwrap())
    }

    #[test]
    fn a_demo_turn() {
        let view = turn(serde_json::json!([
            { "type": "text", "payload": { "message": "Hi **there**", "delay": 500 } },
            { "type": "visual", "payload": { "visualType": "image", "image": "https://x.example/a.png", "dimensions": { "width": 480, "height": 270.4 } } },
            { "type": "speak", "payload": { "message": "<speak>Open <break/>daily</speak>", "src": "javascript:alert(1)" } },
            { "type": "choice", "payload": { "buttons": [
                { "name": "Order", "request": { "type": "path-a-0", "payload": { "label": "Order" } } },
                { "name": " ", "request": { "type": "path-a-1" } }
            ] } },
            { "type": "no-reply", "payload": { "timeout": 60 } },
            { "type": "debug", "payload": { "message": "x" } },
            { "type": "brandNewThing", "payload": {} },
            { "type": "handoff", "payload": {}, "paths": [{ "event": { "type": "done" } }], "defaultPath": 0 },
            { "type": "carousel", "payload": { "cards": "oops" } }
        ]));
        assert_eq!(view.reveals.len(), 3);
        let Bubble::Text(blocks) = &view.reveals[0].bubble else {
            panic!()
        };
        assert_eq!(plain_text(blocks), "Hi there");
        assert_eq!(view.reveals[0].delay_ms, Some(500.0));
        assert_eq!(
            view.reveals[1].bubble,
            Bubble::Image {
                src: "https://x.example/a.png".into(),
                width: Some(480),
                height: Some(270)
            }
        );
        assert_eq!(
            view.reveals[2].bubble,
            Bubble::Speech {
                text: "Open daily".into(),
                audio: None
            }
        );
        assert_eq!(view.choices.len(), 1, "a button without a label is dropped");
        assert_eq!(view.choices[0].request.type_name(), "path-a-0");
        assert_eq!(view.no_reply_secs, Some(60.0));
        assert_eq!(view.actions.len(), 1);
        assert!(!view.ended);
        assert_eq!(view.skipped.len(), 3, "{:?}", view.skipped);
        assert!(view.skipped[2].starts_with("carousel (malformed"));
    }

    #[test]
    fn cards_carousels_and_the_end() {
        let view = turn(serde_json::json!([
            { "type": "cardV2", "payload": { "title": "Your order", "description": { "text": "2 × large" }, "imageUrl": "data:image/svg+xml,<svg onload=alert(1)>", "buttons": [
                { "name": "Confirm", "request": { "type": "path-s-0" } }
            ] } },
            { "type": "carousel", "payload": { "layout": "Carousel", "cards": [
                { "title": "A", "description": { "text": "", "slate": [{ "text": "rich" }] }, "imageUrl": "https://x.example/a.jpg" },
                { "title": "B" }
            ] } },
            { "type": "end" }
        ]));
        let Bubble::Card(card) = &view.reveals[0].bubble else {
            panic!()
        };
        assert_eq!(card.title, "Your order");
        assert_eq!(card.image, None, "SVG data URLs are not images here");
        assert_eq!(card.buttons[0].label, "Confirm");
        let Bubble::Carousel(cards) = &view.reveals[1].bubble else {
            panic!()
        };
        assert_eq!(plain_text(&cards[0].description), "rich");
        assert_eq!(cards[1].description, Vec::<Block>::new());
        assert!(view.ended);
    }
}
