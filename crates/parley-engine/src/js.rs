//! JavaScript expressions and code steps, for Voiceflow projects (issue 18): their conditions
//! (`customer_name != "" && customer_name != 0`), set steps (`count + 1`) and code steps are
//! JavaScript, run by QuickJS (through `rquickjs`).
//!
//! Voiceflow's runtime runs each one in a fresh isolate (10 MB, 1 s) with the conversation's
//! variables as globals, and reads the variables back after the code ran. So does this, with
//! the engine's own rules: every evaluation gets a new QuickJS runtime and context (nothing
//! outlives it), the context has no `Date`, `Promise`, `Proxy`, typed arrays or performance
//! timer (no clock: the engine reads none), `Math.random` draws from the conversation's seed
//! (the same state and request give the same answer), and there is no module loader, no IO and
//! nothing of the host but the variables' values (copied in and out as JSON). Limits: memory
//! ([`MEMORY_LIMIT`]), stack ([`STACK_LIMIT`]) and work: QuickJS calls its interrupt hook about
//! every 10,000 operations, and the hook stops the script after [`INTERRUPTS`] calls (a count,
//! not a clock, so the limit is deterministic too).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;

use rquickjs::context::{EvalOptions, intrinsic};
use rquickjs::{Context, Ctx, Runtime};
use serde_json::Value;

/// The most memory one evaluation may allocate (Voiceflow's isolates: 10 MB).
pub(crate) const MEMORY_LIMIT: usize = 8 * 1024 * 1024;
/// The most native stack the interpreter may use: deep recursion fails, it does not crash.
pub(crate) const STACK_LIMIT: usize = 256 * 1024;
/// Interrupt-hook calls (each about 10,000 interpreter operations) before a script is stopped.
pub(crate) const INTERRUPTS: u32 = 100;

/// The context's built-ins: the base objects (Object, Array, String, Math, …) always, plus
/// these; not `Date`, `Promise`, `Proxy`, typed arrays or `performance`.
type Intrinsics = (
    intrinsic::Eval,
    intrinsic::RegExpCompiler,
    intrinsic::RegExp,
    intrinsic::Json,
    intrinsic::MapSet,
);

/// Checks that `source` is one JavaScript expression, without running it: it compiles as a
/// function's body that is never called.
pub(crate) fn check_expression(source: &str) -> Result<(), String> {
    sandbox(&BTreeMap::new(), 0, |ctx| {
        eval(ctx, &format!("(function () {{ return (\n{source}\n); }});")).map(|_| ())
    })
}

/// Checks that `source` is a JavaScript program (a code step), without running it.
pub(crate) fn check_code(source: &str) -> Result<(), String> {
    sandbox(&BTreeMap::new(), 0, |ctx| {
        eval(ctx, &format!("(function () {{\n{source}\n}});")).map(|_| ())
    })
}

/// The value of an expression over the variables. `undefined`, functions and `NaN` are `null`
/// (JSON has none of them; Voiceflow's set step also leaves `NaN` unset).
pub(crate) fn evaluate(
    source: &str,
    variables: &BTreeMap<String, Value>,
    seed: u64,
) -> Result<Value, String> {
    let (value, _) = run(&format!("(\n{source}\n)"), variables, seed, &[])?;
    Ok(value)
}

/// Whether a condition holds, by JavaScript's truthiness (`"0"` is true, `0` and `""` are not),
/// as Voiceflow's condition step reads it.
pub(crate) fn condition(
    source: &str,
    variables: &BTreeMap<String, Value>,
    seed: u64,
) -> Result<bool, String> {
    let (value, _) = run(&format!("!!(\n{source}\n)"), variables, seed, &[])?;
    Ok(value == Value::Bool(true))
}

/// What a code step did: the variables whose value changed, and the value it returned (a path's
/// label, for a step with paths).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct CodeRun {
    pub(crate) changed: BTreeMap<String, Value>,
    pub(crate) returned: Value,
}

/// Runs a code step. With `paths`, the code is a function's body whose `return` names the path
/// (as Voiceflow wraps it); otherwise it runs as a script, so `var x` at its top level is the
/// variable `x`. Only the conversation's variables are read back; any other global it makes
/// is dropped with its context.
pub(crate) fn run_code(
    code: &str,
    variables: &BTreeMap<String, Value>,
    seed: u64,
    paths: bool,
) -> Result<CodeRun, String> {
    let names: Vec<&str> = variables.keys().map(String::as_str).collect();
    let script = if paths {
        format!("(function () {{\n{code}\n}})()")
    } else {
        format!("{code}\n;undefined")
    };
    let (returned, after) = run(&script, variables, seed, &names)?;
    let changed = after
        .into_iter()
        .filter(|(name, value)| variables.get(name) != Some(value))
        .collect();
    Ok(CodeRun { changed, returned })
}

/// Runs `script` with the variables as globals: its value, and the values of `read_back` after.
fn run(
    script: &str,
    variables: &BTreeMap<String, Value>,
    seed: u64,
    read_back: &[&str],
) -> Result<(Value, BTreeMap<String, Value>), String> {
    sandbox(variables, seed, |ctx| {
        let value = eval(ctx, script)?;
        let value = to_json(ctx, value)?;
        let globals = ctx.globals();
        let mut after = BTreeMap::new();
        for name in read_back {
            let v: rquickjs::Value = globals.get(*name).map_err(|e| error_text(ctx, e))?;
            after.insert((*name).to_owned(), to_json(ctx, v)?);
        }
        Ok((value, after))
    })
}

thread_local! {
    /// This thread's QuickJS runtime and its interrupt counter. A runtime is only an allocator
    /// and limits (every evaluation gets a context of its own, and nothing of one context is
    /// seen by the next), and making one was half of an evaluation's cost.
    static RUNTIME: std::cell::RefCell<Option<(Runtime, Rc<Cell<u32>>)>> =
        const { std::cell::RefCell::new(None) };
}

fn limited_runtime() -> Result<(Runtime, Rc<Cell<u32>>), String> {
    let runtime = Runtime::new().map_err(|e| e.to_string())?;
    runtime.set_memory_limit(MEMORY_LIMIT);
    runtime.set_max_stack_size(STACK_LIMIT);
    let calls = Rc::new(Cell::new(0u32));
    let counted = Rc::clone(&calls);
    runtime.set_interrupt_handler(Some(Box::new(move || {
        counted.set(counted.get() + 1);
        counted.get() > INTERRUPTS
    })));
    Ok((runtime, calls))
}

/// A fresh context (on this thread's limited runtime) with the variables as globals and a
/// seeded `Math.random`, for `f`.
fn sandbox<T>(
    variables: &BTreeMap<String, Value>,
    seed: u64,
    f: impl FnOnce(&Ctx<'_>) -> Result<T, String>,
) -> Result<T, String> {
    let (runtime, calls) = match RUNTIME.with(|r| r.borrow_mut().take()) {
        Some(kept) => kept,
        None => limited_runtime()?,
    };
    calls.set(0);
    let result = Context::custom::<Intrinsics>(&runtime)
        .map_err(|e| e.to_string())
        .and_then(|context| {
            context.with(|ctx| {
                let globals = ctx.globals();
                for (name, value) in variables {
                    let text = serde_json::to_string(value).map_err(|e| e.to_string())?;
                    let value = ctx.json_parse(text).map_err(|e| error_text(&ctx, e))?;
                    globals
                        .set(name.as_str(), value)
                        .map_err(|e| error_text(&ctx, e))?;
                }
                // xorshift32 from the conversation's seed (never 0, which it would stay at).
                let state = (seed as u32 ^ (seed >> 32) as u32) | 1;
                eval(
                    &ctx,
                    &format!(
                        "(function () {{ let s = {state}; Math.random = function () {{ \
                         s ^= s << 13; s ^= s >>> 17; s ^= s << 5; return (s >>> 0) / 4294967296; \
                         }}; }})();"
                    ),
                )?;
                f(&ctx)
            })
        });
    let stopped = calls.get() > INTERRUPTS;
    // Cycles a script left are freed now, not counted against the next evaluation's memory.
    runtime.run_gc();
    // A runtime that ran out of memory is not trusted again.
    if !result.as_ref().is_err_and(|e| e.contains("out of memory")) {
        RUNTIME.with(|r| *r.borrow_mut() = Some((runtime, calls)));
    }
    if stopped {
        return Err(format!(
            "the script ran too long (over about {} operations)",
            INTERRUPTS as u64 * 10_000
        ));
    }
    result
}

/// Runs a script as Voiceflow's runtime does: global code, not strict (an assignment to an
/// undeclared name makes a global, which is then dropped with the context).
fn eval<'js>(ctx: &Ctx<'js>, script: &str) -> Result<rquickjs::Value<'js>, String> {
    let mut options = EvalOptions::default();
    options.strict = false;
    ctx.eval_with_options(script, options)
        .map_err(|e| error_text(ctx, e))
}

/// A JavaScript value as JSON (`undefined` and functions: `null`).
fn to_json<'js>(ctx: &Ctx<'js>, value: rquickjs::Value<'js>) -> Result<Value, String> {
    let text = ctx.json_stringify(value).map_err(|e| error_text(ctx, e))?;
    match text {
        None => Ok(Value::Null),
        Some(text) => {
            let text = text.to_string().map_err(|e| e.to_string())?;
            serde_json::from_str(&text).map_err(|e| e.to_string())
        }
    }
}

/// A JavaScript error as text: the thrown value's message (`ReferenceError: x is not defined`).
fn error_text(ctx: &Ctx<'_>, error: rquickjs::Error) -> String {
    if !matches!(error, rquickjs::Error::Exception) {
        return error.to_string();
    }
    let thrown = ctx.catch();
    if let Some(exception) = thrown.as_exception() {
        let message = exception.message().unwrap_or_default();
        let name: Option<String> = exception.get("name").ok();
        return match name {
            Some(name) if !name.is_empty() => format!("{name}: {message}"),
            _ => message,
        };
    }
    match thrown.as_string().and_then(|s| s.to_string().ok()) {
        Some(text) => format!("thrown: {text}"),
        None if thrown.is_null() => "out of memory or stopped".to_owned(),
        None => format!("thrown: a {}", thrown.type_name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn voiceflow_s_expressions() {
        let v = vars(&[
            ("customer_name", json!("Dana")),
            ("count", json!(2)),
            ("empty", json!("")),
            ("zero", json!(0)),
        ]);
        assert_eq!(
            condition(r#"customer_name != "" && customer_name != 0"#, &v, 1),
            Ok(true)
        );
        assert_eq!(condition(r#"empty != "" && empty != 0"#, &v, 1), Ok(false));
        assert_eq!(condition("zero", &v, 1), Ok(false));
        assert_eq!(condition(r#""0""#, &v, 1), Ok(true));
        assert_eq!(evaluate("count + 1", &v, 1), Ok(json!(3)));
        // JavaScript's own rules, not Rhai's: a string plus a number is a string.
        assert_eq!(evaluate(r#"count + "1""#, &v, 1), Ok(json!("21")));
        assert_eq!(evaluate("count / 0 * 0", &v, 1), Ok(Value::Null));
        assert_eq!(
            evaluate("customer_name.toUpperCase()", &v, 1),
            Ok(json!("DANA"))
        );
    }

    #[test]
    fn code_steps_change_variables_and_name_paths() {
        let v = vars(&[("count", json!(1)), ("cart", json!(["a"]))]);
        let run = run_code(
            "count = count + 1; cart.push('b'); var other = 5;",
            &v,
            1,
            false,
        )
        .unwrap();
        assert_eq!(
            run.changed,
            vars(&[("count", json!(2)), ("cart", json!(["a", "b"]))])
        );
        let run = run_code(
            "if (count > 0) { return 'many'; } return 'none';",
            &v,
            1,
            true,
        )
        .unwrap();
        assert_eq!(run.returned, json!("many"));
        assert!(run.changed.is_empty());
        let e = run_code("nope()", &v, 1, false).unwrap_err();
        assert_eq!(e, "ReferenceError: nope is not defined");
    }

    #[test]
    fn syntax_is_checked_without_running() {
        assert!(check_expression("a + ").is_err());
        // Not run: no ReferenceError, no loop.
        assert_eq!(check_expression("missing + 1"), Ok(()));
        assert_eq!(check_code("while (true) {}"), Ok(()));
        assert!(check_code("let = ;").is_err());
        assert!(check_expression("count +* 2").is_err());
        assert!(check_expression("(count").is_err());
    }

    #[test]
    fn limits_stop_runaway_scripts() {
        let v = BTreeMap::new();
        let e = run_code("while (true) {}", &v, 1, false).unwrap_err();
        assert!(e.contains("too long"), "{e}");
        let e = run_code("let s = 'x'; while (true) { s = s + s; }", &v, 1, false).unwrap_err();
        assert!(!e.is_empty());
        let e = run_code("function f() { return f() + 1; } f();", &v, 1, false).unwrap_err();
        assert!(e.contains("RangeError") || e.contains("stack"), "{e}");
    }

    /// Work that is not the interpreter's own loop is bounded too: a regular expression that
    /// backtracks for ever, a getter on a variable read back after the code ran, a `toJSON`
    /// that the copy out calls, a sort whose comparator never ends.
    #[test]
    fn limits_reach_built_ins_and_the_copy_out() {
        let v = vars(&[("count", json!(1))]);
        let e = evaluate("/(a+)+$/.test('a'.repeat(40) + 'b')", &v, 1).unwrap_err();
        assert!(e.contains("too long"), "{e}");
        let e = run_code(
            "Object.defineProperty(globalThis, 'count', { get() { while (true) {} } });",
            &v,
            1,
            false,
        )
        .unwrap_err();
        assert!(e.contains("too long"), "{e}");
        let e = evaluate("({ toJSON() { for (;;) {} } })", &v, 1).unwrap_err();
        assert!(e.contains("too long"), "{e}");
        let e = evaluate("[3, 1, 2].sort(function () { for (;;) {} })", &v, 1).unwrap_err();
        assert!(e.contains("too long"), "{e}");
        // And the runtime is fine for the next one.
        assert_eq!(evaluate("count + 1", &v, 1), Ok(json!(2)));
    }

    #[test]
    fn nothing_of_the_host_and_no_clock() {
        let v = BTreeMap::new();
        for name in [
            "Date",
            "Promise",
            "performance",
            "require",
            "process",
            "fetch",
            "Proxy",
        ] {
            assert_eq!(
                evaluate(&format!("typeof {name}"), &v, 1),
                Ok(json!("undefined")),
                "{name}"
            );
        }
        // Math.random is the conversation's: the same seed, the same numbers.
        let a = evaluate("[Math.random(), Math.random()]", &v, 7).unwrap();
        assert_eq!(
            a,
            evaluate("[Math.random(), Math.random()]", &v, 7).unwrap()
        );
        assert_ne!(
            a,
            evaluate("[Math.random(), Math.random()]", &v, 8).unwrap()
        );
        // A global made by one evaluation is gone in the next.
        run_code("globalThis.leak = 1", &v, 1, false).unwrap();
        assert_eq!(evaluate("typeof leak", &v, 1), Ok(json!("undefined")));
    }

    /// The cost of an evaluation, JavaScript against Rhai, in one run (issue 18's note):
    /// `cargo test --release -p parley-engine --lib js::tests::cost -- --ignored --nocapture`.
    /// Timing only, so ignored by default: nothing to assert on a shared machine.
    #[test]
    #[ignore = "a measurement: run it by name, in release"]
    fn cost_against_rhai() {
        use crate::expr::Expressions;
        use crate::project::ExpressionLanguage;
        const N: u32 = 2_000;
        let v = vars(&[
            ("count", json!(2)),
            ("customer_name", json!("Dana")),
            ("size", json!("large")),
            ("cart", json!(["a", "b"])),
        ]);
        let names: Vec<&str> = v.keys().map(String::as_str).collect();
        let time = |label: &str, mut f: Box<dyn FnMut()>| {
            f();
            let start = std::time::Instant::now();
            for _ in 0..N {
                f();
            }
            let each = start.elapsed() / N;
            eprintln!("{label:<44} {:>8.1} µs", each.as_secs_f64() * 1e6);
        };
        let mut rhai = Expressions::new(ExpressionLanguage::Rhai);
        let rhai_expr = r#"customer_name != "" && count != 0"#;
        let rhai_code = r#"let price = if size == "large" { 4.5 } else { 3.5 }; count + 1"#;
        rhai.compile(rhai_expr, &names).unwrap();
        rhai.compile(rhai_code, &names).unwrap();
        let mut js = Expressions::new(ExpressionLanguage::Javascript);
        let js_expr = r#"customer_name != "" && customer_name != 0"#;
        js.compile(js_expr, &names).unwrap();
        let js_code = r#"price = size == "large" ? 4.5 : 3.5; count = count + 1; cart.push(size);"#;
        let (r, j, vv) = (&rhai, &js, &v);
        time(
            "rhai expression (condition)",
            Box::new(move || {
                r.condition(rhai_expr, vv, 0).unwrap();
            }),
        );
        time(
            "rhai script (set + arithmetic)",
            Box::new(move || {
                r.evaluate(rhai_code, vv, 0).unwrap();
            }),
        );
        time(
            "javascript expression (condition)",
            Box::new(move || {
                j.condition(js_expr, vv, 1).unwrap();
            }),
        );
        time(
            "javascript code step (3 assignments)",
            Box::new(move || {
                run_code(js_code, vv, 1, false).unwrap();
            }),
        );
        time(
            "javascript: a bare runtime + context",
            Box::new(move || {
                sandbox(&BTreeMap::new(), 1, |_| Ok(())).unwrap();
            }),
        );
    }
}
