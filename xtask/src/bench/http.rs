//! The HTTP keep-alive workload (test `http`): Debian's nginx in each
//! variant's server namespace, serving a 64-byte file on HTTP_SERVER_PORT
//! (published as HTTP_PUBLISHED_PORT like the measured 8080 -> 80), and
//! Debian's wrk in the outside namespace keeping WRK_CONNECTIONS keep-alive
//! connections busy from one thread. Each nginx has its own config, pid
//! file, logs and temp dirs under the bench dir; it runs in the foreground
//! as a background process of the lab, which stops it and removes the dir.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::lab::{DIR, Lab};
use super::load::Sample;
use super::topology::{HTTP_SERVER_PORT, Kind, in_ns};
use crate::cmd::{command, output};
use crate::interrupt::check_interrupted;

/// The body nginx serves, and its size.
pub const BODY_BYTES: usize = 64;
const BODY_PATH: &str = "/body";
/// wrk's load: this many threads and keep-alive connections.
pub const WRK_THREADS: u32 = 1;
pub const WRK_CONNECTIONS: u32 = 8;
/// nginx worker processes.
pub const NGINX_WORKERS: u32 = 1;

fn nginx_dir(kind: Kind) -> PathBuf {
    Path::new(DIR).join(format!("nginx-{}", kind.name()))
}

/// nginx.conf for `dir`: one worker (the machine has 2 CPUs: one for wrk,
/// one for nginx, as the load generator's client and server), keep-alive
/// without a request limit (nginx's default closes a connection after
/// 1,000 requests, which would make wrk reconnect every few ms), no access
/// log, every path nginx writes under `dir`.
pub fn nginx_conf(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        "daemon off;\n\
         worker_processes {NGINX_WORKERS};\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log warn;\n\
         events {{\n\tworker_connections 1024;\n}}\n\
         http {{\n\
         \taccess_log off;\n\
         \tdefault_type application/octet-stream;\n\
         \tsendfile on;\n\
         \tkeepalive_requests 100000000;\n\
         \tkeepalive_timeout 75s;\n\
         \tclient_body_temp_path {d}/tmp/body;\n\
         \tproxy_temp_path {d}/tmp/proxy;\n\
         \tfastcgi_temp_path {d}/tmp/fastcgi;\n\
         \tuwsgi_temp_path {d}/tmp/uwsgi;\n\
         \tscgi_temp_path {d}/tmp/scgi;\n\
         \tserver {{\n\
         \t\tlisten {port};\n\
         \t\troot {d}/www;\n\
         \t}}\n\
         }}\n"
    )
}

/// Writes `kind`'s nginx dir: config, document root with the body, temp.
/// Readable by nginx's worker user (nobody), whatever the umask.
fn write_nginx_dir(kind: Kind) -> Result<PathBuf> {
    let dir = nginx_dir(kind);
    let www = dir.join("www");
    fs::create_dir_all(&www).with_context(|| format!("creating {}", www.display()))?;
    fs::create_dir_all(dir.join("tmp"))
        .with_context(|| format!("creating {}/tmp", dir.display()))?;
    for path in [Path::new(DIR), &dir, &www] {
        fs::set_permissions(path, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("chmod 755 {}", path.display()))?;
    }
    let body = www.join(BODY_PATH.trim_start_matches('/'));
    fs::write(&body, [b'x'; BODY_BYTES]).with_context(|| format!("writing {}", body.display()))?;
    fs::set_permissions(&body, fs::Permissions::from_mode(0o644))
        .with_context(|| format!("chmod 644 {}", body.display()))?;
    let conf = dir.join("nginx.conf");
    fs::write(&conf, nginx_conf(&dir, HTTP_SERVER_PORT))
        .with_context(|| format!("writing {}", conf.display()))?;
    Ok(dir)
}

/// Starts nginx in `kind`'s server namespace and waits until it listens.
pub fn start_nginx(lab: &mut Lab, kind: Kind) -> Result<()> {
    let dir = write_nginx_dir(kind)?;
    let ns = kind.srv_ns();
    let mut nginx = in_ns(&ns, "nginx");
    nginx
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(dir.join("error.log"));
    lab.spawn(&format!("{}-nginx", kind.name()), &mut nginx)?;
    let filter = format!("sport = :{HTTP_SERVER_PORT}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        check_interrupted()?;
        lab.check_children().with_context(|| {
            format!("nginx of {}: see {}/error.log", kind.name(), dir.display())
        })?;
        let listening = output(in_ns(&ns, "ss").args(["-Hltn", &filter]))?;
        if !listening.trim().is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "nginx of {} does not listen on port {HTTP_SERVER_PORT} after 10 s; see {}/error.log",
                kind.name(),
                dir.display()
            );
        }
        sleep(Duration::from_millis(50));
    }
}

/// Runs wrk from `kind`'s outside namespace against its HTTP target for
/// `seconds` (wrk takes whole seconds: at least 1).
pub fn run_wrk(kind: Kind, seconds: f64) -> Result<Sample> {
    let duration = format!("{}s", seconds.ceil().max(1.0) as u64);
    let url = format!("http://{}{BODY_PATH}", kind.http_target());
    let mut wrk = in_ns(&kind.out_ns(), "wrk");
    wrk.args([&format!("-t{WRK_THREADS}"), &format!("-c{WRK_CONNECTIONS}")])
        .args(["-d", &duration])
        .args(["--latency", &url]);
    let out = output(&mut wrk);
    check_interrupted()?;
    let out = out?;
    parse_wrk(&out).with_context(|| format!("wrk against {url} printed:\n{out}"))
}

/// A wrk time ("150.00us", "1.23ms", "2.00s") in µs.
fn micros(text: &str) -> Result<f64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1e6)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60e6)
    } else {
        bail!("{text:?} is not a wrk time (us, ms, s or m)");
    };
    let value: f64 = number
        .parse()
        .with_context(|| format!("{text:?} is not a wrk time"))?;
    Ok(value * scale)
}

/// The numbers after `label` in "label: connect 0, read 1, ..." or
/// "label: 5", summed.
fn sum_of_counts(rest: &str) -> Result<u64> {
    let mut sum = 0;
    for word in rest.split([' ', ',']).filter(|w| !w.is_empty()) {
        if word.chars().all(|c| c.is_ascii_digit()) {
            sum += word
                .parse::<u64>()
                .with_context(|| format!("count {word:?}"))?;
        }
    }
    Ok(sum)
}

/// Requests/s, latency percentiles (from `--latency`) and errors (socket
/// errors and non-2xx/3xx responses) from wrk's report.
pub fn parse_wrk(text: &str) -> Result<Sample> {
    let mut sample = Sample::default();
    let (mut rate, mut p50, mut p90, mut p99) = (None, None, None, None);
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("Requests/sec:") {
            let rest = rest.trim();
            rate = Some(
                rest.parse::<f64>()
                    .with_context(|| format!("Requests/sec {rest:?}"))?,
            );
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            sample.errors += sum_of_counts(rest)?;
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            sample.errors += sum_of_counts(rest)?;
        } else if let Some((percent, time)) = line.split_once('%') {
            let slot = match percent.trim() {
                "50" => &mut p50,
                "90" => &mut p90,
                "99" => &mut p99,
                _ => continue,
            };
            *slot = Some(micros(time.trim())?);
        }
    }
    let (Some(rate), Some(p50), Some(p90), Some(p99)) = (rate, p50, p90, p99) else {
        bail!("no Requests/sec line or no 50/90/99% latency lines (is --latency given?)");
    };
    if rate <= 0.0 {
        bail!("wrk completed no request");
    }
    sample.value = rate;
    (sample.p50_us, sample.p90_us, sample.p99_us) = (p50, p90, p99);
    Ok(sample)
}

/// nginx's and wrk's versions, for the report ("nginx/1.22.1, wrk
/// debian/4.1.0-3+b2"): `nginx -v` prints to stderr, `wrk -v` its usage too
/// and exits 1.
pub fn versions() -> String {
    let first_line = |program: &str| {
        command(program)
            .arg("-v")
            .output()
            .map(|o| {
                let text = [o.stdout, o.stderr].concat();
                let text = String::from_utf8_lossy(&text);
                text.lines().next().unwrap_or_default().to_string()
            })
            .unwrap_or_default()
    };
    let nginx = first_line("nginx");
    let nginx = nginx.trim_start_matches("nginx version: ");
    let wrk = first_line("wrk");
    let wrk = wrk.split(" [").next().unwrap_or_default();
    format!("{nginx}, {wrk}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 3s test @ http://198.18.4.1:8081/body
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   183.48us   95.31us   4.12ms   93.40%
    Req/Sec    43.71k     1.94k   46.20k    80.00%
  Latency Distribution
     50%  168.00us
     75%  190.00us
     90%  231.00us
     99%    1.02ms
  130475 requests in 3.00s, 37.33MB read
Requests/sec:  43491.66
Transfer/sec:     12.44MB
";

    #[test]
    fn reads_rate_and_percentiles() {
        let s = parse_wrk(REPORT).expect("a wrk report");
        assert_eq!(s.value, 43491.66);
        assert_eq!(s.p50_us, 168.0);
        assert_eq!(s.p90_us, 231.0);
        assert!((s.p99_us - 1020.0).abs() < 1e-9, "{}", s.p99_us);
        assert_eq!(s.errors, 0);
    }

    #[test]
    fn counts_socket_errors_and_bad_statuses() {
        let text = REPORT.replace(
            "Requests/sec",
            "  Socket errors: connect 0, read 2, write 1, timeout 3\n  \
             Non-2xx or 3xx responses: 40\nRequests/sec",
        );
        assert_eq!(parse_wrk(&text).expect("a wrk report").errors, 46);
    }

    #[test]
    fn times_in_every_unit() {
        assert_eq!(micros("12.50us").ok(), Some(12.5));
        assert_eq!(micros("2.00ms").ok(), Some(2000.0));
        assert_eq!(micros("1.50s").ok(), Some(1_500_000.0));
        assert_eq!(micros("1.00m").ok(), Some(60_000_000.0));
        assert!(micros("7ns").is_err());
        assert!(micros("fast").is_err());
    }

    #[test]
    fn refuses_incomplete_or_empty_reports() {
        let without_latency: String = REPORT
            .lines()
            .filter(|l| !l.contains('%') || l.contains("Stdev"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(parse_wrk(&without_latency).is_err());
        assert!(parse_wrk("unable to connect to 198.18.4.1:8081 Connection refused").is_err());
        let nothing = REPORT.replace("43491.66", "0.00");
        assert!(parse_wrk(&nothing).is_err());
    }

    #[test]
    fn conf_keeps_every_path_in_its_dir() {
        let conf = nginx_conf(Path::new("/tmp/ebnb-bench/nginx-x"), 81);
        assert!(conf.contains("listen 81;"));
        let paths: Vec<&str> = conf.lines().filter(|l| l.contains(" /")).collect();
        assert_eq!(paths.len(), 8, "{conf}");
        for line in paths {
            assert!(line.contains("/tmp/ebnb-bench/nginx-x/"), "{line}");
        }
    }
}
