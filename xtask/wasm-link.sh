#!/usr/bin/env bash
# The linker of the widget's release build (`cargo xtask dist` sets it for trunk's cargo as
# CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER): rust-lld, less the exports of wasm-streams'
# `IntoUnderlyingSource`, `…Sink` and `…ByteSource` (and their wasm-bindgen descriptions).
#
# Why: Leptos links wasm-streams in through server_fn's `browser` feature (always on), for
# streaming server functions, and rustc exports every `#[wasm_bindgen]` export of every crate.
# A client-side widget has no server function and nothing calls these. Removed after linking
# (wasm-opt's --remove-exports), their code went but not what it had put in the function table:
# the closures of their futures stay reachable from vtables in the data segment, which no wasm
# tool can prove dead (8 KB of wasm, 4.9 KB gzip -9, and 0.5 KB of glue for the imports they
# call). Not exported at all, the linker's own garbage collection drops them with their vtables.
# wasm-bindgen then writes the three classes into the glue without methods behind them; no code
# makes one.
#
# rustc passes each export as `--export NAME`, on the command line or, when it is too long, in
# a response file (`@path`, one argument a line); both are filtered.
set -euo pipefail

dropped() {
  case $1 in
    intounderlying* | __wbg_intounderlying* | __wbindgen_describe_intounderlying*) return 0 ;;
    *) return 1 ;;
  esac
}

# Filters `--export NAME` pairs out of a list of arguments, into the array `kept`.
filter() {
  kept=()
  while (($#)); do
    if [[ $1 == --export && $# -gt 1 ]] && dropped "$2"; then
      shift 2
    else
      kept+=("$1")
      shift
    fi
  done
}

args=()
for arg in "$@"; do
  if [[ $arg == @* ]]; then
    mapfile -t lines <"${arg#@}"
    filter "${lines[@]}"
    printf '%s\n' "${kept[@]}" >"${arg#@}.filtered"
    args+=("@${arg#@}.filtered")
  else
    args+=("$arg")
  fi
done
filter "${args[@]}"
# rustc puts its own rust-lld first on the linker's PATH.
exec rust-lld "${kept[@]}"
