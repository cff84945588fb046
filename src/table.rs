//! A tiny table printer for the CLI's human output: a header row and left-aligned
//! columns as wide as their widest cell, two spaces apart; the last column is not
//! padded (so no trailing blanks).

#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Self {
        Table { header: header.into_iter().map(Into::into).collect(), rows: Vec::new() }
    }

    /// Add a row; missing cells are blank, extra cells are kept (and widen the table).
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The whole table, one `\n`-terminated line per row.
    pub fn render(&self) -> String {
        let ncols = std::iter::once(&self.header).chain(&self.rows).map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0usize; ncols];
        for r in std::iter::once(&self.header).chain(&self.rows) {
            for (i, c) in r.iter().enumerate() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let mut out = String::new();
        for r in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, w) in widths.iter().enumerate() {
                let cell = r.get(i).map_or("", String::as_str);
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                if i + 1 < ncols {
                    line.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let mut t = Table::new(["ID", "STATUS", "NOTE"]);
        t.row(["a", "succeeded", "x"]);
        t.row(["long-id", "failed", ""]);
        assert_eq!(t.render(), "ID       STATUS     NOTE\na        succeeded  x\nlong-id  failed\n");
    }

    #[test]
    fn short_rows_and_wide_characters_by_count() {
        let mut t = Table::new(["N", "É"]);
        t.row(["ééé"]);
        t.row(["b", "c", "extra"]);
        assert_eq!(t.render(), "N    É\nééé\nb    c  extra\n");
    }

    #[test]
    fn header_only() {
        let t = Table::new(["A", "B"]);
        assert!(t.is_empty());
        assert_eq!(t.render(), "A  B\n");
    }
}
