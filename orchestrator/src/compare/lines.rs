//! A line diff (longest common subsequence), for cell sources and output text.
//! Cells are small; a pair too large for the quadratic table is shown as removed
//! then added, whole.

use deckle_protocol::compare::DiffLine;

/// Past this many line pairs the diff is not computed line by line.
const MAX_CELLS: usize = 4_000_000;

fn line(op: &str, text: &str) -> DiffLine {
    DiffLine { op: op.to_string(), text: text.to_string() }
}

/// `a` against `b`, line by line: kept lines ` `, removed `-`, added `+`.
pub fn diff(a: &str, b: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = if a.is_empty() { Vec::new() } else { a.lines().collect() };
    let b: Vec<&str> = if b.is_empty() { Vec::new() } else { b.lines().collect() };
    // Common head and tail first: most cells differ in a few lines.
    let head = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let tail = a[head..].iter().rev().zip(b[head..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (ma, mb) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    let mut out: Vec<DiffLine> = a[..head].iter().map(|l| line(" ", l)).collect();
    if ma.len().saturating_mul(mb.len()) > MAX_CELLS {
        out.extend(ma.iter().map(|l| line("-", l)));
        out.extend(mb.iter().map(|l| line("+", l)));
    } else {
        // lcs[i][j]: the longest common subsequence of ma[i..] and mb[j..].
        let w = mb.len() + 1;
        let mut lcs = vec![0u32; (ma.len() + 1) * w];
        for i in (0..ma.len()).rev() {
            for j in (0..mb.len()).rev() {
                lcs[i * w + j] = if ma[i] == mb[j] { lcs[(i + 1) * w + j + 1] + 1 } else { lcs[(i + 1) * w + j].max(lcs[i * w + j + 1]) };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < ma.len() || j < mb.len() {
            if i < ma.len() && j < mb.len() && ma[i] == mb[j] {
                out.push(line(" ", ma[i]));
                i += 1;
                j += 1;
            } else if i < ma.len() && (j == mb.len() || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) {
                // Removals before additions, as unified diffs show them.
                out.push(line("-", ma[i]));
                i += 1;
            } else {
                out.push(line("+", mb[j]));
                j += 1;
            }
        }
    }
    out.extend(a[a.len() - tail..].iter().map(|l| line(" ", l)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(d: &[DiffLine]) -> String {
        d.iter().map(|l| format!("{}{}", l.op, l.text)).collect::<Vec<_>>().join("|")
    }

    #[test]
    fn changed_lines_are_removed_then_added_and_the_rest_kept() {
        assert_eq!(ops(&diff("a\nb\nc", "a\nB\nc")), " a|-b|+B| c");
        assert_eq!(ops(&diff("a\nc", "a\nb\nc")), " a|+b| c");
        assert_eq!(ops(&diff("x = 1\ny = 2\n", "x = 1\n")), " x = 1|-y = 2");
        assert_eq!(ops(&diff("", "new")), "+new");
        assert_eq!(ops(&diff("same", "same")), " same");
    }

    #[test]
    fn a_moved_block_keeps_the_longest_common_part() {
        let d = diff("1\n2\n3\n4\n5", "1\n4\n5\n2\n3");
        assert_eq!(d.iter().filter(|l| l.op == " ").count(), 3, "{}", ops(&d));
        assert_eq!(d.iter().filter(|l| l.op != " ").count(), 4, "{}", ops(&d));
    }
}
