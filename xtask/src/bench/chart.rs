//! `scaling.png`: new connections per second to a published port against
//! the number of published ports (log scale), one line per variant, with
//! the masquerade connection rate in a second panel.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use super::load::Test;
use super::png;
use super::report::Results;
use super::topology::Kind;

type Rgb = [u8; 3];

const WIDTH: usize = 1200;
const HEIGHT: usize = 560;
const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [30, 30, 30];
const GRID: Rgb = [225, 225, 225];

fn color(kind: Kind) -> Rgb {
    match kind {
        Kind::Direct => [120, 120, 120],
        Kind::IptablesNft => [214, 39, 40],
        Kind::IptablesLegacy => [255, 127, 14],
        Kind::NftMap => [31, 119, 180],
        Kind::Ebpfnet => [44, 160, 44],
    }
}

struct Canvas {
    pix: Vec<u8>,
}

impl Canvas {
    fn set(&mut self, x: i64, y: i64, c: Rgb) {
        if (0..WIDTH as i64).contains(&x) && (0..HEIGHT as i64).contains(&y) {
            let i = (y as usize * WIDTH + x as usize) * 3;
            self.pix[i..i + 3].copy_from_slice(&c);
        }
    }

    fn rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Rgb) {
        for y in y0..=y1 {
            for x in x0..=x1 {
                self.set(x, y, c);
            }
        }
    }

    /// A line `thick` pixels wide (squares stamped along it).
    fn line(&mut self, from: (f64, f64), to: (f64, f64), thick: i64, c: Rgb) {
        let steps = (to.0 - from.0)
            .abs()
            .max((to.1 - from.1).abs())
            .ceil()
            .max(1.0) as i64;
        for s in 0..=steps {
            let t = s as f64 / steps as f64;
            let x = (from.0 + (to.0 - from.0) * t).round() as i64;
            let y = (from.1 + (to.1 - from.1) * t).round() as i64;
            let h = thick / 2;
            self.rect(x - h, y - h, x - h + thick - 1, y - h + thick - 1, c);
        }
    }

    /// Text with the 5×7 font, `scale` pixels per font pixel.
    fn text(&mut self, x: i64, y: i64, text: &str, scale: i64, c: Rgb) {
        for (i, ch) in text.chars().enumerate() {
            let rows = png::glyph(ch);
            let left = x + i as i64 * 6 * scale;
            for (row, bits) in rows.iter().enumerate() {
                for col in 0..5 {
                    if bits & (0x10 >> col) != 0 {
                        let px = left + col * scale;
                        let py = y + row as i64 * scale;
                        self.rect(px, py, px + scale - 1, py + scale - 1, c);
                    }
                }
            }
        }
    }
}

fn text_width(text: &str, scale: i64) -> i64 {
    text.chars().count() as i64 * 6 * scale
}

/// A round step giving about five grid lines up to `max`.
fn nice_step(max: f64) -> f64 {
    let raw = (max / 5.0).max(1.0);
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= raw)
        .unwrap_or(raw)
}

fn panel(canvas: &mut Canvas, r: &Results, test: Test, left: i64, title: &str) {
    let (top, bottom, width) = (70i64, HEIGHT as i64 - 120, 470i64);
    let max = Kind::ALL
        .iter()
        .flat_map(|&k| r.scales.iter().map(move |&s| (k, s)))
        .map(|(k, s)| r.median(k, s, test))
        .filter(|v| v.is_finite())
        .fold(1.0, f64::max);
    let step = nice_step(max * 1.05);
    let y_max = (max * 1.05 / step).ceil() * step;
    let y_of = |v: f64| bottom as f64 - v / y_max * (bottom - top) as f64;
    let logs: Vec<f64> = r.scales.iter().map(|&s| f64::from(s).log10()).collect();
    let span = (logs.last().copied().unwrap_or(1.0) - logs[0]).max(1.0);
    let x_of =
        |s: u32| left as f64 + 20.0 + (f64::from(s).log10() - logs[0]) / span * (width - 40) as f64;
    canvas.text(left, top - 45, title, 2, BLACK);
    let mut v = 0.0;
    while v <= y_max + 0.5 {
        let y = y_of(v).round() as i64;
        canvas.line(
            (left as f64, y as f64),
            ((left + width) as f64, y as f64),
            1,
            GRID,
        );
        let label = format!("{v:.0}");
        canvas.text(left - text_width(&label, 2) - 8, y - 7, &label, 2, BLACK);
        v += step;
    }
    canvas.line(
        (left as f64, top as f64),
        (left as f64, bottom as f64),
        2,
        BLACK,
    );
    canvas.line(
        (left as f64, bottom as f64),
        ((left + width) as f64, bottom as f64),
        2,
        BLACK,
    );
    for &s in &r.scales {
        let x = x_of(s).round() as i64;
        canvas.line(
            (x as f64, bottom as f64),
            (x as f64, (bottom + 6) as f64),
            2,
            BLACK,
        );
        let label = s.to_string();
        canvas.text(x - text_width(&label, 2) / 2, bottom + 12, &label, 2, BLACK);
    }
    let axis = "PUBLISHED PORTS (LOG SCALE)";
    canvas.text(
        left + (width - text_width(axis, 2)) / 2,
        bottom + 36,
        axis,
        2,
        BLACK,
    );
    for kind in Kind::ALL {
        let points: Vec<(f64, f64)> = r
            .scales
            .iter()
            .map(|&s| (x_of(s), y_of(r.median(kind, s, test))))
            .filter(|(_, y)| y.is_finite())
            .collect();
        for pair in points.windows(2) {
            canvas.line(pair[0], pair[1], 3, color(kind));
        }
        for (x, y) in points {
            let (x, y) = (x.round() as i64, y.round() as i64);
            canvas.rect(x - 4, y - 4, x + 4, y + 4, color(kind));
        }
    }
}

pub fn write(r: &Results, path: &Path) -> Result<()> {
    let mut canvas = Canvas {
        pix: WHITE.repeat(WIDTH * HEIGHT),
    };
    panel(
        &mut canvas,
        r,
        Test::Crr,
        110,
        "NEW CONN/S TO A PUBLISHED PORT",
    );
    panel(
        &mut canvas,
        r,
        Test::MasqCrr,
        700,
        "NEW CONN/S OUT (MASQUERADE)",
    );
    let mut x = 110;
    let y = HEIGHT as i64 - 40;
    for kind in Kind::ALL {
        canvas.rect(x, y, x + 22, y + 13, color(kind));
        canvas.text(x + 30, y, kind.name(), 2, BLACK);
        x += 30 + text_width(kind.name(), 2) + 40;
    }
    let bytes = png::encode(WIDTH as u32, HEIGHT as u32, &canvas.pix);
    fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}
