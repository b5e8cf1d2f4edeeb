//! `contract-010`: a test plugin built against `hazel:plugin@0.1.0`.
//!
//! `wit/plugin.wit` is a frozen copy of the contract as published at 0.1.0
//! (`git show <0.1.0 commit>:wit/plugin.wit`); it must never be edited. The
//! host implements a later 0.1.y and must still load and run this plugin:
//! its imports (`log`, `clock`) and its `driver` export carry version 0.1.0.
//!
//! It is a tiny healthy device: `init` logs a line, every `update` publishes
//! `ups.status` = `OL`, a counter `test.counter` and the host's monotonic
//! clock as `test.clock`.
#![no_std]
#![deny(missing_docs)]

extern crate alloc;

#[cfg(target_arch = "wasm32")]
mod bindings;
