//! Docker's `--format` Go templates for `ls` (docker/cli `formatter` and
//! `templates`): `table TEMPLATE` prints a header line (the template run on
//! the column headers) and lays the `\t`-separated cells out as Docker's
//! tables; any other TEMPLATE is run once per item, each followed by a
//! newline. `\t` and `\n` in the text stand for a tab and a newline.
//! Docker's template functions are there: `json`, `join`, `split`,
//! `lower`, `upper`, `title`, `pad`, `truncate`.

use std::collections::BTreeMap;

use gotmpl::{Template, TemplateError, Value};
use serde_json::Value as Json;

use super::display::docker_table;

/// A parsed `--format TEMPLATE`.
pub struct GoFormat {
    table: bool,
    rows: Template,
    header: Template,
}

impl GoFormat {
    /// Reads `--format` text that is neither `table` nor `json`.
    pub fn parse(source: &str) -> Result<Self, String> {
        let (table, text) = match source.strip_prefix("table") {
            Some(rest) => (true, rest),
            None => (false, source),
        };
        let text = text
            .trim_matches(' ')
            .replace("\\t", "\t")
            .replace("\\n", "\n");
        let parse = |template: Template| {
            template
                .parse(&text)
                .map_err(|e| format!("template parsing error: {e}"))
        };
        Ok(Self {
            table,
            rows: parse(with_functions(Template::new(""), false))?,
            header: parse(with_functions(Template::new(""), true))?,
        })
    }

    /// The output for `items` (JSON objects, Docker's keys), whose columns
    /// are headed by `headers` (key -> header).
    pub fn render(&self, headers: &[(&str, &str)], items: &[Json]) -> Result<String, String> {
        let run = |template: &Template, data: &Value| {
            template
                .execute_to_string(data)
                .map_err(|e| format!("template parsing error: {e}"))
        };
        let mut text = String::new();
        if self.table {
            let header: BTreeMap<String, Value> = headers
                .iter()
                .map(|(key, header)| (key.to_string(), Value::from(*header)))
                .collect();
            text.push_str(&run(&self.header, &Value::from(header))?);
            text.push('\n');
        }
        for item in items {
            text.push_str(&run(&self.rows, &from_json(item))?);
            text.push('\n');
        }
        if !self.table {
            return Ok(text);
        }
        let rows: Vec<Vec<String>> = text
            .strip_suffix('\n')
            .unwrap_or(&text)
            .split('\n')
            .map(|line| line.split('\t').map(str::to_string).collect())
            .collect();
        Ok(docker_table(&rows)
            .into_iter()
            .map(|line| line + "\n")
            .collect())
    }
}

fn from_json(json: &Json) -> Value {
    match json {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .or_else(|| n.as_u64().map(Value::Uint))
            .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or_default())),
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(items) => Value::from(items.iter().map(from_json).collect::<Vec<_>>()),
        Json::Object(map) => Value::from(
            map.iter()
                .map(|(k, v)| (k.clone(), from_json(v)))
                .collect::<BTreeMap<String, Value>>(),
        ),
    }
}

fn to_json(value: &Value) -> Json {
    match value {
        Value::Nil => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Uint(u) => Json::from(*u),
        Value::Float(f) => Json::from(*f),
        Value::String(s) => Json::from(s.as_ref()),
        Value::List(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (k.to_string(), to_json(v)))
                .collect(),
        ),
        other => Json::from(other.to_string()),
    }
}

fn arg<'a>(args: &'a [Value], i: usize, name: &str) -> gotmpl::Result<&'a Value> {
    args.get(i)
        .ok_or_else(|| TemplateError::Exec(format!("{name}: missing argument {}", i + 1)))
}

fn text(args: &[Value], i: usize, name: &str) -> gotmpl::Result<String> {
    Ok(arg(args, i, name)?.to_string())
}

fn number(args: &[Value], i: usize, name: &str) -> gotmpl::Result<usize> {
    let n = arg(args, i, name)?.as_int().unwrap_or(-1);
    usize::try_from(n)
        .map_err(|_| TemplateError::Exec(format!("{name}: argument {} is not a count", i + 1)))
}

/// Go's (ASCII) `strings.Title`: each word's first letter upper-cased.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        out.push(if start { c.to_ascii_uppercase() } else { c });
        start = !c.is_alphanumeric() && c != '_' && c != '\'';
    }
    out
}

/// Docker's functions; in the header (`header`), those that would change a
/// value give it back as it is, as Docker's `HeaderFunctions`.
fn with_functions(template: Template, header: bool) -> Template {
    let template = template.func("pad", |a| {
        let s = text(a, 0, "pad")?;
        if s.is_empty() {
            return Ok(Value::from(s));
        }
        let (before, after) = (number(a, 1, "pad")?, number(a, 2, "pad")?);
        Ok(Value::from(format!(
            "{}{s}{}",
            " ".repeat(before),
            " ".repeat(after)
        )))
    });
    if header {
        let same = |a: &[Value]| Ok(Value::from(text(a, 0, "header")?));
        return [
            "json", "split", "join", "title", "lower", "upper", "truncate",
        ]
        .into_iter()
        .fold(template, |t, name| t.func(name, same));
    }
    template
        .func("json", |a| {
            Ok(Value::from(to_json(arg(a, 0, "json")?).to_string()))
        })
        .func("split", |a| {
            let (s, sep) = (text(a, 0, "split")?, text(a, 1, "split")?);
            let parts: Vec<Value> = s.split(sep.as_str()).map(Value::from).collect();
            Ok(Value::from(parts))
        })
        .func("join", |a| {
            let sep = text(a, 1, "join")?;
            let joined = match arg(a, 0, "join")? {
                Value::Nil => String::new(),
                Value::List(items) => {
                    let items: Vec<String> = items.iter().map(Value::to_string).collect();
                    items.join(&sep)
                }
                Value::Map(map) => {
                    let mut items: Vec<String> = map.values().map(Value::to_string).collect();
                    items.sort();
                    items.join(&sep)
                }
                other => {
                    return Err(TemplateError::Exec(format!(
                        "join: expected slice, got {other}"
                    )));
                }
            };
            Ok(Value::from(joined))
        })
        .func("title", |a| Ok(Value::from(title(&text(a, 0, "title")?))))
        .func("lower", |a| {
            Ok(Value::from(text(a, 0, "lower")?.to_lowercase()))
        })
        .func("upper", |a| {
            Ok(Value::from(text(a, 0, "upper")?.to_uppercase()))
        })
        .func("truncate", |a| {
            let (s, n) = (text(a, 0, "truncate")?, number(a, 1, "truncate")?);
            Ok(Value::from(s.get(..n).unwrap_or(&s).to_string()))
        })
}

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;
