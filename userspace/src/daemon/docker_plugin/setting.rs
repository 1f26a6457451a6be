//! Whether and where the driver is served: `--docker-plugin[=PATH]`, or the
//! daemon.json key `docker-plugin` (`true`, `false` or a socket's path).

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

use super::DEFAULT_SOCKET;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Value")]
pub enum PluginSetting {
    Off,
    Socket(PathBuf),
}

impl PluginSetting {
    /// The socket to serve, if any.
    pub fn socket(self) -> Option<PathBuf> {
        match self {
            Self::Off => None,
            Self::Socket(path) => Some(path),
        }
    }
}

impl TryFrom<Value> for PluginSetting {
    type Error = String;

    fn try_from(value: Value) -> Result<Self, String> {
        match value {
            Value::Bool(true) => Ok(Self::Socket(DEFAULT_SOCKET.into())),
            Value::Bool(false) => Ok(Self::Off),
            Value::String(path) => parse_socket_path(&path).map(Self::Socket),
            other => Err(format!(
                "{other} is not true, false or the absolute path of a socket \
                 such as \"{DEFAULT_SOCKET}\""
            )),
        }
    }
}

/// An absolute path naming a socket file: dockerd knows the driver by the
/// file's name without `.sock`.
pub fn parse_socket_path(text: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(text);
    if !path.is_absolute() {
        return Err(format!(
            "{text:?} is not an absolute path (dockerd looks for \
             /run/docker/plugins/NAME.sock)"
        ));
    }
    if text.ends_with('/') || path.file_stem().is_none_or(|s| s.is_empty()) {
        return Err(format!("{text:?} names no socket file"));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(json: &str) -> Result<PluginSetting, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn true_false_or_a_socket_path() {
        assert_eq!(
            setting("true"),
            Ok(PluginSetting::Socket(DEFAULT_SOCKET.into()))
        );
        assert_eq!(setting("false"), Ok(PluginSetting::Off));
        assert_eq!(
            setting(r#""/run/docker/plugins/ebpf2.sock""#),
            Ok(PluginSetting::Socket(
                "/run/docker/plugins/ebpf2.sock".into()
            ))
        );
    }

    #[test]
    fn other_values_say_what_is_wrong() {
        for (json, says) in [
            ("1", "1 is not true, false or the absolute path of a socket"),
            (r#""yes""#, "\"yes\" is not an absolute path"),
            (r#""""#, "\"\" is not an absolute path"),
            (r#""/run/docker/plugins/""#, "names no socket file"),
            (r#""/""#, "names no socket file"),
        ] {
            let e = setting(json).expect_err(json);
            assert!(e.contains(says), "{json}: {e}");
        }
    }
}
