//! Parley's dialog engine: it runs a project's flow graph one turn at a time.
//!
//! Key decision: the engine is sans-IO. `step(version, state, request, context)` takes the
//! state and the user's request and returns the new state and the traces; time, the random seed
//! and the results of API calls come in through the call, and an API-call block or a custom
//! action suspends the conversation with an effect that the caller performs. It depends on no
//! async runtime, network, clock or global RNG, so the stateless and the stateful endpoints of
//! the server share one deterministic step.
//!
//! This crate is empty until the engine issue lands: the project model, validation, the
//! interpreter, expressions and the NLU arrive together, with their data tests.
