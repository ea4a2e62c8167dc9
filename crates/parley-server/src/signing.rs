//! Signed stateless state.
//!
//! In the stateless flavour the client keeps the conversation state. The server signs every
//! state it returns (HMAC-SHA256 over the state's JSON, bound to the project and the version)
//! and refuses a state whose signature is missing or wrong, so a client cannot edit its
//! variables or its place in the flow, nor replay a state in another project or version.
//! The secret is generated on first start and kept in the data directory (or given by option).

use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use parley_protocol::State;
use serde_json::Value;
use sha2::Sha256;

use crate::error::ApiError;

const SIGNATURE_KEY: &str = "signature";
const SECRET_FILE: &str = "state-secret";

/// Signs and verifies states with the server's secret.
#[derive(Clone)]
pub struct Signer {
    key: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer { key: <secret> }")
    }
}

impl Signer {
    pub fn new(key: [u8; 32]) -> Signer {
        Signer { key }
    }

    /// A signer with a fresh random key (tests, and servers that need no restart survival).
    pub fn random() -> std::io::Result<Signer> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(std::io::Error::other)?;
        Ok(Signer { key })
    }

    /// The key in `dir/state-secret` (hex), made on first use with owner-only permissions.
    pub fn load_or_create(dir: &Path) -> std::io::Result<Signer> {
        let path = dir.join(SECRET_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let key = from_hex(text.trim()).ok_or_else(|| {
                    std::io::Error::other(format!("{} is not a 64-digit hex key", path.display()))
                })?;
                Ok(Signer { key })
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

    fn mac(&self, project: &str, version: &str, state: &State) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .expect("HMAC takes keys of any length");
        // Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
        for part in [project, version] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        // serde_json writes maps in key order: the same state always gives the same bytes.
        // They stream into the MAC: no copy of the state's JSON is made.
        let mut sink = MacWriter(&mut mac);
        let _infallible = serde_json::to_writer(&mut sink, state);
        mac
    }

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

    /// Adds the signature to a state the server is about to return.
    pub fn sign(&self, project: &str, version: &str, mut state: State) -> State {
        state.extra.remove(SIGNATURE_KEY);
        let tag = self.mac(project, version, &state).finalize().into_bytes();
        state
            .extra
            .insert(SIGNATURE_KEY.to_owned(), Value::String(to_hex(&tag)));
        state
    }

    /// Checks the signature of a state a client sent, and returns the state without it.
    pub fn verify(
        &self,
        project: &str,
        version: &str,
        mut state: State,
    ) -> Result<State, ApiError> {
        let signature = match state.extra.remove(SIGNATURE_KEY) {
            Some(Value::String(s)) => s,
            _ => {
                return Err(ApiError::conflict(
                    "state_unsigned",
                    "the state has no signature: send back the state exactly as this server returned it, or none to start over",
                ));
            }
        };
        let tag = from_hex_vec(&signature).unwrap_or_default();
        // `verify_slice` compares in constant time.
        self.mac(project, version, &state)
            .verify_slice(&tag)
            .map_err(|_| {
                ApiError::conflict(
                    "state_forged",
                    "the state's signature does not match: it was changed, or it belongs to another project, version or server",
                )
            })?;
        Ok(state)
    }
}

/// Feeds what serde_json writes to the MAC.
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

fn from_hex_vec(text: &str) -> Option<Vec<u8>> {
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
            signer.verify("p", "v1", edited).unwrap_err().code,
            "state_forged"
        );
        assert_eq!(
            signer.verify("p", "v2", signed.clone()).unwrap_err().code,
            "state_forged"
        );
        assert_eq!(
            signer.verify("q", "v1", signed.clone()).unwrap_err().code,
            "state_forged"
        );
        let other = Signer::new([8; 32]);
        assert_eq!(
            other.verify("p", "v1", signed.clone()).unwrap_err().code,
            "state_forged"
        );
        let mut garbage = signed;
        garbage.extra.insert("signature".into(), "zz".into());
        assert_eq!(
            signer.verify("p", "v1", garbage).unwrap_err().code,
            "state_forged"
        );
        assert_eq!(
            signer.verify("p", "v1", state()).unwrap_err().code,
            "state_unsigned"
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
