//! The reports' charts as inline SVG: stacked areas over time, bars (stacked, grouped, diverging,
//! log-scaled) and a heatmap.
//!
//! Our own writer rather than a plotting crate: the charts are few and simple, the output stays a
//! few kilobytes per chart (one `<path>` per series, coordinates to a tenth of a pixel), nothing is
//! added to the host's build, and every element carries the ids and classes the browser test
//! reads (`figure.chart[data-chart]`, `path.series[data-series]`). Colours, fonts and the legend
//! come from the page's stylesheet and HTML, so the SVG holds geometry and text only.

use super::escape;
use std::fmt::Write;

const W: f64 = 640.0;
const H: f64 = 240.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 36.0;

/// Series colours (Okabe–Ito, distinguishable with the common colour-vision deficiencies).
pub const PALETTE: [&str; 8] = ["#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#f0e442", "#000000"];

/// The colour of series `i`.
pub fn colour(i: usize) -> &'static str {
    PALETTE.get(i % PALETTE.len()).copied().unwrap_or("#000000")
}

/// A named series of values, one per x position or category.
#[derive(Debug)]
pub struct Series<'a> {
    pub name: &'a str,
    pub values: Vec<f64>,
}

/// A chart wrapped in its `<figure>`, with a title, an HTML legend and a note under it.
pub fn figure(id: &str, title: &str, legend: &[&str], note: &str, svg: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<figure class=\"chart\" id=\"chart-{id}\" data-chart=\"{id}\"><figcaption>{}</figcaption>",
        escape(title)
    );
    if !legend.is_empty() {
        out.push_str("<ul class=\"legend\">");
        for (i, name) in legend.iter().enumerate() {
            let _ = write!(out, "<li><i style=\"background:{}\"></i>{}</li>", colour(i), escape(name));
        }
        out.push_str("</ul>");
    }
    out.push_str(svg);
    if !note.is_empty() {
        let _ = write!(out, "<p class=\"note\">{}</p>", escape(note));
    }
    out.push_str("</figure>");
    out
}

fn open_svg(out: &mut String, label: &str) {
    let _ = write!(
        out,
        "<svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        escape(label)
    );
}

/// A number for an SVG attribute: a tenth of a pixel is plenty.
fn n(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() { format!("{}", r as i64) } else { format!("{r:.1}") }
}

/// A tick label: integers as integers, small numbers with their useful digits.
pub fn label(v: f64) -> String {
    if v.abs() >= 1000.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn text(out: &mut String, x: f64, y: f64, anchor: &str, class: &str, s: &str) {
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\" class=\"{class}\">{}</text>",
        n(x),
        n(y),
        escape(s)
    );
}

/// A vertical scale from data to pixels: linear from `lo` (may be negative) to `hi`, or log10
/// from `lo > 0`.
#[derive(Clone, Copy)]
struct Scale {
    lo: f64,
    hi: f64,
    log: bool,
}

impl Scale {
    fn y(&self, v: f64) -> f64 {
        let plot = H - TOP - BOTTOM;
        let f = if self.log {
            (v.max(self.lo).log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        H - BOTTOM - f.clamp(0.0, 1.0) * plot
    }

    /// The y axis: a path and labelled ticks (three linear, or each power of ten).
    fn axis(&self, out: &mut String) {
        let _ = write!(out, "<path class=\"axis\" d=\"M{} {}V{}H{}\"/>", n(LEFT), n(TOP), n(H - BOTTOM), n(W - RIGHT));
        let ticks: Vec<f64> = if self.log {
            let (a, b) = (self.lo.log10().ceil() as i32, self.hi.log10().floor() as i32);
            (a..=b).map(|e| 10f64.powi(e)).collect()
        } else {
            let mut t = vec![self.lo, self.lo + (self.hi - self.lo) / 2.0, self.hi];
            if self.lo < 0.0 && self.hi > 0.0 {
                t.push(0.0);
            }
            t
        };
        for t in ticks {
            let y = self.y(t);
            let _ = write!(out, "<path class=\"grid\" d=\"M{} {}H{}\"/>", n(LEFT), n(y), n(W - RIGHT));
            text(out, LEFT - 4.0, y + 4.0, "end", "tick", &label(t));
        }
    }
}

/// Stacked areas over `points` x positions (buckets), one per series, with the x axis labelled
/// at both ends.
pub fn stacked_area(label_text: &str, series: &[Series], x_first: &str, x_last: &str) -> String {
    let points = series.iter().map(|s| s.values.len()).max().unwrap_or(0).max(1);
    let totals: Vec<f64> =
        (0..points).map(|i| series.iter().map(|s| s.values.get(i).copied().unwrap_or(0.0)).sum()).collect();
    let max = totals.iter().copied().fold(0.0, f64::max);
    let scale = Scale { lo: 0.0, hi: if max > 0.0 { max } else { 1.0 }, log: false };
    let x = |i: usize| {
        if points == 1 {
            if i == 0 { LEFT } else { W - RIGHT }
        } else {
            LEFT + (W - LEFT - RIGHT) * i as f64 / (points - 1) as f64
        }
    };
    let mut out = String::new();
    open_svg(&mut out, label_text);
    scale.axis(&mut out);
    let mut below = vec![0.0f64; points];
    for (k, s) in series.iter().enumerate() {
        let above: Vec<f64> = (0..points)
            .map(|i| below.get(i).copied().unwrap_or(0.0) + s.values.get(i).copied().unwrap_or(0.0))
            .collect();
        // One point: a flat band across the plot.
        let xs: Vec<usize> = if points == 1 { vec![0, 1] } else { (0..points).collect() };
        let at = |v: &[f64], i: usize| v.get(i.min(points - 1)).copied().unwrap_or(0.0);
        let mut d = String::new();
        for (j, &i) in xs.iter().enumerate() {
            let _ = write!(d, "{}{} {}", if j == 0 { 'M' } else { 'L' }, n(x(i)), n(scale.y(at(&above, i))));
        }
        for &i in xs.iter().rev() {
            let _ = write!(d, "L{} {}", n(x(i)), n(scale.y(at(&below, i))));
        }
        d.push('Z');
        let _ = write!(
            out,
            "<path class=\"series\" data-series=\"{}\" fill=\"{}\" d=\"{d}\"><title>{}</title></path>",
            escape(s.name),
            colour(k),
            escape(s.name)
        );
        below = above;
    }
    text(&mut out, LEFT, H - 12.0, "start", "tick", x_first);
    text(&mut out, W - RIGHT, H - 12.0, "end", "tick", x_last);
    out.push_str("</svg>");
    out
}

/// How bars of several series share a category.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bars {
    /// On top of each other (values ≥ 0).
    Stacked,
    /// Side by side (values may be negative: bars grow down from 0).
    Grouped,
    /// Side by side on a log10 scale from 0.1 (values ≤ 0.1 draw no bar).
    GroupedLog,
}

/// Bars per category, one `<path>` per series (each bar a subpath), with dashed reference lines
/// (`refs`: label and value) across the plot.
pub fn bars(label_text: &str, categories: &[String], series: &[Series], mode: Bars, refs: &[(String, f64)]) -> String {
    let value = |s: &Series, c: usize| s.values.get(c).copied().unwrap_or(0.0);
    let cats = categories.len().max(1);
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for c in 0..cats {
        if mode == Bars::Stacked {
            hi = hi.max(series.iter().map(|s| value(s, c).max(0.0)).sum());
        } else {
            for s in series {
                hi = hi.max(value(s, c));
                lo = lo.min(value(s, c));
            }
        }
    }
    for (_, r) in refs {
        hi = hi.max(*r);
    }
    let scale = match mode {
        Bars::GroupedLog => Scale { lo: 0.1, hi: (hi * 1.5).max(1.0), log: true },
        _ if hi - lo <= 0.0 => Scale { lo: 0.0, hi: 1.0, log: false },
        _ => Scale { lo, hi, log: false },
    };
    let slot = (W - LEFT - RIGHT) / cats as f64;
    let mut out = String::new();
    open_svg(&mut out, label_text);
    scale.axis(&mut out);
    let base = if mode == Bars::GroupedLog { scale.lo } else { 0.0 };
    let groups = if mode == Bars::Stacked { 1 } else { series.len().max(1) };
    let bar_w = (slot * 0.8 / groups as f64).clamp(0.5, 48.0);
    // A category's bars are centred in its slot.
    let pad = (slot - bar_w * groups as f64) / 2.0;
    let mut stacked = vec![0.0f64; cats];
    for (k, s) in series.iter().enumerate() {
        let mut d = String::new();
        for c in 0..cats {
            let v = value(s, c);
            let (from, to, x) = match mode {
                Bars::Stacked => {
                    let from = stacked.get(c).copied().unwrap_or(0.0);
                    if let Some(st) = stacked.get_mut(c) {
                        *st += v.max(0.0);
                    }
                    (from, from + v.max(0.0), LEFT + slot * c as f64 + pad)
                }
                _ => (base, v, LEFT + slot * c as f64 + pad + bar_w * k as f64),
            };
            let (y0, y1) = (scale.y(from), scale.y(to));
            let _ = write!(d, "M{} {}H{}V{}H{}Z", n(x), n(y0), n(x + bar_w), n(y1), n(x));
        }
        let _ = write!(
            out,
            "<path class=\"series\" data-series=\"{}\" fill=\"{}\" d=\"{d}\"><title>{}</title></path>",
            escape(s.name),
            colour(k),
            escape(s.name)
        );
    }
    for (i, (name, v)) in refs.iter().enumerate() {
        let y = scale.y(*v);
        let _ = write!(out, "<path class=\"ref\" d=\"M{} {}H{}\"/>", n(LEFT), n(y), n(W - RIGHT));
        // Staggered, so labels of close lines do not overprint.
        text(&mut out, W - RIGHT - 2.0 - 64.0 * i as f64, y - 3.0, "end", "ref-label", name);
    }
    // At most about a dozen category labels, evenly spaced.
    let every = categories.len().div_ceil(12).max(1);
    for (c, name) in categories.iter().enumerate().filter(|(c, _)| c % every == 0) {
        let short: String = name.chars().take(14).collect();
        text(&mut out, LEFT + slot * (c as f64 + 0.5), H - BOTTOM + 14.0, "middle", "tick", &short);
    }
    out.push_str("</svg>");
    out
}

/// A heatmap of `values[row][col]`, each cell a `<path class="cell">` with its count written in
/// it. A cell's shade grows with log(count) against the largest off-diagonal cell; cells right of
/// the diagonal (`row < col`) take `colours[0]`, left of it `colours[1]`, the diagonal `colours[2]`.
pub fn heatmap(label_text: &str, rows: &[String], cols: &[String], values: &[Vec<u64>], colours: [&str; 3]) -> String {
    let (nr, nc) = (rows.len().max(1), cols.len().max(1));
    let (left, top) = (110.0, 28.0);
    let cw = ((W - left - RIGHT) / nc as f64).min(120.0);
    let ch = ((H - top - 8.0) / nr as f64).min(48.0);
    let max_off = values
        .iter()
        .enumerate()
        .flat_map(|(r, row)| row.iter().enumerate().filter(move |(c, _)| *c != r).map(|(_, v)| *v))
        .max()
        .unwrap_or(0)
        .max(1);
    let mut out = String::new();
    open_svg(&mut out, label_text);
    for (c, name) in cols.iter().enumerate() {
        let short: String = name.chars().take(14).collect();
        text(&mut out, left + cw * (c as f64 + 0.5), top - 8.0, "middle", "tick", &short);
    }
    for (r, name) in rows.iter().enumerate() {
        let short: String = name.chars().take(16).collect();
        text(&mut out, left - 6.0, top + ch * (r as f64 + 0.5) + 4.0, "end", "tick", &short);
        for c in 0..nc {
            let v = values.get(r).and_then(|row| row.get(c)).copied().unwrap_or(0);
            let fill = match r.cmp(&c) {
                std::cmp::Ordering::Less => colours[0],
                std::cmp::Ordering::Greater => colours[1],
                std::cmp::Ordering::Equal => colours[2],
            };
            let opacity = if v == 0 {
                0.04
            } else if r == c {
                0.25
            } else {
                0.25 + 0.75 * ((v as f64).ln_1p() / (max_off as f64).ln_1p()).min(1.0)
            };
            let (x, y) = (left + cw * c as f64, top + ch * r as f64);
            let _ = write!(
                out,
                "<path class=\"cell\" data-row=\"{r}\" data-col=\"{c}\" fill=\"{fill}\" fill-opacity=\"{:.2}\" d=\"M{} {}h{}v{}h-{}Z\"><title>{} → {}: {v}</title></path>",
                opacity,
                n(x + 1.0),
                n(y + 1.0),
                n(cw - 2.0),
                n(ch - 2.0),
                n(cw - 2.0),
                escape(name),
                escape(cols.get(c).map_or("", String::as_str)),
            );
            // Counts only where they fit; the cell's title always has it.
            if cw >= 28.0 && ch >= 14.0 {
                text(&mut out, x + cw / 2.0, y + ch / 2.0 + 4.0, "middle", "count", &v.to_string());
            }
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_and_paths_closed() {
        assert_eq!(n(3.0), "3");
        assert_eq!(n(12.345), "12.3");
        assert_eq!(n(-0.04), "0");
        let svg = stacked_area("t", &[Series { name: "a<b", values: vec![1.0, 2.0] }], "start", "end");
        assert!(svg.contains("data-series=\"a&lt;b\""), "{svg}");
        assert!(svg.contains("Z\""), "{svg}");
        let one = stacked_area("t", &[Series { name: "a", values: vec![5.0] }], "s", "e");
        assert!(one.contains(&format!("M{} ", n(LEFT))) && one.contains(&format!("L{} ", n(W - RIGHT))), "{one}");
    }

    #[test]
    fn bars_cover_negative_and_log_values() {
        let cats = vec!["x".to_owned(), "y".to_owned()];
        let s = [Series { name: "gained", values: vec![3.0, 0.0] }, Series { name: "lost", values: vec![0.0, -2.0] }];
        let svg = bars("t", &cats, &s, Bars::Grouped, &[]);
        assert_eq!(svg.matches("class=\"series\"").count(), 2);
        let log = bars("t", &cats, &s[..1], Bars::GroupedLog, &[("4×".to_owned(), 4.0)]);
        assert!(log.contains("class=\"ref\"") && log.contains(">4×<"), "{log}");
    }
}
