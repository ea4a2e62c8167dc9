//! `cargo xtask test`'s scale-out step: Debian's `nginx` (installed when missing), round-robin in
//! front of three `parley serve` sharing one PostgreSQL database, the widget and Voiceflow's
//! clients driven through it in Chromium. `e2e/nginx.cjs` starts the servers and nginx for each
//! scenario (it kills one mid-conversation); this installs what it needs and runs it, on the
//! throwaway PostgreSQL the storage tests use (a fresh database per scenario).

use anyhow::{Result, bail};

use crate::cmd::{Counts, run_tests};
use crate::postgres;
use crate::tools::{self, Browser};

/// Runs the scenarios of `e2e/nginx.cjs` (those named "through nginx") with `e2e/run.cjs`,
/// against the release build in `dist/` (the widget step builds it).
pub(crate) fn scale_out(browser: &Browser, database_url: &str) -> Result<Counts> {
    let nginx = tools::ensure_nginx()?;
    let psql = postgres::psql()?;
    let counts = run_tests(
        crate::test::e2e_runner(browser)?
            .env("PARLEY_E2E_ONLY", "through nginx")
            .env("PARLEY_NGINX", &nginx)
            .env("PARLEY_PSQL", &psql)
            .env("PARLEY_E2E_DATABASE_URL", database_url),
    )?;
    // Skipped scenarios would pass for a clean run: there are eight.
    if counts.passed < 8 || counts.failed > 0 {
        bail!(
            "the scale-out run reported {} passed, {} failed (8 expected)",
            counts.passed,
            counts.failed
        );
    }
    Ok(counts)
}
