//! The settlement journal: finished requests the database has not taken yet, on local disk, so
//! that a crash (or a stop while the database is down) loses no charge. One JSON line per
//! settlement, appended and fsync'd before each database write; emptied once every record in it
//! is written; replayed at start (log rows are unique on their request id, so a record the
//! database already took is skipped, never billed twice). A torn last line (a crash in the
//! middle of an append) is skipped with a warning.

use super::Settlement;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The journal's file name inside its directory.
const FILE_NAME: &str = "settlements.jsonl";

/// An open journal. Its methods do blocking file I/O: call them off the async workers
/// (`spawn_blocking`).
pub struct Journal {
    path: PathBuf,
    file: File,
    /// Bytes in the file (0 when empty: nothing to clear).
    len: u64,
}

impl Journal {
    /// Opens (creating) the journal in `dir` and returns the settlements it holds.
    pub fn open(dir: &Path) -> std::io::Result<(Self, Vec<Settlement>)> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE_NAME);
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)?;
        let mut settlements = Vec::new();
        let mut skipped = 0usize;
        for line in BufReader::new(&file).lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Settlement>(&line) {
                Ok(settlement) => settlements.push(settlement),
                Err(_) => skipped += 1,
            }
        }
        if skipped > 0 {
            tracing::warn!(
                skipped,
                path = %path.display(),
                "settlement journal lines that cannot be read were skipped (a torn last write)"
            );
        }
        let mut len = file.metadata()?.len();
        if skipped > 0 && len > 0 {
            // End the torn line, so that the next append starts a line of its own.
            (&file).write_all(b"\n")?;
            len += 1;
        }
        Ok((Self { path, file, len }, settlements))
    }

    /// Appends settlements and waits until they are on disk.
    #[cfg(test)]
    pub fn append(&mut self, settlements: &[Settlement]) -> std::io::Result<()> {
        let mut lines = Vec::new();
        for settlement in settlements {
            serde_json::to_writer(&mut lines, settlement)?;
            lines.push(b'\n');
        }
        self.append_lines(&lines)
    }

    /// Appends JSON lines (each ending in a newline) and waits until they are on disk.
    pub fn append_lines(&mut self, lines: &[u8]) -> std::io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        self.file.write_all(lines)?;
        self.file.sync_data()?;
        self.len += lines.len() as u64;
        Ok(())
    }

    /// Empties the journal: every record in it is in the database.
    pub fn clear(&mut self) -> std::io::Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.file.sync_data()?;
        self.len = 0;
        Ok(())
    }

    /// Where the journal lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pylon_shared::db::RelayRecord;

    fn settlement(id: &str, quota: i64) -> Settlement {
        Settlement {
            record: RelayRecord {
                request_id: id.into(),
                quota,
                ..RelayRecord::default()
            },
            charged_token: Some(7),
            subscription_limited: false,
        }
    }

    #[test]
    fn appended_records_survive_a_reopen_and_clear_empties() {
        let dir = std::env::temp_dir().join(format!(
            "pylon-journal-{}",
            pylon_shared::crypto::random_alphanumeric(10)
        ));
        let (mut journal, found) = Journal::open(&dir).unwrap();
        assert!(found.is_empty());
        journal
            .append(&[settlement("a", 10), settlement("b", 20)])
            .unwrap();
        drop(journal);
        // A torn last line, as a crash in the middle of a write leaves it.
        let mut file = OpenOptions::new()
            .append(true)
            .open(dir.join(FILE_NAME))
            .unwrap();
        file.write_all(b"{\"record\":{\"request_id\":\"c\",\"quo")
            .unwrap();
        let (mut journal, found) = Journal::open(&dir).unwrap();
        let ids: Vec<&str> = found.iter().map(|s| s.record.request_id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(found[1].record.quota, 20);
        assert_eq!(found[1].charged_token, Some(7));
        journal.clear().unwrap();
        journal.append(&[settlement("d", 1)]).unwrap();
        let (_, found) = Journal::open(&dir).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].record.request_id, "d");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
