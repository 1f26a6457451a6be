//! The rows of results.md's tables: `| a | b |`, the line under a header
//! `|---|---|`.

use std::fmt::{Display, Write as _};

/// Appends one row of `cells`.
pub fn row(md: &mut String, cells: &[&dyn Display]) {
    for cell in cells {
        let _ = write!(md, "| {cell} ");
    }
    md.push_str("|\n");
}

/// Appends a header row of `columns` and the line under it.
pub fn header(md: &mut String, columns: &[&str]) {
    for column in columns {
        let _ = write!(md, "| {column} ");
    }
    md.push_str("|\n|");
    md.push_str(&"---|".repeat(columns.len()));
    md.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_is_its_header_the_line_under_it_and_its_rows() {
        let mut md = String::new();
        header(&mut md, &["map", "MiB"]);
        row(&mut md, &[&"NAT_TCP", &format!("{:.1}", 1.25)]);
        assert_eq!(md, "| map | MiB |\n|---|---|\n| NAT_TCP | 1.2 |\n");
    }
}
