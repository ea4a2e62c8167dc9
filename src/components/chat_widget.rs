use leptos::prelude::*;

/// The chat widget: a launcher button and the panel it opens.
///
/// The panel is a labelled dialog with a header (title, close button) and the transcript, a
/// polite `role="log"` live region so that screen readers announce each bot message as it
/// appears.
#[component]
pub fn ChatWidget(
    /// The assistant's name, shown in the header and used as the panel's accessible name.
    #[prop(into)]
    title: String,
    /// The project's id: it namespaces the saved conversation.
    #[prop(into, optional)]
    project: Option<String>,
) -> impl IntoView {
    let key = crate::persistence::storage_key(
        project.as_deref().unwrap_or("default"),
        "development",
        "anonymous",
    );
    let persistence = StoredValue::new(crate::persistence::Persistence::local(key));
    let (open, set_open) = signal(false);
    let title = StoredValue::new(title);

    view! {
        <div class="parley">
            <Show when=move || open.get()>
                <section
                    class="parley-panel"
                    role="dialog"
                    aria-label=title.get_value()
                >
                    <header class="parley-header">
                        <h2 class="parley-header__title">{title.get_value()}</h2>
                        <button
                            type="button"
                            class="parley-header__close"
                            aria-label="Close chat"
                            on:click=move |_| set_open.set(false)
                        >
                            "×"
                        </button>
                    </header>
                    <super::conversation_panel::ConversationPanel persistence=persistence.get_value() />
                </section>
            </Show>
            <button
                type="button"
                class="parley-launcher"
                aria-label=move || if open.get() { "Close chat" } else { "Open chat" }
                aria-expanded=move || open.get().to_string()
                on:click=move |_| set_open.update(|o| *o = !*o)
            >
                // An inline icon, not an emoji: emoji fonts are missing on many systems.
                <svg
                    class="parley-launcher__icon"
                    aria-hidden="true"
                    viewBox="0 0 24 24"
                    width="28"
                    height="28"
                >
                    <path
                        fill="currentColor"
                        d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"
                    />
                </svg>
            </button>
        </div>
    }
}
