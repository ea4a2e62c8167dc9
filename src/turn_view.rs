//! What a turn's traces mean for the chat window: the bubbles to reveal one by one, the
//! quick-reply buttons, the no-reply timer, the end of the conversation and the custom actions
//! for the host page. Plain Rust, tested natively; components only render it.
//!
//! Traces are read with `parley_protocol::read` (no serde in the bundle).

use parley_protocol::read::{ButtonRead, CardRead, TraceRead, read_trace};
use parley_protocol::strip_ssml;

use crate::json::Json;
use crate::rich_text::{Block, from_markdown, from_slate};
use crate::safety::{safe_audio, safe_image};

/// A button the user can click: its label, and the request it sends (as it came).
#[derive(Debug, Clone, PartialEq)]
pub struct ButtonView {
    pub label: String,
    pub request: Json,
}

/// A card, alone or in a carousel.
#[derive(Debug, Clone, PartialEq)]
pub struct CardView {
    pub title: String,
    pub description: Vec<Block>,
    pub image: Option<String>,
    pub buttons: Vec<ButtonView>,
}

/// One bubble of the bot's.
#[derive(Debug, Clone, PartialEq)]
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
    /// A trace that a response extension of the host page's draws ([`crate::host`]): the
    /// extension's index.
    Extension(usize),
}

/// A bubble, the trace it came from (what a saved transcript keeps), and the typing delay
/// before it (the trace's `delay`, when it gives one).
#[derive(Debug, Clone, PartialEq)]
pub struct Reveal {
    pub bubble: Bubble,
    pub trace: Json,
    pub delay_ms: Option<f64>,
}

/// A custom action for the host page: the trace's type, the request types of its paths, and
/// the whole trace (its payload is the host's business).
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub kind: String,
    pub paths: Vec<String>,
    pub trace: Json,
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
    pub actions: Vec<Action>,
    /// Traces an effect extension of the host page's takes: its index, and the trace.
    pub effects: Vec<(usize, Json)>,
    /// Traces not shown: diagnostics, and types this widget does not know or that were
    /// malformed (kept for the console).
    pub skipped: Vec<String>,
}

fn buttons(buttons: Vec<ButtonRead<Json>>) -> Vec<ButtonView> {
    buttons
        .into_iter()
        .filter(|b| !b.name.trim().is_empty())
        .map(|b| ButtonView {
            label: b.name,
            request: b.request,
        })
        .collect()
}

fn card(card: CardRead<Json>) -> CardView {
    CardView {
        title: card.title.unwrap_or_default(),
        description: match card.slate {
            Some(slate) if !slate.is_empty() => from_slate(&slate),
            _ => from_markdown(card.text.as_deref().unwrap_or_default()),
        },
        image: card.image_url.as_deref().and_then(safe_image),
        buttons: buttons(card.buttons),
    }
}

fn dimension(n: Option<f64>) -> Option<u32> {
    n.filter(|v| v.is_finite() && *v > 0.0 && *v < 100_000.0)
        .map(|v| v.round() as u32)
}

/// The bubble one trace shows, if any (what a restored transcript re-reads).
pub fn bubble_of(trace: &Json) -> Option<Bubble> {
    read_turn(std::slice::from_ref(trace))
        .reveals
        .pop()
        .map(|r| r.bubble)
}

/// Reads a turn.
pub fn read_turn(traces: &[Json]) -> TurnView {
    let mut view = TurnView::default();
    for trace in traces {
        let read = read_trace(trace);
        // What the widget does not draw itself may go to an extension of the host page's,
        // which then answers a custom action itself (no `parley:action` for it).
        let claimed = match &read {
            TraceRead::Action { .. } | TraceRead::Diagnostic(_) | TraceRead::Other(_) => {
                crate::host::claim(trace)
            }
            _ => None,
        };
        match claimed {
            Some((index, true)) => {
                view.effects.push((index, trace.clone()));
                continue;
            }
            Some((index, false)) => {
                view.reveals.push(Reveal {
                    bubble: Bubble::Extension(index),
                    trace: trace.clone(),
                    delay_ms: None,
                });
                continue;
            }
            None => {}
        }
        let bubble = match read {
            TraceRead::Text {
                message,
                slate,
                delay_ms,
            } => {
                let blocks = match slate {
                    Some(content) if !content.is_empty() => from_slate(&content),
                    _ => from_markdown(message.as_deref().unwrap_or_default()),
                };
                (!blocks.is_empty()).then_some((Bubble::Text(blocks), delay_ms))
            }
            TraceRead::Speak { message, src } => {
                let text = strip_ssml(message.as_deref().unwrap_or_default());
                let audio = src.as_deref().and_then(safe_audio);
                (!text.is_empty() || audio.is_some())
                    .then_some((Bubble::Speech { text, audio }, None))
            }
            TraceRead::Visual {
                image,
                width,
                height,
            } => match image.as_deref().and_then(safe_image) {
                Some(src) => Some((
                    Bubble::Image {
                        src,
                        width: dimension(width),
                        height: dimension(height),
                    },
                    None,
                )),
                None => {
                    view.skipped.push("visual (no safe image URL)".to_owned());
                    None
                }
            },
            TraceRead::Card(c) => Some((Bubble::Card(card(c)), None)),
            TraceRead::Carousel(cards) => {
                let cards: Vec<CardView> = cards.into_iter().map(card).collect();
                (!cards.is_empty()).then_some((Bubble::Carousel(cards), None))
            }
            TraceRead::Choice(list) => {
                view.choices = buttons(list);
                None
            }
            TraceRead::NoReply { timeout_secs } => {
                view.no_reply_secs = timeout_secs;
                None
            }
            TraceRead::End => {
                view.ended = true;
                None
            }
            TraceRead::Action { kind, paths } => {
                if paths.is_empty() {
                    view.skipped.push(kind);
                } else {
                    view.actions.push(Action {
                        kind,
                        paths,
                        trace: trace.clone(),
                    });
                }
                None
            }
            TraceRead::Diagnostic(kind) | TraceRead::Other(kind) => {
                view.skipped.push(kind);
                None
            }
            TraceRead::Invalid { kind, reason } => {
                view.skipped.push(format!("{kind} (malformed: {reason})"));
                None
            }
        };
        if let Some((bubble, delay_ms)) = bubble {
            view.reveals.push(Reveal {
                bubble,
                trace: trace.clone(),
                delay_ms,
            });
        }
    }
    view
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::rich_text::plain_text;

    fn turn(json: serde_json::Value) -> TurnView {
        read_turn(json.as_array().unwrap())
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
        assert_eq!(view.choices[0].request["type"], "path-a-0");
        assert_eq!(view.no_reply_secs, Some(60.0));
        assert_eq!(view.actions.len(), 1);
        assert_eq!(view.actions[0].kind, "handoff");
        assert_eq!(view.actions[0].paths, ["done"]);
        assert!(!view.ended);
        assert_eq!(view.skipped.len(), 3, "{:?}", view.skipped);
        assert!(view.skipped[2].starts_with("carousel (malformed"));
    }

    #[test]
    fn extensions_take_only_what_the_widget_does_not_draw() {
        crate::host::with_extensions(vec![
            ("any", false, |_| true),
            ("calendar", true, |t| t["type"] == "calendar"),
        ]);
        let view = turn(serde_json::json!([
            { "type": "text", "payload": { "message": "Hi" } },
            { "type": "calendar", "payload": {}, "paths": [{ "event": { "type": "done" } }] },
            { "type": "completion", "payload": { "state": "start" } },
            { "type": "end" }
        ]));
        crate::host::set(crate::host::Host::default());
        assert_eq!(view.reveals.len(), 2);
        assert!(matches!(view.reveals[0].bubble, Bubble::Text(_)));
        assert_eq!(view.reveals[1].bubble, Bubble::Extension(0));
        assert_eq!(view.reveals[1].trace["type"], "completion");
        assert_eq!(view.effects.len(), 1);
        assert_eq!(
            (view.effects[0].0, &view.effects[0].1["type"]),
            (1, &serde_json::json!("calendar"))
        );
        assert!(
            view.actions.is_empty(),
            "the effect answers the custom action"
        );
        assert!(view.skipped.is_empty() && view.ended);
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
