//! Crash-safe checkpoints: a folder of files published by one atomic rename, verified when read.
//!
//! ```text
//! root/
//!   ckpt-000007/            the newest complete checkpoint
//!     model.bpk  optimizer.bpk  schedule.bpk  progress.json  [best.bpk]
//!     manifest.json         written last: every file's length and CRC-32, and what it was
//!                           saved from (see `Trainer::save`)
//!   ckpt-000006/            older ones, `keep_last` in all
//!   .tmp-ckpt-000008-4242/  a save in progress (or killed): never read, removed by the next save
//! ```
//!
//! A save writes every file into a hidden folder, syncs them and the manifest to disk, then
//! renames the folder into place and syncs the root: a process killed at any moment leaves
//! the previous checkpoints as they were and, at worst, a hidden folder the next save removes.
//! A read takes the newest published checkpoint, reads all of it into memory and checks every
//! length and checksum, so a flipped byte or a truncated file is an error naming the file, not
//! a wrong resume.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::train::TrainError;

const MANIFEST: &str = "manifest.json";
const PREFIX: &str = "ckpt-";
const TEMP: &str = ".tmp-";

/// A folder of numbered checkpoints, the newest `keep_last` kept.
#[derive(Clone, Debug)]
pub struct Checkpoints {
    root: PathBuf,
    keep_last: usize,
}

/// One checkpoint read back and verified: its files' bytes and its manifest's notes.
#[derive(Debug)]
pub struct Checkpoint {
    /// The checkpoint's folder.
    pub path: PathBuf,
    /// Every file, by name.
    pub files: BTreeMap<String, Vec<u8>>,
    /// What the saver noted (what the files were saved from), by key.
    pub notes: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    files: Vec<Entry>,
    notes: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    name: String,
    len: u64,
    crc32: u32,
}

impl Checkpoints {
    /// Checkpoints under `root`, keeping the newest `keep_last` (at least 1) when saving.
    pub fn new(root: impl Into<PathBuf>, keep_last: usize) -> Self {
        Self {
            root: root.into(),
            keep_last: keep_last.max(1),
        }
    }

    /// The folder holding the checkpoints.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Publishes `files` (name, bytes) with `notes` as the next checkpoint; returns its folder.
    pub fn save(
        &self,
        files: &[(&str, &[u8])],
        notes: &BTreeMap<String, String>,
    ) -> Result<PathBuf, TrainError> {
        fs::create_dir_all(&self.root).map_err(TrainError::io(&self.root))?;
        self.remove_leftovers()?;
        let seq = self.published()?.last().map_or(1, |(n, _)| n + 1);
        let name = format!("{PREFIX}{seq:06}");
        let temp = self
            .root
            .join(format!("{TEMP}{name}-{}", std::process::id()));
        fs::create_dir(&temp).map_err(TrainError::io(&temp))?;
        let mut entries = Vec::with_capacity(files.len());
        for (file, bytes) in files {
            write_synced(&temp.join(file), bytes)?;
            entries.push(Entry {
                name: file.to_string(),
                len: bytes.len() as u64,
                crc32: crc32fast::hash(bytes),
            });
        }
        let manifest = Manifest {
            files: entries,
            notes: notes.clone(),
        };
        let json = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
        write_synced(&temp.join(MANIFEST), &json)?;
        sync_dir(&temp)?;
        let path = self.root.join(&name);
        fs::rename(&temp, &path).map_err(TrainError::io(&path))?;
        sync_dir(&self.root)?;
        self.prune()?;
        Ok(path)
    }

    /// The newest checkpoint, read into memory and verified; `None` when there is none.
    ///
    /// # Errors
    /// When the newest checkpoint is damaged (a missing, truncated or altered file): the
    /// error names the file; remove that checkpoint's folder to resume from the one before.
    pub fn latest(&self) -> Result<Option<Checkpoint>, TrainError> {
        match self.published()?.pop() {
            None => Ok(None),
            Some((_, path)) => read(&path).map(Some),
        }
    }

    /// The published checkpoints, oldest first, with their numbers.
    fn published(&self) -> Result<Vec<(u64, PathBuf)>, TrainError> {
        if !self.root.exists() {
            return Ok(Vec::new());
        }
        let mut found = Vec::new();
        for entry in fs::read_dir(&self.root).map_err(TrainError::io(&self.root))? {
            let entry = entry.map_err(TrainError::io(&self.root))?;
            let name = entry.file_name();
            let Some(seq) = name
                .to_str()
                .and_then(|n| n.strip_prefix(PREFIX))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            found.push((seq, entry.path()));
        }
        found.sort();
        Ok(found)
    }

    /// Removes the hidden folders of saves that did not finish.
    fn remove_leftovers(&self) -> Result<(), TrainError> {
        for entry in fs::read_dir(&self.root).map_err(TrainError::io(&self.root))? {
            let entry = entry.map_err(TrainError::io(&self.root))?;
            if entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(TEMP))
            {
                let path = entry.path();
                fs::remove_dir_all(&path).map_err(TrainError::io(&path))?;
            }
        }
        Ok(())
    }

    /// Removes all but the newest `keep_last` checkpoints.
    fn prune(&self) -> Result<(), TrainError> {
        let published = self.published()?;
        let excess = published.len().saturating_sub(self.keep_last);
        for (_, path) in &published[..excess] {
            fs::remove_dir_all(path).map_err(TrainError::io(path))?;
        }
        Ok(())
    }
}

/// Reads the checkpoint in `path` and checks every file against the manifest.
fn read(path: &Path) -> Result<Checkpoint, TrainError> {
    let damaged = |file: &str, why: String| TrainError::Damaged {
        path: path.join(file),
        reason: why,
    };
    let manifest_path = path.join(MANIFEST);
    let bytes = fs::read(&manifest_path).map_err(TrainError::io(&manifest_path))?;
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| damaged(MANIFEST, format!("not a checkpoint manifest: {e}")))?;
    let mut files = BTreeMap::new();
    for entry in &manifest.files {
        let file = path.join(&entry.name);
        let bytes = fs::read(&file).map_err(TrainError::io(&file))?;
        if bytes.len() as u64 != entry.len {
            let why = format!(
                "holds {} bytes, the manifest says {}",
                bytes.len(),
                entry.len
            );
            return Err(damaged(&entry.name, why));
        }
        let crc = crc32fast::hash(&bytes);
        if crc != entry.crc32 {
            let why = format!("CRC-32 {crc:08x}, the manifest says {:08x}", entry.crc32);
            return Err(damaged(&entry.name, why));
        }
        files.insert(entry.name.clone(), bytes);
    }
    Ok(Checkpoint {
        path: path.to_path_buf(),
        files,
        notes: manifest.notes,
    })
}

/// Writes `bytes` to a new file at `path` and syncs it to disk.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let mut file = File::create_new(path).map_err(TrainError::io(path))?;
    file.write_all(bytes).map_err(TrainError::io(path))?;
    file.sync_all().map_err(TrainError::io(path))
}

/// Syncs a folder's entries (a rename into it, the files created in it) to disk.
fn sync_dir(path: &Path) -> Result<(), TrainError> {
    File::open(path)
        .and_then(|dir| dir.sync_all())
        .map_err(TrainError::io(path))
}
