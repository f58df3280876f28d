//! Loss properties, the seed notes' worked examples, and the errors bad input gets.

mod catalog;
mod equivalence;
mod errors;
#[path = "../support/messages.rs"]
mod messages;
mod properties;
mod seed_examples;
