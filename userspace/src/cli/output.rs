//! Output helpers: aligned tables like Docker's, or JSON for scripts.

use anyhow::Context as _;
use clap::ValueEnum;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// Prints rows under headers, columns padded to their widest cell plus three
/// spaces, as `docker ls` does.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
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
        println!("{}", text.trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
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

/// Prints a listing: the JSON array as it came, or a table of one row per
/// item.
pub fn print_list<T: Serialize>(
    format: Format,
    items: &[T],
    headers: &[&str],
    row: impl Fn(&T) -> Vec<String>,
) -> anyhow::Result<()> {
    match format {
        Format::Json => print_json(&items)?,
        Format::Table => {
            let rows: Vec<Vec<String>> = items.iter().map(row).collect();
            print_table(headers, &rows);
        }
    }
    Ok(())
}
