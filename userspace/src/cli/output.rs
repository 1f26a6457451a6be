//! Output helpers: aligned tables like Docker's, or JSON for scripts.

use clap::ValueEnum;

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

pub fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON values serialize")
    );
}

/// Prints a listing: the JSON array as it came, or a table of one row per
/// item.
pub fn print_list(
    format: Format,
    items: Vec<serde_json::Value>,
    headers: &[&str],
    row: impl Fn(&serde_json::Value) -> Vec<String>,
) {
    match format {
        Format::Json => print_json(&serde_json::Value::Array(items)),
        Format::Table => {
            let rows: Vec<Vec<String>> = items.iter().map(row).collect();
            print_table(headers, &rows);
        }
    }
}
