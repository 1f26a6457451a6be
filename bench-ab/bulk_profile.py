#!/usr/bin/env python3
"""Where a bulk transfer's CPU time goes: the bench's `stream` test over a
direct veth and through ebpfnet's published port, interleaved, each run
under a system-wide `perf record -e cpu-clock -a -g` (software sampling:
no PMU needed), split by kernel function with perf_buckets.py.

  flock /run/ebpfnet-tests.lock python3 bench-ab/bulk_profile.py ROUNDS SECONDS [PATH...]

PATHs (default both, order alternating per round):
  direct     bpd-out eth0 10.200.77.1 <-> eth0 10.200.77.2 bpd-srv (one veth)
  published  bpp-out eth0 198.19.79.2 <-> bpup 198.19.79.1 [host, daemon]
             -> bpf_redirect_peer -> container bpc 10.241.79.5, `publish 18475:9000`
as in the bench (xtask/src/bench/topology.rs): the outside client writes
128 KiB chunks (`ebpfnet-bench stream`) to the server's sink.

Env: EBPFNET (daemon/CLI binary, default target/debug/ebpfnet: only its
eBPF programs are on the path), LG (default target/release/ebpfnet-bench),
FREQ (perf sampling Hz per CPU, default 999), PIN (same: client and
servers on CPU 0; split: client on CPU 0, servers on CPU 1; default
unpinned, as the bench), KEEP=1 (keep the perf.data files), OUT (results
and the daemon's log, default /tmp/bulkprof/<time>).

Per run: Gbit/s, bytes, CPU ns by stage, leaf function, hop and CPU
(perf_buckets.py), the receiving veths' rx packets and bytes (bytes per
skb) and the softirq's processed packets; JSON lines in OUT/runs.jsonl,
summarised by bulk_profile_summary.py. Everything it makes (namespaces,
links, daemon, pins, servers) is removed at the end, also on error,
Ctrl-C or SIGTERM.
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import perf_buckets  # noqa: E402

EBPFNET = os.path.abspath(os.environ.get("EBPFNET", "target/debug/ebpfnet"))
LG = os.path.abspath(os.environ.get("LG", "target/release/ebpfnet-bench"))
FREQ = os.environ.get("FREQ", "999")
# Where the client and the servers run: unpinned (as the bench), "same"
# CPU 0 for both, "split" client on CPU 0 and servers on CPU 1.
PIN = os.environ.get("PIN", "")
if PIN not in ("", "same", "split"):
    sys.exit(f"PIN={PIN!r}: expected same, split or nothing")
CLIENT_CPU = {"": "", "same": "taskset -c 0 ", "split": "taskset -c 0 "}[PIN]
SERVER_CPU = {"": [], "same": ["taskset", "-c", "0"], "split": ["taskset", "-c", "1"]}[PIN]
OUT = os.environ.get("OUT", time.strftime("/tmp/bulkprof/%Y%m%d-%H%M%S"))
D = "/tmp/bulkprof/lab"
SOCK = D + "/sock"
PIN_DIR = "/sys/fs/bpf/bulkprof"
D_OUT, D_SRV = "bpd-out", "bpd-srv"
P_OUT, UP, BRIDGE = "bpp-out", "bpup", "bpbr0"
UP_IP, OUT_IP = "198.19.79.1", "198.19.79.2"
SUBNET, CIP, CONTAINER = "10.241.79.0/24", "10.241.79.5", "bpc"
PORT, SPORT = 18475, 9000


def sh(cmd, check=True):
    r = subprocess.run(cmd, shell=True, text=True, capture_output=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"`{cmd}` failed ({r.returncode}): {r.stderr.strip()}")
    return r


class Lab:
    def __init__(self):
        self.procs = []
        self.daemon = None
        self.cns = None

    def cli(self, args, check=True):
        return sh(f"EBPFNET_SOCKET={SOCK} {EBPFNET} {args}", check)

    def server(self, ns, listen):
        self.procs.append(subprocess.Popen(
            ["ip", "netns", "exec", ns, *SERVER_CPU, LG, "server", "--listen", listen],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def up(self):
        for path in (EBPFNET, LG):
            if not os.access(path, os.X_OK):
                raise RuntimeError(f"{path} is not an executable (build it first)")
        self.down()  # what an earlier run killed by SIGKILL left
        os.makedirs(D + "/state", exist_ok=True)
        # Direct veth, the bench's floor.
        sh(f"ip netns add {D_OUT}; ip netns add {D_SRV}")
        sh(f"ip link add eth0 netns {D_OUT} type veth peer name eth0 netns {D_SRV}")
        for ns, ip in ((D_OUT, "10.200.77.1"), (D_SRV, "10.200.77.2")):
            sh(f"ip -n {ns} addr add {ip}/24 dev eth0; ip -n {ns} link set eth0 up;"
               f" ip -n {ns} link set lo up")
        self.server(D_SRV, f"0.0.0.0:{SPORT}")
        # ebpfnet: uplink veth to the outside namespace, one container.
        sh(f"ip netns add {P_OUT}")
        sh(f"ip link add {UP} type veth peer name eth0 netns {P_OUT}")
        sh(f"ip addr add {UP_IP}/24 dev {UP}; ip link set {UP} up")
        sh(f"ip -n {P_OUT} addr add {OUT_IP}/24 dev eth0; ip -n {P_OUT} link set eth0 up;"
           f" ip -n {P_OUT} link set lo up")
        log = open(OUT + "/daemon.log", "a")
        self.daemon = subprocess.Popen(
            [EBPFNET, "daemon", "--socket", SOCK, "--state-dir", D + "/state", "--pin-dir", PIN_DIR,
             "--uplink", UP, "--bridge", BRIDGE, "--default-subnet", SUBNET],
            stdout=log, stderr=log)
        for _ in range(100):
            if self.cli("network ls", check=False).returncode == 0:
                break
            if self.daemon.poll() is not None:
                raise RuntimeError(f"the daemon exited; see {OUT}/daemon.log")
            time.sleep(0.2)
        else:
            raise RuntimeError(f"the daemon did not answer in 20 s; see {OUT}/daemon.log")
        self.cli(f"container create {CONTAINER} --ip {CIP}")
        self.cli(f"publish {PORT}:{SPORT} --container {CONTAINER}")
        names = [line.split()[0] for line in sh("ip netns list").stdout.splitlines() if line]
        self.cns = next(n for n in names if n == CONTAINER or n.endswith(CONTAINER))
        self.server(self.cns, f"0.0.0.0:{SPORT}")
        time.sleep(0.5)

    def down(self):
        for p in self.procs:
            p.terminate()
            p.wait()
        self.procs = []
        if self.daemon:
            self.cli(f"container rm {CONTAINER}", check=False)
            self.daemon.terminate()
            try:
                self.daemon.wait(10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
            self.daemon = None
        for ns in (D_OUT, D_SRV, P_OUT):
            sh(f"ip netns del {ns}", check=False)
        for link in (UP, BRIDGE):
            sh(f"ip link del {link}", check=False)
        sh(f"rm -rf {PIN_DIR} {D}", check=False)

    def path(self, name):
        """(client namespace, target, [(namespace, device) whose rx counts])."""
        if name == "direct":
            return D_OUT, f"10.200.77.2:{SPORT}", [(D_SRV, "eth0")]
        return P_OUT, f"{UP_IP}:{PORT}", [("", UP), (self.cns, "eth0")]


def rx_packets(ns, dev):
    pre = f"ip -n {ns}" if ns else "ip"
    stats = json.loads(sh(f"{pre} -s -j link show dev {dev}").stdout)[0]["stats64"]["rx"]
    return stats["packets"], stats["bytes"]


def softnet():
    """Packets processed by the receive softirq, all CPUs (softnet_stat col 1)."""
    return sum(int(line.split()[0], 16) for line in open("/proc/net/softnet_stat"))


def run(lab, name, seconds, out_dir, round_no):
    ns, target, devs = lab.path(name)
    data = f"{out_dir}/{name}-{round_no}.data"
    before = [rx_packets(n, d) for n, d in devs]
    soft = softnet()
    r = sh(f"perf record -q -e cpu-clock -F {FREQ} -a -g -o {data} -- "
           f"ip netns exec {ns} {CLIENT_CPU}{LG} stream --target {target} --duration {seconds}")
    soft = softnet() - soft
    after = [rx_packets(n, d) for n, d in devs]
    try:
        report = json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise RuntimeError(f"the {name} client printed {r.stdout!r} ({r.stderr.strip()})")
    prof = perf_buckets.profile(data)
    if not os.environ.get("KEEP"):
        os.remove(data)
    rx = {f"{n or 'host'}/{d}": {"packets": a[0] - b[0], "bytes": a[1] - b[1]}
          for (n, d), b, a in zip(devs, before, after)}
    # The client counts what it wrote once the server has read it all.
    moved = report["gbit_s"] * 1e9 / 8 * report["seconds"]
    rec = {"round": round_no, "path": name, "pin": PIN, "bytes": moved,
           "seconds": report["seconds"], "gbit_s": report["gbit_s"],
           "softnet_packets": soft, "rx": rx, **prof}
    with open(f"{out_dir}/runs.jsonl", "a") as f:
        f.write(json.dumps(rec) + "\n")
    gb = rec["bytes"] / 1e9
    print(f"round {round_no} {name:9} {rec['gbit_s']:6.1f} Gbit/s  "
          f"{rec['totals'].get('counted', 0) / 1e6 / gb:7.1f} ms CPU/GB  "
          f"other {rec['totals'].get('other', 0) / 1e9:.2f} s", flush=True)


def interrupted(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    try:
        rounds, seconds = int(sys.argv[1]), float(sys.argv[2])
    except ValueError:
        sys.exit(f"ROUNDS and SECONDS must be numbers, not {sys.argv[1:3]}")
    paths = sys.argv[3:] or ["direct", "published"]
    bad = [p for p in paths if p not in ("direct", "published")]
    if bad:
        sys.exit(f"unknown path(s) {bad}: direct, published")
    if os.geteuid() != 0:
        sys.exit("run as root (namespaces, perf -a, the daemon)")
    if rounds < 1 or seconds <= 0:
        sys.exit(f"ROUNDS must be at least 1 and SECONDS above 0, not {sys.argv[1:3]}")
    if subprocess.run(["which", "perf"], capture_output=True).returncode != 0:
        sys.exit("perf is not installed (Debian: linux-perf)")
    # SIGTERM/SIGHUP clean up as Ctrl-C does.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupted)
    os.makedirs(OUT, exist_ok=True)
    lab = Lab()
    try:
        run_rounds(lab, rounds, seconds, paths)
    except RuntimeError as err:
        sys.exit(f"bulk_profile: {err}")
    print(f"results: {OUT}/runs.jsonl (python3 bench-ab/bulk_profile_summary.py {OUT}/runs.jsonl)")


def run_rounds(lab, rounds, seconds, paths):
    """Sets the lab up, runs the rounds, and removes the lab, also on error."""
    try:
        lab.up()
        with open(f"{OUT}/setup.txt", "w") as f:
            for ns, dev in ((D_OUT, "eth0"), (D_SRV, "eth0"), (P_OUT, "eth0"), ("", UP),
                            (lab.cns, "eth0")):
                pre = f"ip -n {ns}" if ns else "ip"
                f.write(sh(f"{pre} -d link show dev {dev}").stdout)
        for r in range(rounds):
            for name in (paths if r % 2 == 0 else paths[::-1]):
                run(lab, name, seconds, OUT, r)
    finally:
        lab.down()


if __name__ == "__main__":
    main()
