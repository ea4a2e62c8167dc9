//! Any bytes as a project file: parsing, validation and, when a project compiles, a short
//! conversation must return results or errors, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley_engine::{Context, Input, Project, compile, step};
use parley_protocol::Request;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(project) = Project::from_json(text) else {
        return;
    };
    let Ok(compiled) = compile(project) else {
        return;
    };
    for version in compiled.versions() {
        let mut state = None;
        for request in [Request::launch(), Request::text("hello"), Request::text("2")] {
            if let Ok(turn) = step(version, state.as_ref(), Input::Request(request), &Context::default()) {
                state = Some(turn.state);
            }
        }
    }
});
