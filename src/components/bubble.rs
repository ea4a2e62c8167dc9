use leptos::prelude::*;

use super::rich_text::RichText;
use crate::turn_view::{Bubble, ButtonView, CardView};

/// One bot bubble: text, speech, an image, a card or a carousel. Buttons call `on_click` with
/// the button (its request and label).
#[component]
pub fn BubbleView(
    /// What to show.
    bubble: Bubble,
    /// A card button was clicked.
    on_click: Callback<ButtonView>,
    /// Whether buttons can be used (not while a request is in flight or after the end).
    enabled: Signal<bool>,
) -> impl IntoView {
    match bubble {
        Bubble::Text(blocks) => view! {
            <div class="parley-bubble parley-bubble--bot"><RichText blocks=blocks /></div>
        }
        .into_any(),
        Bubble::Speech { text, audio } => view! {
            <div class="parley-bubble parley-bubble--bot">
                <p class="parley-rich__p">{text}</p>
                {audio.map(|src| view! { <audio class="parley-bubble__audio" controls=true preload="none" src=src></audio> })}
            </div>
        }
        .into_any(),
        Bubble::Image { src, width, height } => view! {
            <div class="parley-bubble parley-bubble--image">
                <img class="parley-bubble__image" src=src alt="" loading="lazy"
                    width=width.map(|w| w.to_string()) height=height.map(|h| h.to_string()) />
            </div>
        }
        .into_any(),
        Bubble::Card(card) => view! {
            <div class="parley-bubble parley-bubble--card">{card_view(card, on_click, enabled)}</div>
        }
        .into_any(),
        Bubble::Carousel(cards) => view! {
            <div class="parley-carousel" role="group" aria-roledescription="carousel" tabindex="0">
                {cards.into_iter().map(|c| view! { <div class="parley-carousel__item">{card_view(c, on_click, enabled)}</div> }).collect_view()}
            </div>
        }
        .into_any(),
    }
}

fn card_view(
    card: CardView,
    on_click: Callback<ButtonView>,
    enabled: Signal<bool>,
) -> impl IntoView {
    let CardView {
        title,
        description,
        image,
        buttons,
    } = card;
    let name = title.clone();
    view! {
        <article class="parley-card" aria-label=name>
            {image.map(|src| view! { <img class="parley-card__image" src=src alt="" loading="lazy" /> })}
            <h3 class="parley-card__title">{title}</h3>
            <div class="parley-card__description"><RichText blocks=description /></div>
            <div class="parley-card__buttons">
                {buttons.into_iter().map(|b| {
                    let label = b.label.clone();
                    view! {
                        <button type="button" class="parley-button"
                            disabled=move || !enabled.get()
                            on:click=move |_| on_click.run(b.clone())>{label}</button>
                    }
                }).collect_view()}
            </div>
        </article>
    }
}
