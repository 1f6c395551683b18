//! One table per case and backend: a Markdown table for people and one JSON line for
//! machines (`{"case":...,"backend":...,"figures":{...}}`), from the same figures.

use serde_json::{Map, Value, json};
use std::time::Duration;

/// One measured value.
#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    Count(u64),
    /// A time; `None` when the event never happened (shown as "never").
    Time(Option<Duration>),
    MiB(f64),
    /// A fraction 0..=1, shown as a percentage.
    Share(f64),
    Yes(bool),
    Text(String),
}

impl Figure {
    /// A count from a `usize`.
    pub fn count(n: usize) -> Self {
        Figure::Count(u64::try_from(n).unwrap_or(u64::MAX))
    }

    fn text(&self) -> String {
        match self {
            Figure::Count(n) => n.to_string(),
            Figure::Time(Some(d)) => format!("{:.2} s", d.as_secs_f64()),
            Figure::Time(None) => "never".into(),
            Figure::MiB(m) => format!("{m:.1} MiB"),
            Figure::Share(s) => format!("{:.1} %", s * 100.0),
            Figure::Yes(b) => if *b { "yes" } else { "no" }.into(),
            Figure::Text(t) => t.clone(),
        }
    }

    fn json(&self) -> Value {
        match self {
            Figure::Count(n) => json!(n),
            Figure::Time(d) => d.map_or(Value::Null, |d| json!(round3(d.as_secs_f64()))),
            Figure::MiB(m) => json!(round3(*m)),
            Figure::Share(s) => json!(round3(*s)),
            Figure::Yes(b) => json!(b),
            Figure::Text(t) => json!(t),
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A case's figures on one backend.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The case's short name (`kill9`, `sigterm`, ...).
    pub case: String,
    /// Its title.
    pub title: String,
    /// `SQLite` or `MySQL+Redis`.
    pub backend: String,
    /// `(json key, label, figure)`, in order.
    pub rows: Vec<(String, String, Figure)>,
}

impl Table {
    /// An empty table.
    pub fn new(case: &str, title: &str, backend: &str) -> Self {
        Self {
            case: case.into(),
            title: title.into(),
            backend: backend.into(),
            rows: Vec::new(),
        }
    }

    /// Adds a row: `key` names it in the JSON line, `label` in the text table.
    pub fn add(&mut self, key: &str, label: &str, figure: Figure) -> &mut Self {
        self.rows.push((key.into(), label.into(), figure));
        self
    }

    /// The Markdown table, under a heading line.
    pub fn text(&self) -> String {
        let mut out = format!(
            "{} ({}, {})\n\n| figure | value |\n|---|---|\n",
            self.title, self.backend, self.case
        );
        for (_, label, figure) in &self.rows {
            out.push_str(&format!("| {label} | {} |\n", figure.text()));
        }
        out
    }

    /// The JSON line (no newline).
    pub fn json_line(&self) -> String {
        let mut figures = Map::new();
        for (key, _, figure) in &self.rows {
            figures.insert(key.clone(), figure.json());
        }
        json!({"case": self.case, "backend": self.backend, "figures": figures}).to_string()
    }
}
