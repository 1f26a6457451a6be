//! Reading the cluster tests' daemons: `status` and `network ls` as JSON,
//! the cluster part of a status, and the store's own history.

use serde_json::Value;

use crate::cluster_node::ClusterNode;
use crate::etcd::Etcd;

pub fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("bad JSON ({e}): {text}"))
}

pub fn cluster_of(status: &Value) -> &Value {
    &status["Cluster"]
}

pub fn node_ids(status: &Value) -> Vec<String> {
    let mut ids: Vec<String> = cluster_of(status)["Nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["NodeID"].as_str().map(str::to_string))
        .collect();
    ids.sort();
    ids
}

pub fn b_status(b: &ClusterNode) -> Value {
    json_of(&b.cli_ok(&["status", "--format", "json"]))
}

/// `network ls --format json` on B: one object a line, as Docker's.
pub fn b_networks(b: &ClusterNode) -> Vec<Value> {
    b.cli_ok(&["network", "ls", "--format", "json"])
        .lines()
        .map(json_of)
        .collect()
}

pub fn has_global(list: &[Value], name: &str) -> bool {
    list.iter()
        .any(|n| n["Name"] == name && n["Scope"] == "global" && n["Driver"] == "overlay")
}

pub fn cluster_args(store: &str, advertise: &str) -> Vec<String> {
    ["--cluster-store", store, "--advertise-addr", advertise]
        .map(str::to_string)
        .to_vec()
}

/// Compacts etcd's history up to its current revision.
pub fn compact_now(etcd: &Etcd) {
    let (runtime, mut client) = etcd.client();
    runtime.block_on(async {
        let revision = client
            .get("/", None)
            .await
            .expect("get")
            .header()
            .expect("header")
            .revision();
        client.compact(revision, None).await.expect("compact");
    });
}
