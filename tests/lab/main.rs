//! The lab: metrics against hand-computed values, the credit-card CSV loader's errors, and
//! checkpoint → resume giving the history of an uninterrupted run.

mod checkpoint;
mod cli;
mod credit_card;
#[allow(dead_code)] // panic_message and panic_site are for the other suites
#[path = "../support/messages.rs"]
mod messages;
mod metrics;
