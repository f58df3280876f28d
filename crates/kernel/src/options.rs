//! Keyword arguments by name, as JSON: what the registries of optimizers, schedules and losses
//! build from (PyTorch's names, every key read once, an unknown one an error).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;

/// A bad option: the owner (optimizer, schedule or loss), the argument and what was expected.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionError {
    /// The optimizer, schedule or loss, e.g. `adam`.
    pub owner: &'static str,
    /// The option at fault, or `options` for the whole set.
    pub argument: &'static str,
    /// What was expected and what was found.
    pub message: String,
}

impl OptionError {
    /// An error of `owner`'s `argument`.
    pub fn new(owner: &'static str, argument: &'static str, message: impl Into<String>) -> Self {
        Self {
            owner,
            argument,
            message: message.into(),
        }
    }
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} {}", self.owner, self.argument, self.message)
    }
}

impl std::error::Error for OptionError {}

/// The result of reading an option.
pub type OptionResult<T> = Result<T, OptionError>;

/// PyTorch's keyword arguments of one optimizer or schedule; every key must be read.
#[derive(Debug, Clone)]
pub struct Options {
    owner: &'static str,
    map: BTreeMap<String, Value>,
    read: BTreeSet<String>,
}

impl Options {
    /// The options `value` (a JSON object, or `null` for none) of `owner`.
    pub fn new(owner: &'static str, value: &Value) -> OptionResult<Self> {
        let map = match value {
            Value::Null => BTreeMap::new(),
            Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            other => {
                return Err(OptionError::new(
                    owner,
                    "options",
                    format!("must be a JSON object of keyword arguments, got {other}"),
                ));
            }
        };
        Ok(Self {
            owner,
            map,
            read: BTreeSet::new(),
        })
    }

    /// The value of `key`, if given (`null` counts as not given).
    pub fn get(&mut self, key: &str) -> Option<&Value> {
        self.read.insert(key.to_string());
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// `key` as a `T`, if given.
    pub fn optional<T: DeserializeOwned>(&mut self, key: &'static str) -> OptionResult<Option<T>> {
        let owner = self.owner;
        match self.get(key) {
            None => Ok(None),
            Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|e| {
                OptionError::new(owner, key, format!("= {v} is not what it takes: {e}"))
            }),
        }
    }

    /// Overwrites `into` with `key` when given (the config's default stays otherwise).
    pub fn set<T: DeserializeOwned>(
        &mut self,
        key: &'static str,
        into: &mut T,
    ) -> OptionResult<()> {
        if let Some(v) = self.optional(key)? {
            *into = v;
        }
        Ok(())
    }

    /// `key`, which must be given.
    pub fn required<T: DeserializeOwned>(&mut self, key: &'static str) -> OptionResult<T> {
        self.optional(key)?
            .ok_or_else(|| OptionError::new(self.owner, key, "is required"))
    }

    /// `betas = [β₁, β₂]` into two fields.
    pub fn betas(&mut self, beta_1: &mut f64, beta_2: &mut f64) -> OptionResult<()> {
        if let Some([b1, b2]) = self.optional::<[f64; 2]>("betas")? {
            (*beta_1, *beta_2) = (b1, b2);
        }
        Ok(())
    }

    /// PyTorch's switches that choose an implementation, not a result (`foreach`, `fused`,
    /// `capturable`, `differentiable`): read, and they must be booleans.
    pub fn implementation_flags(&mut self) -> OptionResult<()> {
        for key in ["foreach", "fused", "capturable", "differentiable"] {
            self.optional::<bool>(key)?;
        }
        Ok(())
    }

    /// A string option that must be one of `choices`: its index (0, the default, when absent).
    pub fn choice(&mut self, key: &'static str, choices: &[&'static str]) -> OptionResult<usize> {
        let owner = self.owner;
        match self.optional::<String>(key)? {
            None => Ok(0),
            Some(v) => choices.iter().position(|c| *c == v).ok_or_else(|| {
                OptionError::new(owner, key, format!("must be one of {choices:?}, got {v:?}"))
            }),
        }
    }

    /// The owner the options were read for.
    pub fn owner(&self) -> &'static str {
        self.owner
    }

    /// An error naming every option that was never read.
    pub fn finish(&self) -> OptionResult<()> {
        unread(self.owner, "options", &self.map, &self.read)
    }
}

/// An error of `owner`'s `what` naming every key of `map` not in `read`: what a registry says
/// of options (or inputs) it was given and does not know.
pub fn unread<V>(
    owner: &'static str,
    what: &'static str,
    map: &BTreeMap<String, V>,
    read: &BTreeSet<String>,
) -> OptionResult<()> {
    let unknown: Vec<&String> = map.keys().filter(|k| !read.contains(*k)).collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(OptionError::new(
            owner,
            what,
            format!("holds unknown {what} {unknown:?}"),
        ))
    }
}
