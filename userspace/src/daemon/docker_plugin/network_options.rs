//! The options of Docker's CreateNetwork: `--internal` arrives as
//! `com.docker.network.internal`, `-o KEY=VALUE` under
//! `com.docker.network.generic`. ebpfnet reads `-o ebpfnet.name=NAME` (the
//! name of the ebpfnet network; Docker does not tell drivers its own
//! network name) and refuses other `-o` keys rather than ignore them.
//! `--ipv6` arrives as `com.docker.network.enable_ipv6`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::api::{OPTION_ENABLE_IPV6, OPTION_GENERIC, OPTION_INTERNAL};

/// `-o ebpfnet.name=NAME`.
pub const NAME_OPTION: &str = "ebpfnet.name";

#[derive(Debug, Default, PartialEq, Eq)]
pub struct NetworkOptions {
    pub name: Option<String>,
    pub internal: bool,
    pub ipv6: bool,
}

/// Docker sends booleans as JSON booleans, some versions as strings.
fn flag(value: &Value, key: &str) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" || s.is_empty() => Ok(false),
        other => Err(format!("option {key} is not a boolean: {other}")),
    }
}

pub fn parse(options: &BTreeMap<String, Value>) -> Result<NetworkOptions, String> {
    let mut parsed = NetworkOptions::default();
    if let Some(value) = options.get(OPTION_INTERNAL) {
        parsed.internal = flag(value, OPTION_INTERNAL)?;
    }
    if let Some(value) = options.get(OPTION_ENABLE_IPV6) {
        parsed.ipv6 = flag(value, OPTION_ENABLE_IPV6)?;
    }
    let generic = match options.get(OPTION_GENERIC) {
        None | Some(Value::Null) => return Ok(parsed),
        Some(Value::Object(map)) => map,
        Some(other) => return Err(format!("option {OPTION_GENERIC} is not a map: {other}")),
    };
    for (key, value) in generic {
        match (key.as_str(), value) {
            (NAME_OPTION, Value::String(name)) => parsed.name = Some(name.clone()),
            (NAME_OPTION, other) => {
                return Err(format!("-o {NAME_OPTION} is not a string: {other}"));
            }
            (key, _) => {
                return Err(format!(
                    "unknown network option -o {key}; ebpfnet knows -o {NAME_OPTION}=NAME"
                ));
            }
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn options(value: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(value).expect("options")
    }

    #[test]
    fn reads_what_docker_sends() {
        let parsed = parse(&options(json!({
            "com.docker.network.enable_ipv6": true,
            "com.docker.network.internal": true,
            "com.docker.network.generic": {"ebpfnet.name": "front"}
        })))
        .expect("parse");
        assert_eq!(
            parsed,
            NetworkOptions {
                name: Some("front".into()),
                internal: true,
                ipv6: true,
            }
        );
        assert_eq!(
            parse(&options(json!({}))).expect("empty"),
            NetworkOptions::default()
        );
    }

    #[test]
    fn refuses_what_it_cannot_do() {
        let err = parse(&options(json!({
            "com.docker.network.generic": {"com.docker.network.driver.mtu": "1400"}
        })))
        .expect_err("unknown");
        assert!(err.contains("-o com.docker.network.driver.mtu"), "{err}");
        let err = parse(&options(json!({"com.docker.network.enable_ipv6": 1}))).expect_err("ipv6");
        assert!(err.contains("not a boolean"), "{err}");
        assert!(parse(&options(json!({"com.docker.network.internal": 3}))).is_err());
    }
}
