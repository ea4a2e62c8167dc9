//! Expressions (conditions, set blocks) in Rhai: an embedded scripting language (a script's
//! last expression is its value, so `let`, `if` and loops are allowed), sandboxed and
//! deterministic here.
//!
//! The engine has no clock (`no_time`), no modules, no file or network access (Rhai has none
//! built in), no random functions, `print`/`debug` go nowhere, and every evaluation has limits
//! on operations, call depth and sizes, so an expression cannot hang a turn or eat the memory.
//! Expressions are compiled once, at validation, with strict variables: a name that is not a
//! declared variable is a validation error, not a surprise at run time.

use std::collections::BTreeMap;

use rhai::{AST, Dynamic, Engine, Scope};
use serde_json::Value;

use crate::project::ExpressionLanguage;

/// The compiled expressions of one version.
pub(crate) struct Expressions {
    /// Which language the version's expressions are written in.
    language: ExpressionLanguage,
    engine: Engine,
    /// Each expression's AST and the declared variables its source names.
    compiled: BTreeMap<String, (AST, Vec<String>)>,
}

impl std::fmt::Debug for Expressions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expressions")
            .field("compiled", &self.compiled.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn sandboxed_engine() -> Engine {
    let mut engine = Engine::new();
    engine.set_max_operations(50_000);
    engine.set_max_call_levels(16);
    engine.set_max_expr_depths(64, 32);
    engine.set_max_string_size(16 * 1024);
    engine.set_max_array_size(1_000);
    engine.set_max_map_size(1_000);
    engine.set_strict_variables(true);
    // No code from strings: every variable an expression reads is named in its source, which
    // is what lets `evaluate` give it only those.
    engine.disable_symbol("eval");
    // Nor any probing of variables by a computed name.
    engine.disable_symbol("is_def_var");
    engine.on_print(|_| {});
    engine.on_debug(|_, _, _| {});
    engine
}

impl Expressions {
    pub(crate) fn new(language: ExpressionLanguage) -> Expressions {
        Expressions {
            language,
            engine: sandboxed_engine(),
            compiled: BTreeMap::new(),
        }
    }

    /// Compiles an expression over the declared variables; the message says what is wrong.
    pub(crate) fn compile(&mut self, source: &str, variables: &[&str]) -> Result<(), String> {
        if self.compiled.contains_key(source) {
            return Ok(());
        }
        if self.language == ExpressionLanguage::Javascript {
            // JavaScript names its variables at run time (they are globals, as in Voiceflow):
            // only its syntax is checked here.
            crate::js::check_expression(source)?;
            self.compiled
                .insert(source.to_owned(), (AST::empty(), Vec::new()));
            return Ok(());
        }
        let mut scope = Scope::new();
        for name in variables {
            scope.push_dynamic(*name, Dynamic::UNIT);
        }
        let ast = self
            .engine
            .compile_with_scope(&scope, source)
            .map_err(|e| e.to_string())?;
        // Every word of the source (strings and comments too: `${name}` interpolates) that is a
        // declared variable; more than the expression reads, never less.
        let words: std::collections::BTreeSet<&str> = source
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .collect();
        let named = variables
            .iter()
            .filter(|v| words.contains(**v))
            .map(|v| (*v).to_owned())
            .collect();
        self.compiled.insert(source.to_owned(), (ast, named));
        Ok(())
    }

    pub(crate) fn language(&self) -> ExpressionLanguage {
        self.language
    }

    /// Compiles a code step (JavaScript only).
    pub(crate) fn compile_code(&mut self, source: &str) -> Result<(), String> {
        match self.language {
            ExpressionLanguage::Javascript => crate::js::check_code(source),
            ExpressionLanguage::Rhai => Err(
                "code steps are JavaScript: set `settings.expressionLanguage` to \
                     `javascript`"
                    .to_owned(),
            ),
        }
    }

    /// Whether a condition holds: `true` or `false` in Rhai, JavaScript's truthiness in
    /// JavaScript (`seed` feeds its `Math.random`).
    pub(crate) fn condition(
        &self,
        source: &str,
        variables: &BTreeMap<String, Value>,
        seed: u64,
    ) -> Result<bool, String> {
        if self.language == ExpressionLanguage::Javascript {
            return crate::js::condition(source, variables, seed);
        }
        match self.evaluate(source, variables, seed)? {
            Value::Bool(b) => Ok(b),
            other => Err(format!(
                "the condition `{source}` gave {other}, not true or false"
            )),
        }
    }

    /// Evaluates a compiled expression with the variables' current values.
    pub(crate) fn evaluate(
        &self,
        source: &str,
        variables: &BTreeMap<String, Value>,
        seed: u64,
    ) -> Result<Value, String> {
        if self.language == ExpressionLanguage::Javascript {
            return crate::js::evaluate(source, variables, seed)
                .map_err(|e| format!("`{source}`: {e}"));
        }
        let (ast, named) = self
            .compiled
            .get(source)
            .ok_or_else(|| format!("`{source}` was not compiled"))?;
        // Only the variables the source names: building a scope of all of them was most of an
        // evaluation (perf: a set/condition block spent a third of its time on scopes).
        let mut scope = Scope::new();
        for name in named {
            if let Some(value) = variables.get(name) {
                let value = rhai::serde::to_dynamic(value).map_err(|e| e.to_string())?;
                scope.push_dynamic(name.as_str(), value);
            }
        }
        let result: Dynamic = self
            .engine
            .eval_ast_with_scope(&mut scope, ast)
            .map_err(|e| format!("`{source}`: {e}"))?;
        rhai::serde::from_dynamic(&result).map_err(|e| format!("`{source}`: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(source: &str, vars: &[(&str, Value)]) -> Result<Value, String> {
        let mut e = Expressions::new(ExpressionLanguage::Rhai);
        let names: Vec<&str> = vars.iter().map(|(n, _)| *n).collect();
        e.compile(source, &names)?;
        let values = vars
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect();
        e.evaluate(source, &values, 0)
    }

    #[test]
    fn arithmetic_comparisons_strings() {
        let vars = [("count", Value::from(2)), ("size", Value::from("large"))];
        assert_eq!(eval("count + 1", &vars), Ok(Value::from(3)));
        assert_eq!(
            eval(r#"size == "large" && count > 1"#, &vars),
            Ok(Value::from(true))
        );
        assert_eq!(
            eval(r#"size + " pizza""#, &vars),
            Ok(Value::from("large pizza"))
        );
        assert_eq!(
            eval("if count > 5 { \"many\" } else { \"few\" }", &vars),
            Ok(Value::from("few"))
        );
    }

    #[test]
    fn unknown_variables_fail_at_compile_time() {
        let err = eval("missing + 1", &[]).unwrap_err();
        assert!(err.contains("missing"), "{err}");
    }

    #[test]
    fn runaway_expressions_are_stopped() {
        let err = eval("{ let x = 0; loop { x += 1; } }", &[]).unwrap_err();
        assert!(err.to_lowercase().contains("too many operations"), "{err}");
        let err = eval(r#"{ let s = "x"; loop { s += s; } }"#, &[]).unwrap_err();
        assert!(
            err.to_lowercase().contains("too large") || err.contains("operations"),
            "{err}"
        );
    }

    /// An evaluation gets the variables its source names (interpolated ones included), and no
    /// code can name one at run time.
    #[test]
    fn each_expression_sees_the_variables_it_names() {
        let vars = [
            ("count", Value::from(2)),
            ("size", Value::from("large")),
            ("name", Value::from("Dana")),
        ];
        assert_eq!(eval("count * 10", &vars), Ok(Value::from(20)));
        assert_eq!(
            eval("`${name} wants ${count} ${size}`", &vars),
            Ok(Value::from("Dana wants 2 large"))
        );
        assert_eq!(eval("let count = 5; count + 1", &vars), Ok(Value::from(6)));
        // Refused when compiled, not when run: without the sandbox's rule these compile (and
        // `eval("1")` is 1).
        for source in [r#"eval("1")"#, r#"is_def_var("cou" + "nt")"#] {
            let mut e = Expressions::new(ExpressionLanguage::Rhai);
            assert!(e.compile(source, &["count"]).is_err(), "{source} compiled");
        }
    }

    #[test]
    fn no_clock_and_no_printing_side_channel() {
        assert!(eval("timestamp()", &[]).is_err());
        assert_eq!(eval(r#"{ print("hi"); 1 }"#, &[]), Ok(Value::from(1)));
    }
}
