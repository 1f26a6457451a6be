//! `scaling.svg`: new connections per second against the number of
//! published ports (log scale), one line of medians per variant with min–max
//! error bars over the repetitions; to a published port on the left, out
//! through masquerade on the right. Drawn from `results.json` alone, so a
//! chart can be re-rendered without re-running the bench
//! (`cargo xtask bench --chart-from docs/bench/results.json`).

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use plotters::prelude::*;
use serde_json::Value;

const SIZE: (u32, u32) = (1200, 560);
/// The variants in legend order, with their colours.
const VARIANTS: [(&str, RGBColor); 5] = [
    ("direct-veth", RGBColor(120, 120, 120)),
    ("iptables-nft", RGBColor(214, 39, 40)),
    ("iptables-legacy", RGBColor(255, 127, 14)),
    ("nft-map", RGBColor(31, 119, 180)),
    ("ebpfnet", RGBColor(44, 160, 44)),
];
const PANELS: [(&str, &str); 2] = [
    ("crr", "New connections/s to a published port"),
    ("masq_crr", "New connections/s out (masquerade)"),
];
/// Each variant's points are shifted by this factor along the log axis so
/// that their error bars do not hide each other.
const NUDGE: f64 = 1.12;

/// One measured point: median and spread of the repetitions.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub ports: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// One variant's points in one test, by increasing port count.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub variant: String,
    pub points: Vec<Point>,
}

/// The series of `test` in a results.json; min, max and median come from
/// the repetitions themselves.
pub fn series(results: &Value, test: &str) -> Result<Vec<Series>> {
    let traffic = results["traffic"]
        .as_array()
        .context("results.json has no `traffic` list")?;
    let mut all: Vec<Series> = Vec::new();
    for row in traffic.iter().filter(|row| row["test"] == test) {
        let variant = row["variant"]
            .as_str()
            .context("a traffic row has no variant")?;
        let ports = row["published_ports"]
            .as_f64()
            .with_context(|| format!("{test}/{variant}: no published_ports"))?;
        let mut values: Vec<f64> = row["repetitions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|rep| rep["value"].as_f64())
            .filter(|v| v.is_finite())
            .collect();
        if values.is_empty() {
            bail!("{test}/{variant} at {ports} ports has no repetition values");
        }
        values.sort_by(f64::total_cmp);
        let point = Point {
            ports,
            median: median(&values),
            min: values[0],
            max: values[values.len() - 1],
        };
        match all.iter_mut().find(|s| s.variant == variant) {
            Some(series) => series.points.push(point),
            None => all.push(Series {
                variant: variant.to_string(),
                points: vec![point],
            }),
        }
    }
    for s in &mut all {
        s.points.sort_by(|a, b| a.ports.total_cmp(&b.ports));
    }
    // Known variants in legend order, any other after them.
    all.sort_by_key(|s| {
        VARIANTS
            .iter()
            .position(|(name, _)| *name == s.variant)
            .unwrap_or(VARIANTS.len())
    });
    Ok(all)
}

fn median(sorted: &[f64]) -> f64 {
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

fn color(variant: &str) -> RGBColor {
    VARIANTS
        .iter()
        .find(|(name, _)| *name == variant)
        .map_or(RGBColor(0, 0, 0), |(_, color)| *color)
}

/// `10000` → `10,000`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The chart as SVG text.
pub fn render(results: &Value) -> Result<String> {
    let panels = PANELS
        .iter()
        .map(|(test, title)| Ok((series(results, test)?, *title)))
        .collect::<Result<Vec<_>>>()?;
    if panels.iter().all(|(series, _)| series.is_empty()) {
        bail!("results.json has no crr or masq_crr measurements to draw");
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let halves = root.split_evenly((1, 2));
        for ((series, title), area) in panels.iter().zip(halves.iter()) {
            panel(area, series, title)?;
        }
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

fn panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    series: &[Series],
    title: &str,
) -> Result<()> {
    let points = || series.iter().flat_map(|s| s.points.iter());
    let top = points().map(|p| p.max).fold(1.0, f64::max) * 1.1;
    let first = points()
        .map(|p| p.ports)
        .fold(f64::INFINITY, f64::min)
        .max(1.0);
    let last = points().map(|p| p.ports).fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(46)
        .y_label_area_size(70)
        .build_cartesian_2d((first / 2.0..last * 2.0).log_scale(), 0.0..top)
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .x_desc("published ports (log scale)")
        .y_desc("conn/s (median of repetitions, bars: min–max)")
        .x_label_formatter(&|v| thousands(*v))
        .y_label_formatter(&|v| thousands(*v))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 15))
        .light_line_style(RGBColor(238, 238, 238))
        .draw()
        .map_err(draw_error)?;
    let middle = (VARIANTS.len() as f64 - 1.0) / 2.0;
    for (index, s) in series.iter().enumerate() {
        let style = color(&s.variant);
        let nudge = NUDGE.powf(index as f64 - middle);
        let at = |p: &Point| p.ports * nudge;
        chart
            .draw_series(LineSeries::new(
                s.points.iter().map(|p| (at(p), p.median)),
                style.stroke_width(2),
            ))
            .map_err(draw_error)?
            .label(s.variant.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style.stroke_width(3)));
        chart
            .draw_series(s.points.iter().map(|p| {
                ErrorBar::new_vertical(at(p), p.min, p.median, p.max, style.stroke_width(1), 8)
            }))
            .map_err(draw_error)?;
        chart
            .draw_series(
                s.points
                    .iter()
                    .map(|p| Circle::new((at(p), p.median), 4, style.filled())),
            )
            .map_err(draw_error)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
        .map_err(draw_error)?;
    Ok(())
}

fn draw_error<E: std::error::Error + Send + Sync>(error: DrawingAreaErrorKind<E>) -> anyhow::Error {
    anyhow::anyhow!("drawing the chart: {error}")
}

pub fn write(results: &Value, path: &Path) -> Result<()> {
    let svg = render(results)?;
    fs::write(path, svg).with_context(|| format!("writing {}", path.display()))
}

/// Re-renders `scaling.svg` beside an existing results.json.
pub fn rerender(results_json: &Path) -> Result<()> {
    let text = fs::read_to_string(results_json)
        .with_context(|| format!("reading {}", results_json.display()))?;
    let results: Value = serde_json::from_str(&text)
        .with_context(|| format!("parsing {}", results_json.display()))?;
    let out = results_json.with_file_name("scaling.svg");
    write(&results, &out)?;
    println!("bench: wrote {}", out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn row(test: &str, variant: &str, ports: u32, values: &[f64]) -> Value {
        let reps: Vec<Value> = values
            .iter()
            .map(|v| json!({"value": v, "errors": 0}))
            .collect();
        // The row's own median/min/max are deliberately wrong: the chart must
        // use the repetitions.
        json!({"test": test, "variant": variant, "published_ports": ports,
               "median": -1.0, "min": -1.0, "max": -1.0, "repetitions": reps})
    }

    fn results() -> Value {
        json!({"traffic": [
            row("crr", "ebpfnet", 1000, &[10.0, 30.0, 20.0]),
            row("crr", "ebpfnet", 1, &[5.0, 7.0, 6.0, 9.0]),
            row("crr", "iptables-nft", 1, &[4.0]),
            row("crr", "direct-veth", 1, &[12.0, 11.0]),
            row("rr", "ebpfnet", 1, &[100.0]),
            row("masq_crr", "nft-map", 1, &[8.0, 9.0]),
        ]})
    }

    #[test]
    fn series_take_median_and_spread_from_the_repetitions() {
        let crr = series(&results(), "crr").unwrap();
        let names: Vec<&str> = crr.iter().map(|s| s.variant.as_str()).collect();
        assert_eq!(
            names,
            ["direct-veth", "iptables-nft", "ebpfnet"],
            "legend order"
        );
        let ebpfnet = &crr[2].points;
        assert_eq!(
            ebpfnet[0],
            Point {
                ports: 1.0,
                median: 6.5,
                min: 5.0,
                max: 9.0
            }
        );
        assert_eq!(
            ebpfnet[1],
            Point {
                ports: 1000.0,
                median: 20.0,
                min: 10.0,
                max: 30.0
            }
        );
        assert!(series(&results(), "stream").unwrap().is_empty());
    }

    #[test]
    fn a_row_without_repetitions_is_an_error() {
        let bad = json!({"traffic": [{"test": "crr", "variant": "x", "published_ports": 1}]});
        assert!(series(&bad, "crr").is_err());
        assert!(series(&json!({}), "crr").is_err());
    }

    #[test]
    fn the_svg_has_real_text_and_one_error_bar_per_point() {
        let svg = render(&results()).unwrap();
        assert!(svg.starts_with("<svg"), "{svg:.200}");
        for text in [
            "New connections/s to a published port",
            "New connections/s out (masquerade)",
            "published ports (log scale)",
            "\nebpfnet\n",
            "\nnft-map\n",
            "1,000",
        ] {
            assert!(svg.contains(text), "the SVG lacks {text:?}");
        }
        // An error bar is three lines (two whiskers and the bar) in its
        // series' colour; ebpfnet has two points, so six.
        let bar_lines = svg
            .lines()
            .filter(|l| l.starts_with("<line") && l.contains("stroke=\"#2CA02C\""))
            .count();
        assert_eq!(bar_lines, 6, "ebpfnet's error bars");
    }

    #[test]
    fn nothing_to_draw_is_an_error() {
        assert!(render(&json!({"traffic": []})).is_err());
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(10_000.0), "10,000");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
    }
}
