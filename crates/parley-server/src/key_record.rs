//! What the store keeps of an API key, and what a key may do: a leaf module that both the
//! key checks ([`crate::keys`]) and the stores ([`crate::store`]) use.

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Interact only, from allowed origins, rate limited: for web pages.
    Public,
    /// Everything: for servers and operators.
    Secret,
}

impl Scope {
    /// How a new key of this scope starts: Voiceflow's shape, `VF.<kind>.`, which Voiceflow's
    /// client libraries check (`@voiceflow/runtime-client-js` wants `VF.` and exactly two dots).
    /// `DM` is Voiceflow's kind for a project's Dialog Manager key; `PK` marks a public one.
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Scope::Public => "VF.PK.",
            Scope::Secret => "VF.DM.",
        }
    }
}

impl std::str::FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Scope, String> {
        match s {
            "public" => Ok(Scope::Public),
            "secret" => Ok(Scope::Secret),
            other => Err(format!("a scope is `public` or `secret`, not `{other}`")),
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scope::Public => "public",
            Scope::Secret => "secret",
        })
    }
}

/// A stored key: everything but the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub id: String,
    pub project: String,
    pub scope: Scope,
    /// What the key is for, for humans.
    pub name: String,
    /// SHA-256 of the whole key.
    pub hash: [u8; 32],
    /// Requests per minute for the key as a whole (public keys).
    pub per_minute: u32,
    /// Requests per minute from one client address (public keys).
    pub per_client_per_minute: u32,
    /// Unix seconds.
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
