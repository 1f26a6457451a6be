//! Output helpers: aligned tables like Docker's, or JSON for scripts.

use anyhow::Context as _;
use clap::ValueEnum;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// The global `--format`: `table`, `json`, or a Go template (Docker's
/// `--format '{{.Names}}'`), which only the `ls` commands take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormatArg {
    Table,
    Json,
    Go(String),
}

impl std::str::FromStr for FormatArg {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "table" | "" => Self::Table,
            "json" => Self::Json,
            other => Self::Go(other.to_string()),
        })
    }
}

impl FormatArg {
    /// `table` or `json`, for the commands that take no template.
    pub fn plain(&self) -> anyhow::Result<Format> {
        match self {
            Self::Table => Ok(Format::Table),
            Self::Json => Ok(Format::Json),
            Self::Go(text) => anyhow::bail!(
                "--format {text:?}: Go templates work with `container ls` and `network ls` \
                 only; this command takes table or json"
            ),
        }
    }
}

/// Prints rows under headers, columns padded to their widest cell plus three
/// spaces, as `docker ls` does.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    for line in table_lines(headers, rows) {
        println!("{line}");
    }
}

/// The lines of [`print_table`].
pub fn table_lines(headers: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let text: String = cells
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if i == last {
                    cell.to_string()
                } else {
                    format!("{cell:<width$}   ", width = widths[i])
                }
            })
            .collect();
        text.trim_end().to_string()
    };
    let mut lines = vec![line(headers.to_vec())];
    lines.extend(
        rows.iter()
            .map(|row| line(row.iter().map(String::as_str).collect())),
    );
    lines
}

/// Prints `value` as pretty JSON with its object keys in alphabetical
/// order, as the CLI always has (it goes through `serde_json::Value`, whose
/// maps are sorted), whatever order the answer's fields are declared in.
pub fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    let value = serde_json::to_value(value).context("cannot show the answer as JSON")?;
    let text = serde_json::to_string_pretty(&value).context("cannot show the answer as JSON")?;
    println!("{text}");
    Ok(())
}
