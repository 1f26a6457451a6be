//! containerd from Debian (1.6) with `ctr run --cni` through `ebpfnet-cni`:
//! a busybox container imported offline joins an ebpfnet network, serves
//! the outside (client address kept) once a port is published for it with
//! the CLI, the host on 127.0.0.1 and an ebpfnet container by name and by
//! address; ctr's own DEL removes it all. `ctr run -d` never runs DEL: the
//! daemon drops the attachment when its namespace goes, and GC then finds
//! nothing left.

use std::process::Child;
use std::time::Duration;

use ebpfnet_tests::cni::{CniVars, cni, container_names};
use ebpfnet_tests::containerd::{Containerd, NAMESPACE};
use ebpfnet_tests::images;
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::web::*;
use ebpfnet_tests::*;
use serde_json::json;

const SUBNET: &str = "10.231.91.0/24";
const IMAGE: &str = "localhost/ebpfnet-busybox:test";
const PAGE: &str = "hello from containerd\n";

/// A `ctr run` left running in the foreground; killed if the test fails.
struct Foreground(Child);

impl Drop for Foreground {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Waits (30 s) until the daemon has container `name`; panics with ctr's
/// output if it does not come or `ctr` exits first.
fn wait_attached(env: &TestEnv, ctr: &Containerd, run: &mut Option<&mut Foreground>, name: &str) {
    let came = wait_for(Duration::from_secs(30), || {
        let exited = run
            .as_mut()
            .is_some_and(|r| !matches!(r.0.try_wait(), Ok(None)));
        exited || container_names(env).iter().any(|n| n == name)
    });
    assert!(
        came && container_names(env).iter().any(|n| n == name),
        "ctr run --cni did not attach {name}; ctr said:\n{}",
        ctr.ctr_run_log()
    );
}

#[test]
fn ctr_run_cni_attaches_to_an_ebpfnet_network_and_its_del_removes_everything() {
    let env = TestEnv::new("cni-containerd");
    env.create_network("ctrnet", &["--subnet", SUBNET]);
    env.create_container("client", &["--network", "ctrnet"]);
    let ctr = Containerd::start(&env);
    ctr.import_busybox(IMAGE, PAGE);
    let conflist = ctr.add_network(&env, "ctrnet", "ctrnet");

    // In the foreground, as in a terminal: ctr runs ADD before the task
    // starts and DEL when it ends.
    let mut run = vec!["run", "--cni", "--rm", IMAGE, "web"];
    run.extend(images::HTTPD);
    let mut web = Foreground(ctr.spawn_ctr_cni(&run));
    let name = format!("{NAMESPACE}-web");
    wait_attached(&env, &ctr, &mut Some(&mut web), &name);
    let ip = env.ip_of(&name, "ctrnet");
    assert!(ip_in_cidr(&ip, SUBNET), "address {ip}");
    let host_veth = env.host_veth_of(&name, "ctrnet");

    // ctr publishes no port; the CLI does, on the container CNI made.
    env.ok(&["publish", "8082:80", "--container", &name]);
    let url = assert_published_page(&env, 8082, PAGE);
    let outside = in_netns(&env.outside_ns);
    let client = InContainer::new(&env, "client");
    let client = client.prefix();
    assert_eq!(
        fetch(&client, &format!("http://{name}/")).as_deref(),
        Ok(PAGE)
    );
    assert_eq!(
        fetch(&client, &format!("http://{ip}/")).as_deref(),
        Ok(PAGE)
    );

    // The task ends; ctr runs DEL, then removes task and container (--rm).
    ctr.ok(&["tasks", "kill", "--signal", "SIGKILL", "web"]);
    let ended = wait_for(Duration::from_secs(30), || {
        !matches!(web.0.try_wait(), Ok(None))
    });
    assert!(ended, "ctr run did not end: {}", ctr.ctr_run_log());
    assert_eq!(container_names(&env), ["client"], "after ctr's DEL");
    assert!(!link_exists(&host_veth), "host veth {host_veth} left");
    assert!(
        fetch(&outside, &format!("{url}/")).is_err(),
        "port 8082 still answers"
    );
    assert!(ctr.ids("containers").is_empty(), "ctr kept its container");

    // Detached, ctr runs ADD and never DEL: the attachment stays until the
    // plugin's GC (with the runtime's list of live attachments) removes it.
    let mut detached = vec!["run", "--cni", "-d", IMAGE, "web2"];
    detached.extend(images::HTTPD);
    let mut web2 = Foreground(ctr.spawn_ctr_cni(&detached));
    let name2 = format!("{NAMESPACE}-web2");
    wait_attached(&env, &ctr, &mut None, &name2);
    assert!(
        wait_for(Duration::from_secs(30), || {
            !matches!(web2.0.try_wait(), Ok(None))
        }),
        "ctr run -d did not return"
    );
    let ip2 = env.ip_of(&name2, "ctrnet");
    assert_eq!(
        fetch_soon(&client, &format!("http://{ip2}/")).as_deref(),
        Ok(PAGE)
    );
    ctr.ok(&["tasks", "kill", "--signal", "SIGKILL", "web2"]);
    assert!(wait_for(Duration::from_secs(10), || ctr
        .run(&["tasks", "delete", "web2"])
        .status
        .success()));
    ctr.ok(&["containers", "delete", "web2"]);
    // No DEL came, but the namespace went with the task: the daemon notices
    // within seconds and drops the attachment on its own.
    assert!(
        wait_for(Duration::from_secs(10), || !container_names(&env)
            .contains(&name2)),
        "the attachment of web2 outlived its namespace"
    );
    // GC with nothing valid finds nothing more to do.
    let mut gc = conflist["plugins"][0].clone();
    gc["cniVersion"] = conflist["cniVersion"].clone();
    gc["name"] = conflist["name"].clone();
    gc["cni.dev/valid-attachments"] = json!([]);
    cni("GC", &CniVars::default(), &gc).assert_silent_success();
    assert_eq!(container_names(&env), ["client"], "after GC");
}
