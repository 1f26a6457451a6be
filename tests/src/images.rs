//! Container images made offline from Debian's `busybox-static`: a root
//! file system with `/bin/busybox` and a relative link per applet, a page
//! and a CGI script that prints the client's address (`REMOTE_ADDR`), as a
//! plain tar (`podman import`) or as an OCI image layout in a tar
//! (`ctr images import`).

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cli::{describe, run};

/// Debian's static busybox (package `busybox-static`).
pub const BUSYBOX: &str = "/bin/busybox";
/// The image's page is `/www/index.html`; `/www/cgi-bin/peer` answers
/// `peer=ADDRESS` with the client's address as the server saw it.
pub const PEER_PATH: &str = "/cgi-bin/peer";
/// What the image runs: busybox httpd in the foreground on port 80.
pub const HTTPD: [&str; 6] = ["httpd", "-f", "-p", "80", "-h", "/www"];

const PEER_CGI: &str =
    "#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho \"peer=$REMOTE_ADDR\"\n";
const TOOL_TIMEOUT: Duration = Duration::from_secs(60);

/// Makes the root file system under `dir` (which must not exist) with
/// `page` as `/www/index.html`.
pub fn busybox_rootfs(dir: &Path, page: &str) {
    assert!(
        Path::new(BUSYBOX).is_file(),
        "{BUSYBOX} is missing: install busybox-static (`cargo xtask setup`)"
    );
    for sub in ["bin", "etc", "tmp", "www/cgi-bin"] {
        let path = dir.join(sub);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
    }
    let bin = dir.join("bin");
    fs::copy(BUSYBOX, bin.join("busybox")).unwrap_or_else(|e| panic!("copy {BUSYBOX}: {e}"));
    let list = run(Command::new(BUSYBOX).arg("--list"), None, TOOL_TIMEOUT);
    assert!(
        list.status.success(),
        "{}",
        describe("busybox --list", &list)
    );
    for applet in String::from_utf8_lossy(&list.stdout).split_whitespace() {
        if applet != "busybox" {
            symlink("busybox", bin.join(applet))
                .unwrap_or_else(|e| panic!("link applet {applet}: {e}"));
        }
    }
    write(&dir.join("www/index.html"), page.as_bytes());
    let cgi = dir.join("www/cgi-bin/peer");
    write(&cgi, PEER_CGI.as_bytes());
    fs::set_permissions(&cgi, fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", cgi.display()));
}

/// Packs `dir` into the tar `out` (paths relative to `dir`).
pub fn tar_dir(dir: &Path, out: &Path) {
    let status = run(
        Command::new("tar")
            .arg("-C")
            .arg(dir)
            .arg("-cf")
            .arg(out)
            .arg("."),
        None,
        TOOL_TIMEOUT,
    );
    assert!(status.status.success(), "{}", describe("tar", &status));
}

/// An OCI image layout tar at `out` holding `rootfs_tar` as its one layer,
/// named `name` (`io.containerd.image.name`) and running [`HTTPD`];
/// `work` is a scratch directory (must not exist).
pub fn oci_archive(rootfs_tar: &Path, name: &str, work: &Path, out: &Path) {
    let blobs = work.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap_or_else(|e| panic!("mkdir {}: {e}", blobs.display()));
    let layer =
        fs::read(rootfs_tar).unwrap_or_else(|e| panic!("read {}: {e}", rootfs_tar.display()));
    let layer = add_blob(&blobs, &layer, "application/vnd.oci.image.layer.v1.tar");
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": HTTPD},
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]},
    });
    let config = add_blob(
        &blobs,
        config.to_string().as_bytes(),
        "application/vnd.oci.image.config.v1+json",
    );
    let manifest_type = "application/vnd.oci.image.manifest.v1+json";
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": config,
        "layers": [layer],
    });
    let mut manifest = add_blob(&blobs, manifest.to_string().as_bytes(), manifest_type);
    manifest["annotations"] = json!({"io.containerd.image.name": name});
    let index = json!({"schemaVersion": 2, "manifests": [manifest]});
    write(&work.join("index.json"), index.to_string().as_bytes());
    write(
        &work.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    );
    tar_dir(work, out);
}

/// Stores `data` under its digest; returns its descriptor.
fn add_blob(blobs: &Path, data: &[u8], media_type: &str) -> Value {
    let scratch: PathBuf = blobs.join("incoming");
    write(&scratch, data);
    let sum = run(Command::new("sha256sum").arg(&scratch), None, TOOL_TIMEOUT);
    assert!(sum.status.success(), "{}", describe("sha256sum", &sum));
    let text = String::from_utf8_lossy(&sum.stdout);
    let hex = text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(hex.len(), 64, "sha256sum printed {text:?}");
    let blob = blobs.join(&hex);
    fs::rename(&scratch, &blob).unwrap_or_else(|e| panic!("rename to {}: {e}", blob.display()));
    json!({"mediaType": media_type, "digest": format!("sha256:{hex}"), "size": data.len()})
}

fn write(path: &Path, data: &[u8]) {
    fs::write(path, data).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}
