//! Names, ids and unique id prefixes, as Docker accepts them wherever a
//! container or network is named: a full id, then a name, then a prefix of
//! exactly one id. Requests are rewritten to the names the controller keys
//! its state by; what matches nothing is left as given, so the controller
//! says it does not exist.

use thiserror::Error;

use crate::{
    api::Request,
    ids::short_id,
    state::{PREDEFINED_NETWORKS, State},
};

#[derive(Debug, Error, PartialEq, Eq)]
pub enum LookupError {
    #[error("{kind} id prefix {given:?} is ambiguous: it matches {}", .candidates.join(", "))]
    Ambiguous {
        kind: &'static str,
        given: String,
        /// `NAME (SHORT ID)` of each match.
        candidates: Vec<String>,
    },
}

/// `given` among `(name, id)` pairs: its name, or `given` itself if nothing
/// matches.
fn find<'a>(
    kind: &'static str,
    given: &str,
    objects: impl Iterator<Item = (&'a str, &'a str)> + Clone,
) -> Result<String, LookupError> {
    if let Some((name, _)) = objects.clone().find(|(_, id)| *id == given) {
        return Ok(name.to_string());
    }
    if objects.clone().any(|(name, _)| name == given) || given.is_empty() {
        return Ok(given.to_string());
    }
    let matches: Vec<(&str, &str)> = objects.filter(|(_, id)| id.starts_with(given)).collect();
    match matches.as_slice() {
        [] => Ok(given.to_string()),
        [(name, _)] => Ok((*name).to_string()),
        _ => Err(LookupError::Ambiguous {
            kind,
            given: given.to_string(),
            candidates: matches
                .iter()
                .map(|(name, id)| format!("{name} ({})", short_id(id)))
                .collect(),
        }),
    }
}

/// The name of the container `given` names.
pub fn container(state: &State, given: &str) -> Result<String, LookupError> {
    let objects = state
        .containers
        .values()
        .map(|c| (c.name.as_str(), c.id.as_str()));
    find("container", given, objects)
}

/// The name of the network `given` names: a bridge network, or the
/// predefined `host` or `none`.
pub fn network(state: &State, given: &str) -> Result<String, LookupError> {
    let predefined = PREDEFINED_NETWORKS
        .iter()
        .filter_map(|(name, _)| state.predefined.get(*name).map(|p| (*name, p.id.as_str())));
    let objects = state
        .networks
        .values()
        .map(|n| (n.name.as_str(), n.id.as_str()))
        .chain(predefined);
    find("network", given, objects)
}

/// A `--network` value: a network, or a mode (`container:OTHER` names a
/// container).
fn network_or_mode(state: &State, given: &str) -> Result<String, LookupError> {
    match given.strip_prefix("container:") {
        Some(other) => Ok(format!("container:{}", container(state, other)?)),
        None => network(state, given),
    }
}

fn each(
    state: &State,
    names: Vec<String>,
    lookup: fn(&State, &str) -> Result<String, LookupError>,
) -> Result<Vec<String>, LookupError> {
    names.iter().map(|name| lookup(state, name)).collect()
}

/// `request` with every container and network it names as the
/// controller's name. The batch requests (`rm`) are left alone: they look
/// up each name by itself, so one bad name does not stop the others.
pub fn resolve(state: &State, request: Request) -> Result<Request, LookupError> {
    use Request as R;
    Ok(match request {
        R::NetworkInspect(mut r) => {
            r.names = each(state, r.names, network)?;
            R::NetworkInspect(r)
        }
        R::NetworkConnect(mut r) => {
            r.network = network(state, &r.network)?;
            r.container = container(state, &r.container)?;
            R::NetworkConnect(r)
        }
        R::NetworkDisconnect(mut r) => {
            r.network = network(state, &r.network)?;
            r.container = container(state, &r.container)?;
            R::NetworkDisconnect(r)
        }
        R::ContainerCreate(mut r) => {
            if let Some(given) = &r.options.network {
                r.options.network = Some(network_or_mode(state, given)?);
            }
            for link in &mut r.options.links {
                link.container = container(state, &link.container)?;
            }
            R::ContainerCreate(r)
        }
        R::ContainerInspect(mut r) => {
            r.names = each(state, r.names, container)?;
            R::ContainerInspect(r)
        }
        R::Publish(mut r) => {
            r.container = container(state, &r.container)?;
            R::Publish(r)
        }
        R::Unpublish(mut r) => {
            r.container = container(state, &r.container)?;
            R::Unpublish(r)
        }
        R::Port(mut r) => {
            r.container = container(state, &r.container)?;
            R::Port(r)
        }
        other => other,
    })
}

#[cfg(test)]
#[path = "lookup_tests.rs"]
mod tests;
