//! Every string the widget shows or says, in a table per locale (English, German, Arabic), and
//! the locale and theme of the mounted widget. One locale per page, like the widget itself:
//! `load` sets it ([`set`]), every component and the transcript read it ([`t`]).
//!
//! The locale is the `locale` option, else the page's `lang`, else English; a region
//! (`de-AT`) falls back to its language. A table is a plain array indexed by [`Key`], so a
//! string costs its bytes and nothing else (no map, no formatting machinery in the bundle);
//! the one number shown in a string goes through [`with_count`].

use std::cell::Cell;

/// A string of the UI. The tables below hold one entry per key, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// The launcher, while the chat is closed.
    OpenChat,
    /// The launcher while open, and the header's close button.
    CloseChat,
    /// The header's restart, the ended conversation's button, and the way out of a conversation
    /// that cannot go on.
    NewChat,
    /// The transcript's accessible name.
    Conversation,
    /// The composer's accessible name.
    Message,
    /// The composer's placeholder.
    Placeholder,
    Send,
    Ended,
    PreviousCard,
    NextCard,
    /// `aria-roledescription` of a carousel.
    Carousel,
    Typing,
    /// A send that failed and can be retried.
    SendFailed,
    TryAgain,
    /// A conversation that cannot go on (its state refused, expired, project gone, 401/403).
    CannotContinue,
    /// The chat server cannot be reached (network error, 5xx).
    Unreachable,
    /// Any other failure.
    Failed,
    /// The button shown when a message arrives while the visitor has scrolled up.
    NewMessages,
    /// The header menu's button.
    Menu,
    /// The header menu's item that saves the transcript as text.
    Download,
    /// The launcher's unread count, for screen readers: `{}` is the number.
    Unread,
    /// Who said a line, in the downloaded transcript and for screen readers.
    You,
    /// The assistant's name when the page gives none (`assistant.title`).
    Chat,
}

/// A locale's table: one string per [`Key`], in the enum's order.
type Table = [&'static str; 23];

const EN: Table = [
    "Open chat",
    "Close chat",
    "Start a new chat",
    "Conversation",
    "Message",
    "Type a message…",
    "Send",
    "The conversation has ended.",
    "Previous card",
    "Next card",
    "carousel",
    "The assistant is typing",
    "The message could not be sent.",
    "Try again",
    "This conversation can't continue.",
    "The chat server cannot be reached. Check your connection.",
    "Something went wrong.",
    "New messages",
    "Chat options",
    "Download the transcript",
    "{} unread",
    "You",
    "Chat",
];

const DE: Table = [
    "Chat öffnen",
    "Chat schließen",
    "Neuen Chat beginnen",
    "Unterhaltung",
    "Nachricht",
    "Nachricht schreiben…",
    "Senden",
    "Die Unterhaltung ist beendet.",
    "Vorige Karte",
    "Nächste Karte",
    "Karussell",
    "Der Assistent schreibt",
    "Die Nachricht konnte nicht gesendet werden.",
    "Erneut versuchen",
    "Diese Unterhaltung kann nicht fortgesetzt werden.",
    "Der Chat-Server ist nicht erreichbar. Prüfen Sie Ihre Verbindung.",
    "Etwas ist schiefgelaufen.",
    "Neue Nachrichten",
    "Chat-Optionen",
    "Verlauf herunterladen",
    "{} ungelesen",
    "Sie",
    "Chat",
];

const AR: Table = [
    "فتح المحادثة",
    "إغلاق المحادثة",
    "بدء محادثة جديدة",
    "المحادثة",
    "الرسالة",
    "اكتب رسالة…",
    "إرسال",
    "انتهت المحادثة.",
    "البطاقة السابقة",
    "البطاقة التالية",
    "عرض دوّار",
    "المساعد يكتب",
    "تعذّر إرسال الرسالة.",
    "أعد المحاولة",
    "لا يمكن متابعة هذه المحادثة.",
    "تعذّر الوصول إلى خادم المحادثة. تحقّق من اتصالك.",
    "حدث خطأ ما.",
    "رسائل جديدة",
    "خيارات المحادثة",
    "تنزيل نص المحادثة",
    "غير مقروءة: {}",
    "أنت",
    "محادثة",
];

/// A shipped locale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    En,
    De,
    Ar,
}

impl Locale {
    /// The locale a tag names (`de`, `de-AT`, `AR_eg`), if it is shipped.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        // The language is the first two letters, then the end or a separator (compared by hand:
        // a lowercased copy and a split weighed more in the bundle).
        let tag = tag.trim().as_bytes();
        if tag.len() > 2 && !matches!(tag[2], b'-' | b'_') {
            return None;
        }
        [
            (b"en", Locale::En),
            (b"de", Locale::De),
            (b"ar", Locale::Ar),
        ]
        .into_iter()
        .find(|(code, _)| tag.len() >= 2 && tag[..2].eq_ignore_ascii_case(*code))
        .map(|(_, locale)| locale)
    }

    /// The `locale` option if shipped, else the page's `lang`, else English.
    pub fn pick(asked: Option<&str>, page_lang: &str) -> Locale {
        asked
            .and_then(Locale::from_tag)
            .or_else(|| Locale::from_tag(page_lang))
            .unwrap_or_default()
    }

    /// The BCP 47 tag, for `lang`.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::De => "de",
            Locale::Ar => "ar",
        }
    }

    /// A time of day (local hours and minutes) as `Intl.DateTimeFormat(tag, { timeStyle:
    /// 'short' })` writes it in this locale (tests/web.rs compares the two in the browser).
    /// Not Intl itself: its first use costs the main thread 15 to 45 ms (loading ICU's locale
    /// data), in the launcher click's path, for three fixed patterns. Arabic in Latin digits,
    /// as CLDR 46 (ICU 76) writes it; engines with an older ICU wrote Arabic-Indic digits.
    pub fn clock(self, hours: u32, minutes: u32) -> String {
        let half = |am, pm| if hours < 12 { am } else { pm };
        let (h, suffix) = match self {
            Locale::De => (hours, ""),
            Locale::En => ((hours + 11) % 12 + 1, half(" AM", " PM")),
            Locale::Ar => ((hours + 11) % 12 + 1, half(" ص", " م")),
        };
        let pad = if self == Locale::De && h < 10 {
            "0"
        } else {
            ""
        };
        format!("{pad}{h}:{minutes:02}{suffix}")
    }

    /// The writing direction, for `dir`.
    pub fn dir(self) -> &'static str {
        match self {
            Locale::Ar => "rtl",
            Locale::En | Locale::De => "ltr",
        }
    }

    fn table(self) -> &'static Table {
        match self {
            Locale::En => &EN,
            Locale::De => &DE,
            Locale::Ar => &AR,
        }
    }

    /// The string `key` in this locale.
    pub fn text(self, key: Key) -> &'static str {
        self.table()[key as usize]
    }
}

/// `assistant.theme`: light, dark, or the visitor's system setting (`prefers-color-scheme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Theme {
    #[default]
    Auto,
    Light,
    Dark,
}

impl Theme {
    /// The CSS `color-scheme` the widget's root takes.
    pub fn color_scheme(self) -> &'static str {
        match self {
            Theme::Auto => "light dark",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }
}

thread_local! {
    static LOCALE: Cell<Locale> = const { Cell::new(Locale::En) };
    static THEME: Cell<Theme> = const { Cell::new(Theme::Auto) };
}

/// Sets the mounted widget's locale (a new `load`).
pub fn set(locale: Locale) {
    LOCALE.with(|l| l.set(locale));
}

/// Sets the locale and the theme of the widget `load` is about to mount: the `locale` option,
/// else the page's `lang`, else English.
pub fn apply(options: &crate::options::Options) {
    #[cfg(target_arch = "wasm32")]
    let page_lang = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
        .and_then(|e| e.get_attribute("lang"))
        .unwrap_or_default();
    #[cfg(not(target_arch = "wasm32"))]
    let page_lang = String::new();
    set(Locale::pick(options.locale.as_deref(), &page_lang));
    THEME.with(|t| t.set(options.theme));
}

/// The mounted widget's theme.
pub fn theme() -> Theme {
    THEME.with(Cell::get)
}

/// The mounted widget's locale.
pub fn locale() -> Locale {
    LOCALE.with(Cell::get)
}

/// The string `key` in the mounted widget's locale.
pub fn t(key: Key) -> &'static str {
    locale().text(key)
}

/// A string with a number in it (its `{}`).
pub fn with_count(key: Key, count: usize) -> String {
    t(key).replacen("{}", &count.to_string(), 1)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn the_locale_is_the_option_then_the_page_then_english() {
        assert_eq!(Locale::pick(Some("de"), "ar"), Locale::De);
        assert_eq!(Locale::pick(Some("de-AT"), ""), Locale::De);
        assert_eq!(Locale::pick(Some("AR_eg"), ""), Locale::Ar);
        assert_eq!(
            Locale::pick(Some("fr"), "ar-EG"),
            Locale::Ar,
            "not shipped: the page's"
        );
        assert_eq!(Locale::pick(None, "de-CH"), Locale::De);
        assert_eq!(Locale::pick(None, "fr"), Locale::En);
        assert_eq!(Locale::pick(None, ""), Locale::En);
        assert_eq!(
            Locale::pick(Some("deu"), "x"),
            Locale::En,
            "three letters: not German"
        );
        assert_eq!(Locale::pick(Some("d"), "EN-gb"), Locale::En);
        assert_eq!(Locale::Ar.dir(), "rtl");
        assert_eq!(Locale::De.dir(), "ltr");
    }

    #[test]
    fn the_clock_writes_each_locales_short_time() {
        assert_eq!(Locale::En.clock(0, 7), "12:07 AM");
        assert_eq!(Locale::En.clock(12, 0), "12:00 PM");
        assert_eq!(Locale::En.clock(23, 59), "11:59 PM");
        assert_eq!(Locale::De.clock(5, 7), "05:07");
        assert_eq!(Locale::De.clock(0, 0), "00:00");
        assert_eq!(Locale::Ar.clock(0, 7), "12:07 ص");
        assert_eq!(Locale::Ar.clock(13, 7), "1:07 م");
    }

    #[test]
    fn every_table_is_complete_and_keeps_its_placeholder() {
        for locale in [Locale::En, Locale::De, Locale::Ar] {
            for (i, s) in locale.table().iter().enumerate() {
                assert!(!s.trim().is_empty(), "{locale:?} key {i}");
                // The panel's markup holds some as they are (conversation_panel.rs).
                assert!(
                    !s.contains(['<', '>', '&', '"']),
                    "{locale:?} key {i}: markup"
                );
            }
            assert_eq!(
                locale.text(Key::Unread).matches("{}").count(),
                1,
                "{locale:?}"
            );
            assert_eq!(locale.text(Key::Chat), locale.table()[22], "the last key");
        }
        assert_eq!(Locale::De.text(Key::TryAgain), "Erneut versuchen");
        set(Locale::De);
        assert_eq!(with_count(Key::Unread, 3), "3 ungelesen");
        set(Locale::En);
        assert_eq!(t(Key::SendFailed), "The message could not be sent.");
    }
}
