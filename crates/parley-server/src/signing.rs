//! Signed stateless state.
//!
//! In the stateless flavour the client keeps the conversation state. The server signs every
//! state it returns (HMAC-SHA256 over the state's RFC 8785 canonical JSON, bound to the project
//! and the version)
//! and refuses a state whose signature is missing or wrong, so a client cannot edit its
//! variables or its place in the flow, nor replay a state in another project or version.
//! The secret is generated on first start and kept in the data directory (or given by option).
//! A fleet rotates it with a list: the server signs with the first secret and accepts what any
//! of them signed, so conversations signed before the rotation go on (see
//! [`Signer::with_previous`]).

use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use parley_protocol::State;
use serde_json::Value;
use sha2::Sha256;

use crate::error::ApiError;

/// Why a client's state was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The state carries no signature.
    #[error(
        "the state has no signature: send back the state exactly as this server returned it, \
         or none to start over"
    )]
    Unsigned,
    /// The signature does not match the state.
    #[error(
        "the state's signature does not match: it was changed, or it belongs to another \
         project, version or server"
    )]
    Forged,
    /// The conversation is older than the project lets a stateless state live.
    #[error(
        "the state has expired: this project keeps a stateless conversation for {max_age_secs} s \
         from its start; start a new conversation (send no state)"
    )]
    Expired { max_age_secs: u64 },
}

impl SignatureError {
    /// The stable error code on the wire.
    pub fn code(self) -> &'static str {
        match self {
            SignatureError::Unsigned => "state_unsigned",
            SignatureError::Forged => "state_forged",
            SignatureError::Expired { .. } => "state_expired",
        }
    }
}

impl From<SignatureError> for ApiError {
    fn from(e: SignatureError) -> ApiError {
        ApiError::conflict(e.code(), e.to_string())
    }
}

const SIGNATURE_KEY: &str = "signature";
/// When the conversation's first state was signed (Unix seconds), inside the signed state.
///
/// Key decision: a state's time is its conversation's start, not its own signing: every state
/// a turn answers keeps the time of the state it was given, so the same state and request
/// still give the same bytes (the clock is read only for a conversation's first state, which
/// has no state to follow from). A project's maximum age is thus a conversation's lifetime, after which its
/// states, the last one included, are refused (`state_expired`): a state cannot be replayed
/// for longer than that.
pub const SIGNED_AT_KEY: &str = "signedAt";
const SECRET_FILE: &str = "state-secret";

/// Signs and verifies states with the server's secret.
#[derive(Clone)]
pub struct Signer {
    /// What signs (and seeds, and tags v4 session keys).
    key: [u8; 32],
    /// Older secrets still accepted (a rotation under way): tried only when `key` does not
    /// verify, so they cost nothing on a state signed with `key`.
    previous: Vec<[u8; 32]>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer { key: <secret> }")
    }
}

impl Signer {
    pub fn new(key: [u8; 32]) -> Signer {
        Signer {
            key,
            previous: Vec::new(),
        }
    }

    /// The same signer, also accepting what `previous` secrets signed (states and v4 session
    /// keys): a fleet rotating its secret gives every server `[new, old]`, then drops `old`
    /// once the conversations it signed have ended.
    pub fn with_previous(mut self, previous: Vec<[u8; 32]>) -> Signer {
        self.previous = previous;
        self
    }

    /// A signer with a fresh random key (tests, and servers that need no restart survival).
    pub fn random() -> std::io::Result<Signer> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(std::io::Error::other)?;
        Ok(Signer::new(key))
    }

    /// The key in `dir/state-secret` (hex), made on first use with owner-only permissions.
    pub fn load_or_create(dir: &Path) -> std::io::Result<Signer> {
        let path = dir.join(SECRET_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let key = from_hex(text.trim()).ok_or_else(|| {
                    std::io::Error::other(format!("{} is not a 64-digit hex key", path.display()))
                })?;
                Ok(Signer::new(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let signer = Signer::random()?;
                std::fs::create_dir_all(dir)?;
                write_private(&path, &to_hex(&signer.key))?;
                Ok(signer)
            }
            Err(e) => Err(e),
        }
    }

    /// The MAC of a state, or `None` when the state has no canonical form (then nothing is
    /// signed and nothing verifies: never a MAC over part of a state).
    fn mac(&self, project: &str, version: &str, state: &State) -> Option<Hmac<Sha256>> {
        mac_with(&self.key, project, version, state)
    }
}

/// [`Signer::mac`] with a given key.
fn mac_with(key: &[u8; 32], project: &str, version: &str, state: &State) -> Option<Hmac<Sha256>> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    // Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
    for part in [project, version] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    // The canonical form (RFC 8785: keys in UTF-16 order, numbers as ECMAScript writes
    // them, minimal escapes) is what any client's parse and re-serialise leaves unchanged:
    // `14.0` and `14`, `1e3` and `1000`, `\u00e9` and `é` sign alike. The canonicaliser
    // buffers objects and writes the outermost only at its end, so a failure would leave
    // the MAC over nothing of the state: its answer is checked, and a failure signs nothing.
    let mut sink = MacWriter(&mut mac);
    match serde_json_canonicalizer::to_writer(state, &mut sink) {
        Ok(()) => Some(mac),
        Err(e) => {
            tracing::error!("a state has no canonical JSON form: {e}");
            None
        }
    }
}

impl Signer {
    /// A seed for a conversation that arrives without a state: derived from the request (keyed
    /// by the secret), so that the same request without state always gets the same answer.
    pub fn seed_for(&self, request: &[u8]) -> u64 {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .expect("HMAC takes keys of any length");
        mac.update(b"seed");
        mac.update(request);
        let tag = mac.finalize().into_bytes();
        u64::from_be_bytes(tag[..8].try_into().unwrap_or_default())
    }

    /// Adds the signature to a state the server is about to return, with the conversation's
    /// start time ([`SIGNED_AT_KEY`]): `signed_at`, or now when the conversation starts here.
    pub fn sign_at(
        &self,
        project: &str,
        version: &str,
        mut state: State,
        signed_at: Option<i64>,
    ) -> State {
        let at = signed_at.unwrap_or_else(crate::keys::now);
        state
            .extra
            .insert(SIGNED_AT_KEY.to_owned(), Value::from(at));
        self.sign(project, version, state)
    }

    /// Checks a state's signature and its age: `max_age` (the project's) after the
    /// conversation's start, as of `now` (Unix seconds). Answers the state without its
    /// signature and its start time, and that time (`None`: a state signed before states
    /// carried one, which is refused only when a maximum age is set).
    pub fn verify_fresh(
        &self,
        project: &str,
        version: &str,
        state: State,
        max_age: Option<std::time::Duration>,
        now: i64,
    ) -> Result<(State, Option<i64>), SignatureError> {
        let mut state = self.verify(project, version, state)?;
        let signed_at = state.extra.remove(SIGNED_AT_KEY).and_then(|v| v.as_i64());
        if let Some(max_age) = max_age {
            let max_age_secs = max_age.as_secs();
            let limit = i64::try_from(max_age_secs).unwrap_or(i64::MAX);
            if signed_at.is_none_or(|at| now.saturating_sub(at) > limit) {
                return Err(SignatureError::Expired { max_age_secs });
            }
        }
        Ok((state, signed_at))
    }

    /// Adds the signature to a state the server is about to return (as it is: see
    /// [`Signer::sign_at`] for the start time).
    pub fn sign(&self, project: &str, version: &str, mut state: State) -> State {
        state.extra.remove(SIGNATURE_KEY);
        // No canonical form: an empty signature, which never verifies.
        let tag = self
            .mac(project, version, &state)
            .map(|mac| to_hex(&mac.finalize().into_bytes()))
            .unwrap_or_default();
        state
            .extra
            .insert(SIGNATURE_KEY.to_owned(), Value::String(tag));
        state
    }

    /// Checks the signature of a state a client sent, and returns the state without it.
    pub fn verify(
        &self,
        project: &str,
        version: &str,
        mut state: State,
    ) -> Result<State, SignatureError> {
        let signature = match state.extra.remove(SIGNATURE_KEY) {
            Some(Value::String(s)) => s,
            _ => return Err(SignatureError::Unsigned),
        };
        // Only the lowercase hex this server writes: one spelling per signature.
        let tag = from_hex_vec(&signature)
            .filter(|_| !signature.bytes().any(|b| b.is_ascii_uppercase()))
            .unwrap_or_default();
        // `verify_slice` compares in constant time; the previous secrets only after the current
        // one failed (which secret verified says nothing about the state).
        let verifies = |key: &[u8; 32]| {
            mac_with(key, project, version, &state)
                .is_some_and(|mac| mac.verify_slice(&tag).is_ok())
        };
        if verifies(&self.key) || self.previous.iter().any(verifies) {
            Ok(state)
        } else {
            Err(SignatureError::Forged)
        }
    }
}

impl Signer {
    /// A tag over `data` for another use of the secret than states (`domain` keeps the uses
    /// apart): v4 session keys.
    pub fn tag(&self, domain: &str, data: &[u8]) -> [u8; 32] {
        tag_with(&self.key, domain, data)
    }

    /// Whether `tag` is [`Signer::tag`] of `data` under this secret or a previous one,
    /// compared in constant time.
    pub fn verify_tag(&self, domain: &str, data: &[u8], tag: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        tag.len() == 32
            && std::iter::once(&self.key)
                .chain(&self.previous)
                .any(|key| bool::from(tag_with(key, domain, data).ct_eq(tag)))
    }
}

fn tag_with(key: &[u8; 32], domain: &str, data: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(&(domain.len() as u64).to_be_bytes());
    mac.update(domain.as_bytes());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Feeds what the serialiser writes to the MAC.
struct MacWriter<'a>(&'a mut Hmac<Sha256>);

impl std::io::Write for MacWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Lowercase hex, without a `format!` per byte (signing runs on every stateless turn).
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

pub(crate) fn from_hex_vec(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

fn from_hex(text: &str) -> Option<[u8; 32]> {
    from_hex_vec(text)?.try_into().ok()
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        serde_json::from_value(serde_json::json!({
            "stack": [{ "diagramID": "main", "nodeID": "ask" }],
            "storage": { "parley": { "seed": 1 } },
            "variables": { "admin": false, "name": "Kim" }
        }))
        .unwrap()
    }

    #[test]
    fn a_signed_state_verifies_and_loses_its_signature() {
        let signer = Signer::new([7; 32]);
        let signed = signer.sign("p", "v1", state());
        assert!(signed.extra.contains_key("signature"));
        // Through JSON, as a client would keep it.
        let back: State = serde_json::from_str(&serde_json::to_string(&signed).unwrap()).unwrap();
        assert_eq!(signer.verify("p", "v1", back).unwrap(), state());
    }

    #[test]
    fn edits_other_bindings_and_other_keys_are_refused() {
        let signer = Signer::new([7; 32]);
        let signed = signer.sign("p", "v1", state());
        let mut edited = signed.clone();
        edited.variables.insert("admin".into(), true.into());
        assert_eq!(
            signer.verify("p", "v1", edited).unwrap_err().code(),
            "state_forged"
        );
        assert_eq!(
            signer.verify("p", "v2", signed.clone()).unwrap_err().code(),
            "state_forged"
        );
        assert_eq!(
            signer.verify("q", "v1", signed.clone()).unwrap_err().code(),
            "state_forged"
        );
        let other = Signer::new([8; 32]);
        assert_eq!(
            other.verify("p", "v1", signed.clone()).unwrap_err().code(),
            "state_forged"
        );
        let mut garbage = signed;
        garbage.extra.insert("signature".into(), "zz".into());
        assert_eq!(
            signer.verify("p", "v1", garbage).unwrap_err().code(),
            "state_forged"
        );
        assert_eq!(
            signer.verify("p", "v1", state()).unwrap_err().code(),
            "state_unsigned"
        );
    }

    /// A state with every number and string form that clients rewrite.
    fn tricky() -> State {
        serde_json::from_str(
            r#"{
                "stack": [{ "diagramID": "main", "nodeID": "ask" }],
                "storage": { "parley": { "seed": "00000000000000ff" } },
                "variables": {
                    "whole": 14.0, "negative_zero": -0.0, "big": 9007199254740993,
                    "exp": 1e3, "small": 1.5e-7, "tenth": 0.1, "third": 0.3333333333333333,
                    "escaped": "caf\u00e9 \u2603 \ud83c\udf55 \"q\" \\ \/ \t",
                    "emoji": "🍕", "nested": { "b": [1.0, 2.50, { "z": 1, "a": 2 }], "a": null },
                    "é": 1, "e": 2, "Z": 3, "\u0000ctl": true
                }
            }"#,
        )
        .unwrap()
    }

    /// Runs a client's parse and re-serialise over `json`; `None` if the program is missing.
    fn through(program: &str, args: &[&str], json: &str) -> Option<String> {
        use std::io::Write;
        let mut child = std::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .ok()?;
        child.stdin.take()?.write_all(json.as_bytes()).ok()?;
        let out = child.wait_with_output().ok()?;
        assert!(out.status.success(), "{program} failed");
        Some(String::from_utf8(out.stdout).unwrap())
    }

    #[test]
    fn a_state_rewritten_by_any_client_still_verifies() {
        let signer = Signer::new([7; 32]);
        let signed = serde_json::to_string(&signer.sign("p", "v1", tricky())).unwrap();
        let mut rewritten = vec![
            // Rewritten by hand the ways clients do: whole floats, exponents, escapes, order.
            signed.replace("14.0", "14"),
            signed.replace("1000.0", "1e3"),
            signed
                .replace("é", "\\u00e9")
                .replace("🍕", "\\ud83c\\udf55"),
        ];
        // JavaScript (as browsers and Node keep a state) and Python's json module: the real
        // parsers, not an imitation. The CI machine has both.
        let js = "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>\
                  process.stdout.write(JSON.stringify(JSON.parse(s))))";
        let reorder = "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{\
                       const r=v=>Array.isArray(v)?v.map(r):v&&typeof v==='object'?\
                       Object.fromEntries(Object.entries(v).reverse().map(([k,x])=>[k,r(x)])):v;\
                       process.stdout.write(JSON.stringify(r(JSON.parse(s)),null,2))})";
        let py = "import json,sys;sys.stdout.write(json.dumps(json.load(sys.stdin)))";
        for (program, args) in [
            ("node", vec!["-e", js]),
            ("node", vec!["-e", reorder]),
            ("python3", vec!["-c", py]),
        ] {
            let out = through(program, &args, &signed)
                .unwrap_or_else(|| panic!("`{program}` is needed by this test"));
            assert_ne!(
                out, signed,
                "{program} rewrote nothing: the test would prove nothing"
            );
            rewritten.push(out);
        }
        for text in rewritten {
            let back: State = serde_json::from_str(&text).unwrap();
            let verified = signer.verify("p", "v1", back.clone());
            assert!(verified.is_ok(), "refused after a rewrite: {text}");
            // An edited value is still refused, in the rewritten form too.
            let mut edited = back;
            edited.variables.insert("whole".into(), 15.into());
            assert_eq!(
                signer.verify("p", "v1", edited).unwrap_err(),
                SignatureError::Forged
            );
        }
    }

    #[test]
    fn a_state_carries_its_conversation_start_and_expires_after_the_max_age() {
        let signer = Signer::new([3; 32]);
        let day = std::time::Duration::from_secs(86_400);
        let signed = signer.sign_at("p", "v1", state(), Some(1_000));
        assert_eq!(signed.extra[SIGNED_AT_KEY], 1_000);
        // Within the age, the time comes back, to be kept in the next state.
        let (verified, at) = signer
            .verify_fresh("p", "v1", signed.clone(), Some(day), 1_000 + 86_400)
            .unwrap();
        assert_eq!(at, Some(1_000));
        assert!(!verified.extra.contains_key(SIGNED_AT_KEY));
        assert_eq!(
            signer.verify_fresh("p", "v1", signed.clone(), Some(day), 1_000 + 86_401),
            Err(SignatureError::Expired {
                max_age_secs: 86_400
            })
        );
        assert_eq!(
            SignatureError::Expired { max_age_secs: 1 }.code(),
            "state_expired"
        );
        // No maximum: any age.
        assert!(
            signer
                .verify_fresh("p", "v1", signed.clone(), None, i64::MAX)
                .is_ok()
        );
        // The time is signed: moving it forward breaks the signature.
        let mut moved = signed;
        moved.extra.insert(SIGNED_AT_KEY.into(), 9_999.into());
        assert_eq!(
            signer.verify_fresh("p", "v1", moved, Some(day), 10_000),
            Err(SignatureError::Forged)
        );
        // A state from before states carried a time: fine without a maximum, refused with one.
        let old = signer.sign("p", "v1", state());
        assert!(signer.verify_fresh("p", "v1", old.clone(), None, 5).is_ok());
        assert!(matches!(
            signer.verify_fresh("p", "v1", old, Some(day), 5),
            Err(SignatureError::Expired { .. })
        ));
    }

    #[test]
    fn a_rotated_secret_still_verifies_what_the_old_one_signed() {
        let (old, new) = (Signer::new([1; 32]), Signer::new([2; 32]));
        let rotating = Signer::new([2; 32]).with_previous(vec![[1; 32]]);
        let signed_before = old.sign("p", "v1", state());
        assert_eq!(
            rotating.verify("p", "v1", signed_before.clone()).unwrap(),
            state()
        );
        // It signs with the first secret only: what it signs, the new secret alone verifies.
        let signed_now = rotating.sign("p", "v1", state());
        assert_eq!(signed_now, new.sign("p", "v1", state()));
        assert!(old.verify("p", "v1", signed_now).is_err());
        // Once the old secret is dropped, its states are refused.
        assert_eq!(
            new.verify("p", "v1", signed_before),
            Err(SignatureError::Forged)
        );
        let tag = old.tag("session", b"x");
        assert!(rotating.verify_tag("session", b"x", &tag));
        assert!(!new.verify_tag("session", b"x", &tag));
        assert!(!rotating.verify_tag("session", b"y", &tag));
    }

    #[test]
    fn a_signature_has_one_spelling() {
        let signer = Signer::new([7; 32]);
        let mut signed = signer.sign("p", "v1", state());
        let Some(Value::String(tag)) = signed.extra.get("signature").cloned() else {
            panic!()
        };
        signed
            .extra
            .insert("signature".into(), tag.to_ascii_uppercase().into());
        assert_eq!(
            signer.verify("p", "v1", signed).unwrap_err(),
            SignatureError::Forged
        );
    }

    #[test]
    fn the_secret_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let a = Signer::load_or_create(dir.path()).unwrap();
        let b = Signer::load_or_create(dir.path()).unwrap();
        assert_eq!(a.key, b.key);
        std::fs::write(dir.path().join(SECRET_FILE), "not hex").unwrap();
        assert!(Signer::load_or_create(dir.path()).is_err());
    }
}
