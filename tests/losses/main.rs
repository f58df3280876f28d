//! Loss properties, the seed notes' worked examples, the errors bad input gets, and the
//! PyTorch 2.15 parity losses against references written out here.

mod catalog;
mod equivalence;
mod errors;
#[path = "../support/messages.rs"]
mod messages;
mod parity;
mod properties;
mod seed_examples;
