//! The lab: metrics against hand-computed values, the credit-card CSV loader's errors, and
//! checkpoint → resume giving the history of an uninterrupted run.

mod checkpoint;
mod credit_card;
mod metrics;
