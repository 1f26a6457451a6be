//! `--format` templates as Docker runs them (docker/cli `formatter` and
//! `templates` behaviour).

use serde_json::json;

use super::*;

const HEADERS: [(&str, &str); 3] = [("ID", "NETWORK ID"), ("Name", "NAME"), ("Labels", "LABELS")];

fn items() -> Vec<Json> {
    vec![
        json!({"ID": "17e324f45964", "Name": "bridge", "Labels": ""}),
        json!({"ID": "7092879f2cc8", "Name": "a-long-name", "Labels": "k=v,x=y"}),
    ]
}

fn render(format: &str) -> String {
    GoFormat::parse(format)
        .and_then(|f| f.render(&HEADERS, &items()))
        .unwrap_or_else(|e| panic!("{format}: {e}"))
}

#[test]
fn raw_templates_print_one_line_per_item() {
    assert_eq!(render("{{.Name}}"), "bridge\na-long-name\n");
    // `\t` and `\n` stand for themselves; spaces around are trimmed.
    assert_eq!(
        render("  {{.ID}}\\t{{.Name}}  "),
        "17e324f45964\tbridge\n7092879f2cc8\ta-long-name\n"
    );
    assert_eq!(
        render("{{json .}}"),
        "{\"ID\":\"17e324f45964\",\"Labels\":\"\",\"Name\":\"bridge\"}\n\
         {\"ID\":\"7092879f2cc8\",\"Labels\":\"k=v,x=y\",\"Name\":\"a-long-name\"}\n"
    );
    // A key Docker's objects have and these do not: Go's "<no value>".
    assert_eq!(render("{{.Image}}"), "<no value>\n<no value>\n");
}

#[test]
fn table_templates_have_docker_headers_and_columns() {
    assert_eq!(
        render("table {{.ID}}\\t{{.Name | upper}}\\t{{.Labels}}"),
        "NETWORK ID     NAME          LABELS\n\
         17e324f45964   BRIDGE        \n\
         7092879f2cc8   A-LONG-NAME   k=v,x=y\n"
    );
}

#[test]
fn docker_functions() {
    assert_eq!(
        render(
            "{{join (split .Labels \",\") \";\"}}|{{truncate .ID 4}}|{{pad .Name 1 2}}|{{title .Name}}|{{lower \"AB\"}}"
        ),
        "|17e3| bridge  |Bridge|ab\nk=v;x=y|7092| a-long-name  |A-Long-Name|ab\n"
    );
    assert_eq!(render("{{pad .Labels 3 3}}."), ".\n   k=v,x=y   .\n");
}

#[test]
fn errors_say_template_parsing_error() {
    let err = GoFormat::parse("{{.Name").err().unwrap_or_default();
    assert!(err.starts_with("template parsing error: "), "{err}");
    // An unknown function: refused when run, if not when parsed.
    let err = GoFormat::parse("{{nosuchfunc .Name}}")
        .and_then(|f| f.render(&HEADERS, &items()))
        .expect_err("no such function");
    assert!(
        err.starts_with("template parsing error: ") && err.contains("nosuchfunc"),
        "{err}"
    );
}
