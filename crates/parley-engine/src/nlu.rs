//! The built-in NLU: which intent typed text means, and which entity values it holds.
//!
//! Each sample utterance becomes a TF-IDF vector of Snowball stems, with every entity mention
//! (a custom entity's value or synonym, a number, an email, yes/no) replaced by the entity's
//! name, so "a large pizza" and "a big pizza" look alike when `big` is a synonym of `large`.
//! Typed text goes through the same normalisation (lower case, punctuation and apostrophes
//! dropped, colloquial spellings read as words, a one-letter typo in a long word mapped to the
//! known word) and the intent whose closest utterance has the highest cosine similarity wins,
//! when that similarity (the confidence) reaches the version's threshold; below it is a
//! no-match. Function words weigh little, and an utterance that shares only function words with
//! the text does not count. Slots are filled from
//! the entity mentions found. Deterministic: no randomness, ordered maps only.
//!
//! `intent` requests skip all this: an external NLU plugs in there.

use std::collections::{BTreeMap, BTreeSet};

use rust_stemmers::{Algorithm, Stemmer};

use crate::project::Version;

/// The built-in entities.
pub const BUILTIN_ENTITIES: [&str; 4] = ["number", "email", "yes_no", "date"];

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
/// Days named relative to the conversation's, kept as said: the engine reads no clock.
const RELATIVE_DAYS: [&str; 11] = [
    "today",
    "tonight",
    "tomorrow",
    "yesterday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A month by its name or its first three letters (`dec`, `sept`), 1-based.
fn month(word: &str) -> Option<u32> {
    MONTHS
        .iter()
        .position(|m| *m == word || (word.len() >= 3 && m.starts_with(word)))
        .map(|i| i as u32 + 1)
}

/// A day of the month: `24`, `24th`, `1st`.
fn day(word: &str) -> Option<u32> {
    let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &word[digits.len()..];
    if !matches!(suffix, "" | "st" | "nd" | "rd" | "th") {
        return None;
    }
    digits.parse().ok().filter(|d| (1..=31).contains(d))
}

fn year(word: &str) -> Option<u32> {
    (word.len() == 4)
        .then(|| word.parse().ok())
        .flatten()
        .filter(|y| (1900..=2200).contains(y))
}

/// A date at the start of `words`: how many words it takes and its value, ISO 8601
/// (`2026-12-24`, or `--12-24` without a year) or the relative day as said (`tomorrow`).
/// Forms: `2026-12-24`, `12/24/2026` (month first, as en-US writes it), `December 24[th][,]
/// [2026]`, `24[th] [of] December [2026]`, `today`, `friday`.
fn date_at(words: &[&str]) -> Option<(usize, String)> {
    let w = |i: usize| words.get(i).copied();
    let iso = |y: Option<u32>, m: u32, d: u32| match y {
        Some(y) => format!("{y:04}-{m:02}-{d:02}"),
        None => format!("--{m:02}-{d:02}"),
    };
    let first = w(0)?;
    if RELATIVE_DAYS.contains(&first) {
        return Some((1, first.to_owned()));
    }
    let numeric_month = |word: &str| word.parse::<u32>().ok().filter(|m| (1..=12).contains(m));
    if let (Some(y), Some(m), Some(d)) = (
        year(first),
        w(1).and_then(numeric_month),
        w(2).and_then(day),
    ) {
        return Some((3, iso(Some(y), m, d)));
    }
    if let (Some(m), Some(d), Some(y)) = (
        numeric_month(first),
        w(1).and_then(day),
        w(2).and_then(year),
    ) {
        return Some((3, iso(Some(y), m, d)));
    }
    if let (Some(m), Some(d)) = (month(first), w(1).and_then(day)) {
        return Some(match w(2).and_then(year) {
            Some(y) => (3, iso(Some(y), m, d)),
            None => (2, iso(None, m, d)),
        });
    }
    if let Some(d) = day(first) {
        let of = usize::from(w(1) == Some("of"));
        if let Some(m) = w(1 + of).and_then(month) {
            return Some(match w(2 + of).and_then(year) {
                Some(y) => (3 + of, iso(Some(y), m, d)),
                None => (2 + of, iso(None, m, d)),
            });
        }
    }
    None
}

const NUMBER_WORDS: [(&str, u32); 28] = [
    ("zero", 0),
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
    ("ten", 10),
    ("eleven", 11),
    ("twelve", 12),
    ("thirteen", 13),
    ("fourteen", 14),
    ("fifteen", 15),
    ("sixteen", 16),
    ("seventeen", 17),
    ("eighteen", 18),
    ("nineteen", 19),
    ("twenty", 20),
    ("thirty", 30),
    ("forty", 40),
    ("fifty", 50),
    ("sixty", 60),
    ("seventy", 70),
    ("eighty", 80),
    ("ninety", 90),
];
const YES: [&str; 12] = [
    "yes",
    "yeah",
    "yep",
    "yup",
    "sure",
    "ok",
    "okay",
    "correct",
    "right",
    "affirmative",
    "absolutely",
    "definitely",
];
const NO: [&str; 5] = ["no", "nope", "nah", "negative", "never"];

/// Function words: they count, but little, and a match on them alone is no match. Question
/// words (what, when, where, how, can…) are not among them: they tell intents apart.
const STOPWORDS: [&str; 51] = [
    "a", "about", "am", "an", "and", "any", "are", "as", "at", "be", "but", "by", "for", "from",
    "get", "have", "here", "i", "id", "if", "ill", "im", "in", "is", "it", "its", "just", "let",
    "like", "me", "my", "of", "on", "or", "our", "please", "so", "some", "that", "the", "then",
    "there", "this", "to", "us", "want", "was", "we", "with", "you", "your",
];

/// Colloquial spellings, read as the words they stand for.
const COLLOQUIAL: [(&str, &str); 8] = [
    ("wanna", "want"),
    ("gonna", "going"),
    ("gimme", "give"),
    ("pls", "please"),
    ("plz", "please"),
    ("thx", "thanks"),
    ("u", "you"),
    ("ur", "your"),
];

const STOPWORD_WEIGHT: f64 = 0.3;

/// An intent the text means.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub intent: String,
    /// Cosine similarity to the closest sample utterance, 0 to 1.
    pub confidence: f64,
    /// Slot name → value, for the slots whose entity was mentioned.
    pub slots: BTreeMap<String, String>,
}

/// A token of typed text: a word, or a whole email address.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Email(String),
}

/// An entity mention: tokens `start..end` are `value` of `entity`.
#[derive(Debug, Clone)]
struct Span {
    start: usize,
    end: usize,
    entity: String,
    value: String,
}

type Vector = BTreeMap<String, f64>;

/// A vector over the training terms by id (an id is a term's rank in the sorted term list), sorted
/// by id: comparing two is a merge of integers, where comparing two `Vector`s looked up every
/// term by string (perf: string compares were a third of a text turn).
type Sparse = Vec<(u32, f64)>;

/// A text read by [`Nlu::analyse`]: what [`Nlu::best`] picks from.
#[derive(Debug)]
pub(crate) struct Analysis {
    toks: Vec<Token>,
    /// The score of each intent, in the model's order; empty when no term weighs anything.
    scores: Vec<f64>,
}

struct IntentModel {
    name: String,
    utterances: Vec<Sparse>,
    /// (slot name, entity name), in declaration order.
    slots: Vec<(String, String)>,
}

/// The trained NLU of one version.
pub(crate) struct Nlu {
    stemmer: Stemmer,
    intents: Vec<IntentModel>,
    /// Custom entities: name → (phrase tokens, canonical value), longest phrases first.
    entities: BTreeMap<String, Vec<(Vec<String>, String)>>,
    /// Entities used by some slot: their mentions become features.
    slot_entities: BTreeSet<String>,
    idf: BTreeMap<String, f64>,
    /// Each training term's id (its rank in `idf`'s order), and whether it is a stopword.
    term_ids: BTreeMap<String, u32>,
    stopword: Vec<bool>,
    /// Words of the training set, for typo correction.
    vocabulary: BTreeSet<String>,
    unknown_weight: f64,
    threshold: f64,
}

impl std::fmt::Debug for Nlu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nlu")
            .field(
                "intents",
                &self.intents.iter().map(|i| &i.name).collect::<Vec<_>>(),
            )
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

/// Lower case, words only, apostrophes dropped: how button labels and typed text compare.
pub(crate) fn normalise_phrase(text: &str) -> String {
    words(text).join(" ")
}

fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace(['\'', '’'], "")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            COLLOQUIAL
                .iter()
                .find(|(slang, _)| *slang == w)
                .map_or(w, |(_, word)| *word)
                .to_owned()
        })
        .collect()
}

fn is_stopword(term: &str) -> bool {
    STOPWORDS.contains(&term)
}

fn looks_like_email(word: &str) -> bool {
    let Some((local, domain)) = word.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && word
            .chars()
            .all(|c| c.is_alphanumeric() || "@._%+-".contains(c))
}

fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    for chunk in text.split_whitespace() {
        let trimmed = chunk.trim_matches(|c: char| !c.is_alphanumeric());
        if looks_like_email(trimmed) {
            out.push(Token::Email(trimmed.to_lowercase()));
        } else {
            out.extend(words(chunk).into_iter().map(Token::Word));
        }
    }
    out
}

/// Whether `a` and `b` are at most one edit apart (Levenshtein: one character inserted,
/// deleted or replaced). Spelling correction calls this for every unknown word against the
/// whole vocabulary, so it allocates nothing: a bounded edit-distance table with a row per
/// character made unknown words cost 2.7 times a matched sentence (`cargo xtask bench engine`).
fn within_one_edit(a: &str, b: &str) -> bool {
    let (len_a, len_b) = (a.chars().count(), b.chars().count());
    if len_a.abs_diff(len_b) > 1 {
        return false;
    }
    let (short, long) = if len_a <= len_b { (a, b) } else { (b, a) };
    // After the common prefix, the rest must match once the first differing character is
    // skipped: in both (a replacement) or in the longer one (an insertion).
    let prefix: usize = short
        .chars()
        .zip(long.chars())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x.len_utf8())
        .sum();
    let (short, long) = (&short[prefix..], &long[prefix..]);
    fn rest(t: &str) -> &str {
        t.chars().next().map_or(t, |c| &t[c.len_utf8()..])
    }
    if len_a == len_b {
        rest(short) == rest(long)
    } else {
        short == rest(long)
    }
}

impl Nlu {
    /// Trains on a version's intents and entities (validated: slots name known entities).
    pub(crate) fn train(version: &Version) -> Nlu {
        let mut entities = BTreeMap::new();
        for entity in &version.entities {
            let mut phrases = Vec::new();
            for value in &entity.values {
                for phrase in std::iter::once(&value.value).chain(&value.synonyms) {
                    let toks = words(phrase);
                    if !toks.is_empty() {
                        phrases.push((toks, value.value.clone()));
                    }
                }
            }
            phrases.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
            entities.insert(entity.name.clone(), phrases);
        }
        let slot_entities = version
            .intents
            .iter()
            .flat_map(|i| i.slots.iter().map(|s| s.entity.clone()))
            .collect();
        let mut nlu = Nlu {
            stemmer: Stemmer::create(Algorithm::English),
            intents: Vec::new(),
            entities,
            slot_entities,
            idf: BTreeMap::new(),
            term_ids: BTreeMap::new(),
            stopword: Vec::new(),
            vocabulary: BTreeSet::new(),
            unknown_weight: 1.0,
            threshold: version.settings.nlu_threshold,
        };

        // Terms of every utterance, with `{slot}` replaced by the slot's entity feature.
        let mut documents: Vec<(usize, Vec<String>)> = Vec::new();
        for (i, intent) in version.intents.iter().enumerate() {
            let slot_entity: BTreeMap<&str, &str> = intent
                .slots
                .iter()
                .map(|s| (s.name.as_str(), s.entity.as_str()))
                .collect();
            for utterance in &intent.utterances {
                let mut text = String::new();
                for piece in split_slots(utterance) {
                    match piece {
                        Ok(literal) => text.push_str(literal),
                        Err(slot) => {
                            let entity = slot_entity.get(slot).copied().unwrap_or(slot);
                            text.push_str(&format!(" zzentity{entity} "));
                        }
                    }
                }
                let toks = tokens(&text);
                for t in &toks {
                    if let Token::Word(w) = t
                        && !w.starts_with("zzentity")
                    {
                        nlu.vocabulary.insert(w.clone());
                    }
                }
                documents.push((i, nlu.terms(&toks, false)));
            }
            nlu.intents.push(IntentModel {
                name: intent.name.clone(),
                utterances: Vec::new(),
                slots: intent
                    .slots
                    .iter()
                    .map(|s| (s.name.clone(), s.entity.clone()))
                    .collect(),
            });
        }
        let n = documents.len() as f64;
        let mut df: BTreeMap<String, f64> = BTreeMap::new();
        for (_, terms) in &documents {
            for term in terms.iter().collect::<BTreeSet<_>>() {
                *df.entry(term.clone()).or_default() += 1.0;
            }
        }
        nlu.idf = df
            .into_iter()
            .map(|(t, d)| (t, ((n + 1.0) / (d + 1.0)).ln() + 1.0))
            .collect();
        // A word never seen in training counts like a rare one, halved: it makes a sentence
        // less like any intent without drowning the words that are known.
        nlu.unknown_weight = 0.5 * (((n + 1.0) / 1.0).ln() + 1.0);
        (nlu.term_ids, nlu.stopword) = nlu
            .idf
            .keys()
            .enumerate()
            .map(|(id, t)| ((t.clone(), id as u32), t.starts_with('~')))
            .unzip();
        for (i, terms) in documents {
            let vector = nlu.sparse(&nlu.vector(&terms));
            nlu.intents[i].utterances.push(vector);
        }
        nlu
    }

    /// The intent the text means, among `only` when given.
    pub(crate) fn classify(&self, text: &str, only: Option<&[&str]>) -> Option<Match> {
        self.best(&self.analyse(text), only)
    }

    /// Reads a text once: its tokens and its score for every intent. A turn that asks twice
    /// (the buttons' intents first, then all of them) reads it once (perf: classifying was half
    /// of a text turn, done twice).
    pub(crate) fn analyse(&self, text: &str) -> Analysis {
        let toks = self.corrected(tokens(text));
        let query = self.vector(&self.terms(&toks, true));
        if query.is_empty() {
            return Analysis {
                toks,
                scores: Vec::new(),
            };
        }
        // Terms never seen in training weigh in the query's norm (above) but match nothing.
        let query = self.sparse(&query);
        let scores = self
            .intents
            .iter()
            .map(|intent| {
                intent
                    .utterances
                    .iter()
                    .filter(|u| self.shares_content(&query, u))
                    .map(|u| cosine(&query, u))
                    .fold(0.0, f64::max)
            })
            .collect();
        Analysis { toks, scores }
    }

    /// The best intent of an analysed text, among `only` when given, with its slots.
    pub(crate) fn best(&self, analysis: &Analysis, only: Option<&[&str]>) -> Option<Match> {
        let toks = &analysis.toks;
        let mut best: Option<(f64, &IntentModel)> = None;
        for (intent, &score) in self.intents.iter().zip(&analysis.scores) {
            if only.is_some_and(|only| !only.contains(&intent.name.as_str())) {
                continue;
            }
            if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, intent));
            }
        }
        let (confidence, intent) = best?;
        if confidence < self.threshold {
            return None;
        }
        let spans = self.spans(toks, None);
        let mut slots = BTreeMap::new();
        let mut used = BTreeSet::new();
        for (slot, entity) in &intent.slots {
            if let Some((i, span)) = spans
                .iter()
                .enumerate()
                .find(|(i, s)| s.entity == *entity && !used.contains(i))
            {
                used.insert(i);
                slots.insert(slot.clone(), span.value.clone());
            }
        }
        Some(Match {
            intent: intent.name.clone(),
            confidence: (confidence * 10_000.0).round() / 10_000.0,
            slots,
        })
    }

    /// What an analysed text scored, for a `debug` trace: every intent with its score, best
    /// first (ties by name), and the threshold a match must reach.
    pub(crate) fn scores(&self, analysis: &Analysis) -> (Vec<(String, f64)>, f64) {
        let mut scores: Vec<(String, f64)> = self
            .intents
            .iter()
            .zip(&analysis.scores)
            .map(|(i, &s)| (i.name.clone(), (s * 10_000.0).round() / 10_000.0))
            .collect();
        scores.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        (scores, self.threshold)
    }

    /// The first value of `entity` mentioned in the text.
    pub(crate) fn extract(&self, entity: &str, text: &str) -> Option<String> {
        let toks = self.corrected(tokens(text));
        let only: BTreeSet<String> = [entity.to_owned()].into();
        self.spans(&toks, Some(&only))
            .into_iter()
            .next()
            .map(|s| s.value)
    }

    /// Maps a long unknown word one edit away from a known word to the known word.
    fn corrected(&self, toks: Vec<Token>) -> Vec<Token> {
        toks.into_iter()
            .map(|t| match t {
                Token::Word(w)
                    if w.chars().count() >= 5
                        && !self.vocabulary.contains(&w)
                        && !self.is_entity_word(&w) =>
                {
                    match self.vocabulary.iter().find(|v| within_one_edit(&w, v)) {
                        Some(known) => Token::Word(known.clone()),
                        None => Token::Word(w),
                    }
                }
                other => other,
            })
            .collect()
    }

    fn is_entity_word(&self, word: &str) -> bool {
        self.entities
            .values()
            .flatten()
            .any(|(phrase, _)| phrase.iter().any(|w| w == word))
    }

    /// The entity mentions in the tokens, left to right, longest first at each position.
    fn spans(&self, toks: &[Token], only: Option<&BTreeSet<String>>) -> Vec<Span> {
        let wanted = |e: &str| only.is_none_or(|o| o.contains(e));
        let mut spans = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            if let Some(span) = self.span_at(toks, i, &wanted) {
                i = span.end;
                spans.push(span);
            } else {
                i += 1;
            }
        }
        spans
    }

    fn span_at(&self, toks: &[Token], i: usize, wanted: &dyn Fn(&str) -> bool) -> Option<Span> {
        let span = |end: usize, entity: &str, value: String| Span {
            start: i,
            end,
            entity: entity.to_owned(),
            value,
        };
        let word = match &toks[i] {
            Token::Email(address) => {
                return wanted("email").then(|| span(i + 1, "email", address.clone()));
            }
            Token::Word(w) => w.as_str(),
        };
        for (name, phrases) in &self.entities {
            if !wanted(name) {
                continue;
            }
            for (phrase, value) in phrases {
                let end = i + phrase.len();
                let matches = end <= toks.len()
                    && phrase
                        .iter()
                        .zip(&toks[i..end])
                        .all(|(p, t)| matches!(t, Token::Word(w) if w == p));
                if matches {
                    return Some(span(end, name, value.clone()));
                }
            }
        }
        // Before numbers: `24 December` is a date, not the number 24.
        if wanted("date") {
            let words: Vec<&str> = toks[i..]
                .iter()
                .take(4)
                .map_while(|t| match t {
                    Token::Word(w) => Some(w.as_str()),
                    Token::Email(_) => None,
                })
                .collect();
            if let Some((taken, value)) = date_at(&words) {
                return Some(span(i + taken, "date", value));
            }
        }
        if wanted("number") {
            if word.chars().all(|c| c.is_ascii_digit()) && word.len() <= 15 {
                return Some(
                    span(i + 1, "number", word.trim_start_matches('0').to_owned()).fix_zero(),
                );
            }
            if let Some((_, n)) = NUMBER_WORDS.iter().find(|(w, _)| *w == word) {
                return Some(span(i + 1, "number", n.to_string()));
            }
        }
        if wanted("yes_no") {
            if YES.contains(&word) {
                return Some(span(i + 1, "yes_no", "yes".to_owned()));
            }
            if NO.contains(&word) {
                return Some(span(i + 1, "yes_no", "no".to_owned()));
            }
        }
        None
    }

    /// The features of a token list: stems, and `zzentity<name>` for mentions of entities that
    /// fill slots.
    fn terms(&self, toks: &[Token], detect: bool) -> Vec<String> {
        let spans = if detect {
            self.spans(toks, Some(&self.slot_entities))
        } else {
            Vec::new()
        };
        let mut terms = Vec::new();
        // The spans are left to right and do not overlap: walk them with the tokens (a
        // search of every span at every token made a text cost the square of its length:
        // "large " 41,000 times took a second).
        let mut next_span = spans.iter().peekable();
        let mut i = 0;
        while i < toks.len() {
            while next_span.next_if(|s| s.start < i).is_some() {}
            if let Some(span) = next_span.next_if(|s| s.start == i) {
                terms.push(format!("zzentity{}", span.entity));
                i = span.end;
                continue;
            }
            match &toks[i] {
                Token::Word(w) if w.starts_with("zzentity") => terms.push(w.clone()),
                Token::Word(w) if is_stopword(w) => terms.push(format!("~{w}")),
                Token::Word(w) => terms.push(self.stemmer.stem(w).into_owned()),
                Token::Email(_) => terms.push("zzentityemail".to_owned()),
            }
            i += 1;
        }
        terms
    }

    /// The training terms of `v`, by id (in id order, since ids follow the terms' order).
    fn sparse(&self, v: &Vector) -> Sparse {
        v.iter()
            .filter_map(|(t, x)| self.term_ids.get(t).map(|&id| (id, *x)))
            .collect()
    }

    /// Whether two vectors share a term that is not a function word: "what is your …" alone
    /// says nothing about the intent.
    fn shares_content(&self, a: &Sparse, b: &Sparse) -> bool {
        let mut shared = Shared::new(a, b);
        shared.any(|(id, _, _)| !self.stopword[id as usize])
    }

    /// A normalised TF-IDF vector (sublinear term frequency).
    fn vector(&self, terms: &[String]) -> Vector {
        let mut tf: BTreeMap<String, f64> = BTreeMap::new();
        for t in terms {
            *tf.entry(t.clone()).or_default() += 1.0;
        }
        let mut v: Vector = tf
            .into_iter()
            .map(|(t, f)| {
                let idf = self.idf.get(&t).copied().unwrap_or(self.unknown_weight);
                let weight = if t.starts_with('~') {
                    STOPWORD_WEIGHT
                } else {
                    1.0
                };
                (t, (1.0 + f.ln()) * idf * weight)
            })
            .collect();
        let norm = v.values().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 0.0 {
            v.values_mut().for_each(|x| *x /= norm);
        }
        v
    }
}

impl Span {
    /// "000" is the number 0, not the empty string.
    fn fix_zero(mut self) -> Span {
        if self.value.is_empty() {
            self.value = "0".to_owned();
        }
        self
    }
}

/// The terms two sparse vectors share, in id order, with both weights: a merge of the two.
struct Shared<'a> {
    a: &'a [(u32, f64)],
    b: &'a [(u32, f64)],
}

impl<'a> Shared<'a> {
    fn new(a: &'a Sparse, b: &'a Sparse) -> Self {
        Shared { a, b }
    }
}

impl Iterator for Shared<'_> {
    type Item = (u32, f64, f64);

    fn next(&mut self) -> Option<Self::Item> {
        while let (Some(&(i, x)), Some(&(j, y))) = (self.a.first(), self.b.first()) {
            match i.cmp(&j) {
                std::cmp::Ordering::Less => self.a = &self.a[1..],
                std::cmp::Ordering::Greater => self.b = &self.b[1..],
                std::cmp::Ordering::Equal => {
                    self.a = &self.a[1..];
                    self.b = &self.b[1..];
                    return Some((i, x, y));
                }
            }
        }
        None
    }
}

/// The dot product of two unit vectors: summed in term order, as before they had ids.
fn cosine(a: &Sparse, b: &Sparse) -> f64 {
    Shared::new(a, b).map(|(_, x, y)| x * y).sum()
}

/// Splits an utterance into literal text (`Ok`) and `{slot}` names (`Err`).
pub(crate) fn split_slots(utterance: &str) -> Vec<Result<&str, &str>> {
    let mut out = Vec::new();
    let mut rest = utterance;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push(Ok(&rest[..open]));
        out.push(Err(&rest[open + 1..open + close]));
        rest = &rest[open + close + 1..];
    }
    out.push(Ok(rest));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_the_forms_web_agents_hear() {
        let date = |text: &str| {
            let toks = tokens(text);
            let words: Vec<&str> = toks
                .iter()
                .map(|t| match t {
                    Token::Word(w) => w.as_str(),
                    Token::Email(e) => e.as_str(),
                })
                .collect();
            (0..words.len()).find_map(|i| date_at(&words[i..]).map(|(_, v)| v))
        };
        assert_eq!(date("on 2026-12-24 please").as_deref(), Some("2026-12-24"));
        assert_eq!(date("12/24/2026").as_deref(), Some("2026-12-24"));
        assert_eq!(date("December 24th, 2026").as_deref(), Some("2026-12-24"));
        assert_eq!(date("the 3rd of March").as_deref(), Some("--03-03"));
        assert_eq!(date("dec 5").as_deref(), Some("--12-05"));
        assert_eq!(date("tomorrow at noon").as_deref(), Some("tomorrow"));
        assert_eq!(date("Friday").as_deref(), Some("friday"));
        assert_eq!(date("2 pizzas"), None);
        assert_eq!(date("13/45/2026"), None);
        assert_eq!(date("may I order"), None);
    }

    #[test]
    fn tokens_keep_emails_whole() {
        assert_eq!(
            tokens("Mail me at Dana.O@example.com, please!"),
            [
                Token::Word("mail".into()),
                Token::Word("me".into()),
                Token::Word("at".into()),
                Token::Email("dana.o@example.com".into()),
                Token::Word("please".into()),
            ]
        );
    }

    #[test]
    fn edits() {
        for (a, b) in [
            ("pizza", "piza"),
            ("piza", "pizza"),
            ("pizza", "pizzas"),
            ("pizza", "pixza"),
            ("pizza", "pizzo"),
            ("pizza", "xizza"),
            ("pizza", "pizza"),
            ("crème", "creme"),
            ("", "a"),
        ] {
            assert!(within_one_edit(a, b), "{a} / {b}");
        }
        for (a, b) in [
            ("large", "lareg"),
            ("menu", "order"),
            ("pizza", "pizzaaa"),
            ("pizza", "pzzia"),
            ("crème", "crèmes!"),
            ("", "ab"),
        ] {
            assert!(!within_one_edit(a, b), "{a} / {b}");
        }
    }

    /// Reading a text is linear in its length: four times the words, about four times the
    /// time (it was sixteen: every token searched every entity mention). Bounded in time: a
    /// quadratic reading of the long text takes seconds in a debug build.
    #[test]
    fn reading_a_long_text_is_linear() {
        let version: Version = serde_json::from_value(serde_json::json!({
            "id": "v1",
            "startFlow": "main",
            "intents": [
                { "name": "order", "utterances": ["a {size} pizza please", "i want a pizza"],
                  "slots": [{ "name": "size", "entity": "size" }] },
                { "name": "help", "utterances": ["help me", "what can you do"] }
            ],
            "entities": [{ "name": "size", "values": [
                { "value": "large", "synonyms": ["big"] }, { "value": "small" }
            ] }],
            "flows": []
        }))
        .unwrap();
        let nlu = Nlu::train(&version);
        // The quickest of three runs: on a loaded machine (the tests run in parallel) a single
        // run's time is mostly someone else's.
        let time = |n: usize| {
            let text = "large ".repeat(n);
            (0..3)
                .map(|_| {
                    let started = std::time::Instant::now();
                    let analysis = nlu.analyse(&text);
                    assert_eq!(analysis.toks.len(), n);
                    started.elapsed()
                })
                .min()
                .unwrap()
        };
        time(1_000);
        let (short, long) = (time(5_000), time(20_000));
        let ratio = long.as_secs_f64() / short.as_secs_f64().max(1e-6);
        assert!(
            ratio < 8.0,
            "4x the text took {ratio:.1}x the time ({short:?} -> {long:?})"
        );
    }

    #[test]
    fn slot_splitting() {
        assert_eq!(
            split_slots("a {size} pizza {x"),
            [Ok("a "), Err("size"), Ok(" pizza {x")]
        );
    }
}
