//! Where the CLI finds the daemon: its Unix socket, or `tcp://HOST:PORT`.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaemonAddress {
    Unix(PathBuf),
    Tcp { host: String, port: u16 },
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum AddressError {
    #[error(
        "daemon address {0:?}: expected unix:///PATH or tcp://HOST:PORT (as docker -H), e.g. tcp://192.0.2.10:2376"
    )]
    Scheme(String),
    #[error("daemon address {0:?}: expected a port after the host, as in tcp://HOST:2376")]
    Port(String),
}

impl DaemonAddress {
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        if let Some(path) = text.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(AddressError::Scheme(text.into()));
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        let Some(rest) = text.strip_prefix("tcp://") else {
            return Err(AddressError::Scheme(text.into()));
        };
        // [v6]:port or host:port
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() => (host, port),
            _ => return Err(AddressError::Port(text.into())),
        };
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| AddressError::Port(text.into()))?;
        Ok(Self::Tcp {
            host: host.to_string(),
            port,
        })
    }
}

impl std::fmt::Display for DaemonAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unix(path) => write!(f, "unix://{}", path.display()),
            Self::Tcp { host, port } if host.contains(':') => write!(f, "tcp://[{host}]:{port}"),
            Self::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_style_addresses() {
        assert_eq!(
            DaemonAddress::parse("tcp://192.0.2.10:2376"),
            Ok(DaemonAddress::Tcp {
                host: "192.0.2.10".into(),
                port: 2376
            })
        );
        assert_eq!(
            DaemonAddress::parse("tcp://[2001:db8::1]:2376"),
            Ok(DaemonAddress::Tcp {
                host: "2001:db8::1".into(),
                port: 2376
            })
        );
        assert_eq!(
            DaemonAddress::parse("unix:///run/ebpfnet/ebpfnet.sock"),
            Ok(DaemonAddress::Unix("/run/ebpfnet/ebpfnet.sock".into()))
        );
        assert_eq!(
            DaemonAddress::parse("tcp://[2001:db8::1]:2376")
                .map(|a| a.to_string())
                .as_deref(),
            Ok("tcp://[2001:db8::1]:2376")
        );
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for bad in ["192.0.2.10:2376", "http://x:1", "unix://"] {
            assert!(
                matches!(DaemonAddress::parse(bad), Err(AddressError::Scheme(_))),
                "{bad}"
            );
        }
        for bad in [
            "tcp://host",
            "tcp://host:0",
            "tcp://host:99999",
            "tcp://:2376",
        ] {
            assert!(
                matches!(DaemonAddress::parse(bad), Err(AddressError::Port(_))),
                "{bad}"
            );
        }
    }
}
