//! The bundle's entry point: installs `window.parley.chat` (the embed API, see `embed.rs`); the
//! page then calls `parley.chat.load({...})`. Everything else is in `lib.rs`.

fn main() {
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    #[cfg(target_arch = "wasm32")]
    parley_widget::embed::install();
}

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
