//! `cargo xtask bench`: ebpfnet side by side with a direct veth, Docker-style
//! iptables (nft and legacy backends) and nft with a verdict map, in one
//! interleaved run; see docs/performance.md.
//!
//! Phases: build; make every variant's namespaces (topology.rs) and the
//! isolated ebpfnet daemon (ebpfnet.rs); control-plane timings (control.rs);
//! then per scale (1, 1,000, 10,000 published ports, plus nginx's mapping
//! for the HTTP test, http.rs) install the rules and
//! run every test on every variant, repetitions interleaved (load.rs), and
//! a bpf_stats pass for ebpfnet's per-packet cost; then every port of an
//! address and a million resident flows (extremes.rs); write the report
//! (report.rs) and the SVG chart (chart.rs). Before all that, in a lab of
//! its own, the overlay phase: container to container across two hosts
//! (overlay.rs; alone with `--phase overlay`), and the IPv6 phase (ipv6.rs;
//! `--phase ipv6`). Everything made is removed
//! by the guard in lab.rs, also on error and Ctrl-C.

mod chart;
mod control;
mod ebpfnet;
mod etcd;
mod extremes;
mod extremes_report;
mod http;
mod ipv6;
mod ipv6_lab;
mod lab;
mod load;
mod markdown;
mod netns_daemon;
mod overlay;
mod overlay_hosts;
mod overlay_report;
mod phase;
mod phase_report;
mod report;
mod rules;
mod targets;
mod topology;

use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use self::ebpfnet::{Ebpfnet, prog_stats, range_spec, stats_delta};
use self::lab::{Lab, PIN_DIR};
use self::load::Test;
use self::report::{BpfRow, Results, Run};
use self::topology::{FILLER_BASE, HTTP_PUBLISHED_PORT, HTTP_SERVER_PORT, Kind};
use crate::build::{build, ebpfnet_binary};
use crate::cmd::{command, is_root, run, scrub_cargo_env, workspace_root};
use crate::interrupt::{catch_interrupt, check_interrupted};

#[derive(clap::Args)]
pub struct Options {
    /// 1 repetition of 1 s, scales 1 and 1,000 (for development)
    #[arg(long)]
    quick: bool,
    /// Remove what an interrupted run left (only `ebnb-` objects), then exit
    #[arg(long)]
    clean: bool,
    /// Use this `ebpfnet` binary instead of building target/release/ebpfnet
    #[arg(long, value_name = "PATH")]
    ebpfnet_binary: Option<PathBuf>,
    /// Run only this phase (its results go to bench-results/PHASE.*
    /// and, unless --quick, docs/bench/PHASE.*)
    #[arg(long, value_enum)]
    phase: Option<Phase>,
    /// Only re-render scaling.svg beside this results.json (no bench run,
    /// no root), e.g. docs/bench/results.json
    #[arg(long, value_name = "RESULTS_JSON")]
    chart_from: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Phase {
    /// Container to container across two hosts: ebpfnet's overlay, a plain
    /// kernel VXLAN device, the underlay
    Overlay,
    /// A published port and masquerade over IPv6: ebpfnet, ip6tables,
    /// nft, a direct veth
    Ipv6,
}

struct Config {
    reps: usize,
    seconds: f64,
    scales: Vec<u32>,
    plan: control::Plan,
}

pub fn bench(options: &Options) -> Result<()> {
    if let Some(results) = &options.chart_from {
        return chart::rerender(results);
    }
    if !is_root() {
        bail!("`cargo xtask bench` must run as root: it makes namespaces, rules and eBPF programs");
    }
    crate::setup::setup()?;
    let binary = match &options.ebpfnet_binary {
        Some(path) => path.clone(),
        None => {
            build(true)?;
            ebpfnet_binary(true)
        }
    };
    if options.clean {
        return lab::clean_leftovers(&binary);
    }
    let mut cargo = command("cargo");
    scrub_cargo_env(&mut cargo).args(["build", "--quiet", "--release", "-p", "ebpfnet-bench"]);
    run(&mut cargo)?;
    let loadgen = workspace_root().join("target/release/ebpfnet-bench");
    let left = lab::leftovers();
    if !left.is_empty() {
        bail!(
            "a previous bench run left {}; remove them with `cargo xtask bench --clean` \
             (it removes only `ebnb-` objects and the bench daemon's state)",
            left.join(", ")
        );
    }
    let config = if options.quick {
        Config {
            reps: 1,
            seconds: 1.0,
            scales: vec![1, 1000],
            plan: control::Plan {
                reps: 1,
                sizes: vec![1000],
                cap: Duration::from_secs(10),
            },
        }
    } else {
        Config {
            reps: 5,
            seconds: 3.0,
            scales: vec![1, 1000, 10_000],
            plan: control::Plan {
                reps: 5,
                sizes: vec![1000, 10_000],
                cap: Duration::from_secs(45),
            },
        }
    };
    // Every run, quick ones too, waits for end-to-end tests and keeps them
    // off the machine: the bench daemon publishes 8080 on every host
    // address, and its socket hooks (on the root cgroup, as every daemon's)
    // would send a test's host connection to 127.0.0.1:8080 to the bench
    // container.
    let _lock = lab::host_lock()?;
    catch_interrupt()?;
    let started = Instant::now();
    let only = options.phase;
    let overlay = if only.is_none() || only == Some(Phase::Overlay) {
        let overlay = overlay::run(&binary, &loadgen, config.reps, config.seconds)?;
        overlay_report::write(&overlay, options.quick)?;
        Some(overlay)
    } else {
        None
    };
    let ipv6 = if only.is_none() || only == Some(Phase::Ipv6) {
        let ipv6 = ipv6::run(&binary, &loadgen, config.reps, config.seconds)?;
        ipv6::write(&ipv6, options.quick)?;
        Some(ipv6)
    } else {
        None
    };
    if only.is_some() {
        return Ok(());
    }
    let mut lab = Lab::new()?;
    let ebpfnet = Ebpfnet { binary };
    let result = run_all(&mut lab, &ebpfnet, &loadgen, &config);
    if result.is_err() {
        eprintln!(
            "bench: failed; logs of the background processes are in {}",
            lab::DIR
        );
    }
    let errors = lab.cleanup();
    for err in &errors {
        eprintln!("bench cleanup: {err}");
    }
    let mut results = result?;
    results.minutes = started.elapsed().as_secs_f64() / 60.0;
    results.overlay = overlay;
    results.ipv6 = ipv6;
    report::write(&results, options.quick)?;
    if !errors.is_empty() {
        bail!("the bench ran, but cleaning up failed (see above)");
    }
    Ok(())
}

fn run_all(lab: &mut Lab, ebpfnet: &Ebpfnet, loadgen: &Path, config: &Config) -> Result<Results> {
    println!("bench: making the variants' namespaces and the ebpfnet daemon");
    for kind in Kind::ALL {
        topology::create(lab, kind)?;
    }
    ebpfnet.start_daemon(lab)?;
    let container = Kind::Ebpfnet.srv_ns();
    ebpfnet.create_container(&container, &Kind::Ebpfnet.server_ip())?;
    topology::tune_ns(&container, false)?;
    for kind in Kind::ALL {
        topology::start_servers(lab, kind, loadgen)?;
        http::start_nginx(lab, kind)?;
    }
    lab::quiet(&mut ebpfnet.publish("8080:80", &container))?;
    lab::quiet(&mut ebpfnet.publish(&http_mapping(), &container))?;
    sleep(Duration::from_millis(500));
    lab.check_children()?;

    let control = control::measure(ebpfnet, &config.plan)?;
    let mut results = Results::new(config.reps, config.seconds, config.scales.clone());
    results.control = control;
    let mut fillers = 0;
    for &scale in &config.scales {
        println!("bench: {scale} published port(s): installing rules");
        let maps = rules::with_http(scale);
        control::iptables_restore(Kind::IptablesNft, &maps)?;
        control::iptables_restore(Kind::IptablesLegacy, &maps)?;
        control::nft_load(&maps)?;
        if scale - 1 > fillers {
            let spec = range_spec(u32::from(FILLER_BASE) + fillers, scale - 1 - fillers);
            lab::quiet(&mut ebpfnet.publish(&spec, &container))?;
            fillers = scale - 1;
        }
        for kind in Kind::ALL {
            // Fails early, with the variant's name, if a path is broken.
            for test in [Test::Rr, Test::Http, Test::MasqCrr] {
                let probe = load::run(loadgen, kind, test, 0.2);
                if let Err(err) = probe {
                    bail!("{} does not work for {}: {err:#}", test.name(), kind.name());
                }
            }
        }
        for rep in 0..config.reps {
            // Interleaved, each repetition starting with another variant.
            for i in 0..Kind::ALL.len() {
                let kind = Kind::ALL[(i + rep) % Kind::ALL.len()];
                for test in Test::ALL {
                    lab.check_children()?;
                    let sample = load::run(loadgen, kind, test, config.seconds)?;
                    let label = format!("scale {scale:>5}");
                    phase::print_sample(&label, rep, kind.name(), test, &sample);
                    results.traffic.push(Run {
                        kind,
                        scale,
                        test,
                        sample,
                    });
                }
            }
        }
        bpf_pass(lab, loadgen, scale, config.seconds, &mut results)?;
    }
    let (x, control) =
        extremes::measure(lab, ebpfnet, loadgen, fillers, config.reps, config.seconds)?;
    results.extremes = Some(x);
    results.control.extend(control);
    Ok(results)
}

/// nginx's mapping, published on ebpfnet like the measured one.
fn http_mapping() -> String {
    format!("{HTTP_PUBLISHED_PORT}:{HTTP_SERVER_PORT}")
}

/// ebpfnet's programs' ns per run, each test run once more with
/// `kernel.bpf_stats_enabled=1` (kept off during the measured runs: the
/// accounting itself costs time).
fn bpf_pass(
    lab: &mut Lab,
    loadgen: &Path,
    scale: u32,
    seconds: f64,
    results: &mut Results,
) -> Result<()> {
    check_interrupted()?;
    lab.set_host_sysctl("kernel.bpf_stats_enabled", "1")?;
    for test in Test::ALL {
        let before = prog_stats(Path::new(PIN_DIR))?;
        load::run(loadgen, Kind::Ebpfnet, test, seconds)?;
        let after = prog_stats(Path::new(PIN_DIR))?;
        for (program, ns_per_run, runs) in stats_delta(&before, &after) {
            results.bpf.push(BpfRow {
                scale,
                test,
                program,
                ns_per_run,
                runs,
            });
        }
    }
    lab.restore_host_sysctl("kernel.bpf_stats_enabled")
}
