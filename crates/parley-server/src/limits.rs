//! What one client may cost the server: connections, time to send a request, CPU per turn,
//! sessions kept and how long, how old a stateless state may be. `parley serve` takes them as
//! options (`--help` lists them); [`Limits::default`] is what a server gets without them.

use std::time::Duration;

/// The server's bounds (see each option's help for what it bounds and why).
#[derive(Debug, Clone, clap::Args)]
pub struct Limits {
    /// Seconds a connection may take to send a complete request head, counted from when it
    /// opened or got its last answer: cuts slow headers (slowloris) and closes idle keep-alive
    /// connections (hyper's header-read timer runs while a connection waits for a request).
    #[arg(long, default_value_t = 10)]
    pub header_timeout_secs: u64,
    /// Seconds a request may take to send its whole body; a slower one gets 408 and the
    /// connection is closed.
    #[arg(long, default_value_t = 10)]
    pub body_timeout_secs: u64,
    /// Connections served at once; above it a connection gets a 503 and is closed. Default:
    /// the open-file limit (raised to its hard limit at start) less 256 for the store, the
    /// widget's files and API calls, at most 16,384.
    #[arg(long)]
    pub max_connections: Option<usize>,
    /// The longest `text` (or intent query) a turn accepts, in characters; a longer one gets
    /// 413 `utterance_too_long`.
    #[arg(long, default_value_t = 2000)]
    pub max_utterance_chars: usize,
    /// Milliseconds of engine work one turn may take (besides the engine's step budget; API
    /// calls have their own timeouts); a turn over it gets 503 `turn_too_long`.
    #[arg(long, default_value_t = 2000)]
    pub turn_budget_ms: u64,
    /// Turns computed at once (engine steps run on blocking threads, this many at a time, so
    /// that a long turn never holds up the async workers that answer other requests).
    /// Default: the number of CPUs.
    #[arg(long)]
    pub max_parallel_turns: Option<usize>,
    /// How long a stateful session is kept after its last turn (`30d`, `12h`, `90m`, `45s`);
    /// a background sweep, once a minute, removes older ones. `0` keeps sessions for ever.
    #[arg(long, default_value = "30d", value_parser = parse_duration)]
    pub session_idle: Duration,
    /// A project's own session lifetime, as `PROJECT=DURATION`; repeat for several.
    #[arg(long = "project-session-idle", value_parser = parse_override)]
    pub project_session_idle: Vec<(String, Duration)>,
    /// New stateful sessions one client address may start per minute on a project without
    /// keys (its public route is open to anyone).
    #[arg(long, default_value_t = 30)]
    pub new_sessions_per_minute: u32,
    /// Seconds a stateful request waits for another request of the same user to finish (on
    /// this server or, with PostgreSQL, on any server sharing the database) before it gets 503
    /// `user_busy` with `Retry-After`.
    #[arg(long, default_value_t = 10)]
    pub user_wait_secs: u64,
    /// How long after its first state a stateless conversation's states are accepted
    /// (`24h`, …); older ones get 409 `state_expired`. `0`: for ever.
    #[arg(long, default_value = "0", value_parser = parse_duration)]
    pub state_max_age: Duration,
    /// A project's own stateless conversation lifetime, as `PROJECT=DURATION`; repeat for
    /// several.
    #[arg(long = "project-state-max-age", value_parser = parse_override)]
    pub project_state_max_age: Vec<(String, Duration)>,
}

/// `30d`, `12h`, `90m`, `45s`, or `0`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration: a whole number and d, h, m or s (`30d`)");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let split = text
        .len()
        .checked_sub(1)
        .filter(|&i| text.is_char_boundary(i))
        .ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let unit = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return Err(bad()),
    };
    number
        .checked_mul(unit)
        .map(Duration::from_secs)
        .ok_or_else(bad)
}

fn parse_override(text: &str) -> Result<(String, Duration), String> {
    let (project, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not PROJECT=DURATION"))?;
    Ok((project.to_owned(), parse_duration(value)?))
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout_secs: 10,
            body_timeout_secs: 10,
            max_connections: None,
            max_utterance_chars: 2000,
            turn_budget_ms: 2000,
            max_parallel_turns: None,
            session_idle: Duration::from_secs(30 * 86_400),
            project_session_idle: Vec::new(),
            new_sessions_per_minute: 30,
            user_wait_secs: 10,
            state_max_age: Duration::ZERO,
            project_state_max_age: Vec::new(),
        }
    }
}

impl Limits {
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_secs.max(1))
    }

    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_secs.max(1))
    }

    pub fn user_wait(&self) -> Duration {
        Duration::from_secs(self.user_wait_secs.max(1))
    }

    pub fn turn_budget(&self) -> Duration {
        Duration::from_millis(self.turn_budget_ms.max(1))
    }

    pub fn parallel_turns(&self) -> usize {
        self.max_parallel_turns.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
        })
    }

    /// How long `project`'s sessions are kept after their last turn (`None`: for ever).
    pub fn session_idle_of(&self, project: &str) -> Option<Duration> {
        let idle = lookup(&self.project_session_idle, project).unwrap_or(self.session_idle);
        (!idle.is_zero()).then_some(idle)
    }

    /// How long `project`'s stateless conversations' states stay valid (`None`: for ever).
    pub fn state_max_age_of(&self, project: &str) -> Option<Duration> {
        let age = lookup(&self.project_state_max_age, project).unwrap_or(self.state_max_age);
        (!age.is_zero()).then_some(age)
    }

    /// The projects the overrides name that are not among `known` (a typo would silently do
    /// nothing, so the server refuses to start).
    pub fn unknown_projects<'a>(&'a self, known: &[&str]) -> Vec<&'a str> {
        self.project_session_idle
            .iter()
            .chain(&self.project_state_max_age)
            .map(|(p, _)| p.as_str())
            .filter(|p| !known.contains(p))
            .collect()
    }
}

fn lookup(overrides: &[(String, Duration)], project: &str) -> Option<Duration> {
    // The last one given wins, as with any repeated option.
    overrides
        .iter()
        .rev()
        .find(|(p, _)| p == project)
        .map(|(_, v)| *v)
}

/// Raises the soft limit of open files to the hard limit (each connection is a file; 1,024,
/// a common default, is too few for a server), and answers the limit in force.
pub fn raise_open_files() -> u64 {
    #[cfg(unix)]
    {
        match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(limit) => limit,
            Err(e) => {
                tracing::warn!("cannot raise the open-file limit: {e}");
                rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
            }
        }
    }
    #[cfg(not(unix))]
    {
        8192
    }
}

/// The connection cap for an open-file limit: leave room for everything else a server opens.
pub fn connections_for(open_files: u64) -> usize {
    usize::try_from(open_files.saturating_sub(256).clamp(16, 16_384)).unwrap_or(16_384)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_overrides() {
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(2_592_000)));
        assert_eq!(parse_duration("90m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for bad in ["", "d", "30", "3.5h", "-1d", "30 d", "30w", "é"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        let limits = Limits {
            project_session_idle: vec![parse_override("pizza=1h").unwrap()],
            project_state_max_age: vec![parse_override("pizza=10m").unwrap()],
            ..Limits::default()
        };
        assert_eq!(
            limits.session_idle_of("pizza"),
            Some(Duration::from_secs(3_600))
        );
        assert_eq!(
            limits.session_idle_of("other"),
            Some(Duration::from_secs(2_592_000))
        );
        assert_eq!(
            limits.state_max_age_of("pizza"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(limits.state_max_age_of("other"), None);
        assert_eq!(limits.unknown_projects(&["other"]), ["pizza", "pizza"]);
        assert!(parse_override("pizza").is_err());
    }
}
