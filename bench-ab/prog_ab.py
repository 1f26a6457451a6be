#!/usr/bin/env python3
"""Interleaved A/B of ebpfnet's IPv4 hot paths: bpf_stats ns per run of
`uplink_ingress` and `container_ingress`, plus the client's rate.

A lab of its own: an outside namespace behind the uplink veth `pfup`
(198.19.77.0/24), one container (10.241.77.5) publishing host port 18473;
`pub_rr`/`pub_crr` run from outside to the published port, `masq_rr`/
`masq_crr` from the container to the outside (masquerade), with
`ebpfnet-bench` ($LG, default target/release/ebpfnet-bench). The same
over IPv6: the uplink also has 2001:db8:77::1/64 (outside ::2), a second
container on an IPv6 network (fd00:77::5) publishes [::]:18474;
`pub6_*` and `masq6_*` (picked with TESTS) run those paths. Everything is
removed at the end, also on error. Run as root under the tests' host lock:

  flock /run/ebpfnet-tests.lock python3 bench-ab/prog_ab.py bins ROUNDS DUR BIN_A BIN_B...
      a fresh daemon per binary per round, the binaries' order rotating
  ... prog_ab.py swap ROUNDS DUR BIN_A BIN_B...
      as bins, but one lab: only the daemon is restarted with the next
      binary (it takes the programs over behind the pinned links)
  flock /run/ebpfnet-tests.lock python3 bench-ab/prog_ab.py pairs BIN ROUNDS DUR A B
      one daemon; values A and B alternate in the PERF_KNOBS array map
      between runs (A,B then B,A): only for an experiment build whose
      programs read such a map (none in the tree)
  knobs BIN ROUNDS DUR K...: as pairs, for several values in rotation

PIN_CPU=N runs servers and clients on CPU N (less scheduling noise);
TESTS=pub_rr,masq_rr picks tests. Results: JSON lines in
/tmp/perfab/results-<time>.jsonl; summarise with prog_ab_summary.py.
"""
import json, os, subprocess, sys, time, signal

LG = os.path.abspath(os.environ.get("LG", "target/release/ebpfnet-bench"))
D = "/tmp/perfab/lab"
os.makedirs("/tmp/perfab", exist_ok=True)
S = D + "/sock"
PIN = "/sys/fs/bpf/perfab"
NS_OUT = "pfout"
UP = "pfup"
UP_IP, OUT_IP = "198.19.77.1", "198.19.77.2"
SUBNET, CIP = "10.241.77.0/24", "10.241.77.5"
PORT = 18473       # published host port
SPORT = 9000       # servers' port
UP_IP6, OUT_IP6 = "2001:db8:77::1", "2001:db8:77::2"
SUBNET6, CIP6 = "fd00:77::/64", "fd00:77::5"
PORT6 = 18474      # published host port (IPv6)
SPORT6 = 9001      # servers' port (IPv6)
ALL_TESTS = [("pub_rr", "rr"), ("pub_crr", "crr"), ("masq_rr", "rr"), ("masq_crr", "crr"),
             ("pub6_rr", "rr"), ("pub6_crr", "crr"), ("masq6_rr", "rr"), ("masq6_crr", "crr")]
TESTS = ALL_TESTS[:4]
if os.environ.get("TESTS"):
    TESTS = [t for t in ALL_TESTS if t[0] in os.environ["TESTS"].split(",")]


def sh(cmd, check=True, **kw):
    return subprocess.run(cmd, shell=True, check=check, text=True, capture_output=True, **kw)


class Lab:
    def __init__(self):
        self.procs = []
        self.daemon = None
        self.cns = None

    def net_up(self):
        sh(f"ip netns add {NS_OUT}")
        sh(f"ip link add {UP} type veth peer name eth0 netns {NS_OUT}")
        sh(f"ip addr add {UP_IP}/24 dev {UP}; ip link set {UP} up")
        sh(f"ip -n {NS_OUT} addr add {OUT_IP}/24 dev eth0; ip -n {NS_OUT} link set eth0 up;"
           f" ip -n {NS_OUT} link set lo up")
        sh(f"ip netns exec {NS_OUT} sysctl -qw net.ipv4.tcp_max_tw_buckets=0")
        sh(f"ip addr add {UP_IP6}/64 dev {UP} nodad")
        sh(f"ip -n {NS_OUT} addr add {OUT_IP6}/64 dev eth0 nodad")
        # Replies to the masqueraded flows: the uplink address is on-link.
        for listen in (f"0.0.0.0:{SPORT}", f"[::]:{SPORT6}"):
            self.procs.append(serve(NS_OUT, listen))

    def spawn_daemon(self, binary):
        """Starts `binary` as the lab's daemon and waits until it answers."""
        log = open(D + "/daemon.log", "a")
        self.daemon = subprocess.Popen(
            [binary, "daemon", "--socket", S, "--state-dir", D + "/state", "--pin-dir", PIN,
             "--uplink", UP, "--bridge", "pfbr0", "--default-subnet", SUBNET],
            stdout=log, stderr=log)
        self.bin = binary
        for _ in range(100):
            if sh(f"EBPFNET_SOCKET={S} {binary} network ls", check=False).returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"daemon {binary} did not start")

    def start(self, binary):
        os.makedirs(D + "/state", exist_ok=True)
        self.spawn_daemon(binary)
        self.cli(f"container create pfc --ip {CIP}")
        self.cli(f"publish {PORT}:{SPORT} --container pfc")
        self.cns, self.srv = serve_in_container("pfc", f"0.0.0.0:{SPORT}")
        self.cli(f"network create --ipv6 --subnet 10.241.78.0/24 --subnet {SUBNET6} pfnet6")
        self.cli(f"container create pfc6 --network pfnet6 --ip6 {CIP6}")
        self.cli(f"publish [::]:{PORT6}:{SPORT6} --container pfc6")
        self.cns6, self.srv6 = serve_in_container("pfc6", f"[::]:{SPORT6}")
        time.sleep(0.5)

    def restart(self, binary):
        """Stops the daemon only (container, flows and pins stay) and starts
        `binary` on the same state and pin dirs: it takes the programs over
        behind the pinned links, as an upgrade does."""
        self.daemon.terminate()
        self.daemon.wait(10)
        self.spawn_daemon(binary)
        time.sleep(0.5)

    def cli(self, args):
        return sh(f"EBPFNET_SOCKET={S} {self.bin} {args}")

    def stop(self):
        for attr in ("srv", "srv6"):
            if getattr(self, attr, None):
                getattr(self, attr).terminate(); getattr(self, attr).wait(); setattr(self, attr, None)
        if self.daemon:
            sh(f"EBPFNET_SOCKET={S} {self.bin} container rm pfc", check=False)
            sh(f"EBPFNET_SOCKET={S} {self.bin} container rm pfc6", check=False)
            sh(f"EBPFNET_SOCKET={S} {self.bin} network rm pfnet6", check=False)
            self.daemon.terminate()
            try:
                self.daemon.wait(10)
            except subprocess.TimeoutExpired:
                self.daemon.kill(); self.daemon.wait()
            self.daemon = None
        sh(f"rm -rf {PIN} {D}/state {S}", check=False)
        sh("ip link del pfbr0", check=False)

    def down(self):
        self.stop()
        for p in self.procs:
            p.terminate(); p.wait()
        sh(f"ip netns del {NS_OUT}", check=False)
        sh(f"ip link del {UP}", check=False)


def netns_of(name):
    """The namespace of container `name` (named after it)."""
    names = [l.split()[0] for l in sh("ip netns list").stdout.splitlines() if l.strip()]
    exact = [n for n in names if n == name]
    return (exact or [n for n in names if n.endswith(name)])[0]


def serve(ns, listen):
    """An `ebpfnet-bench server` in namespace `ns`, listening on `listen`."""
    return subprocess.Popen(f"exec ip netns exec {ns} {TS}{LG} server --listen {listen}",
                            shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def serve_in_container(name, listen):
    """The namespace of container `name` (TIME_WAIT buckets off, as the
    outside's) and a server listening there on `listen`."""
    ns = netns_of(name)
    sh(f"ip netns exec {ns} sysctl -qw net.ipv4.tcp_max_tw_buckets=0")
    return ns, serve(ns, listen)


def prog_stats():
    out = {}
    links = PIN + "/links"
    for name in os.listdir(links):
        if not (name.startswith("uplink_ingress@") or name.startswith("container_ingress@")):
            continue
        link = json.loads(sh(f"bpftool -j link show pinned {links}/{name}").stdout)
        pid = link.get("prog_id")
        if pid is None:
            continue
        prog = json.loads(sh(f"bpftool -j prog show id {pid}").stdout)
        out[name.split("@")[0]] = (prog.get("run_time_ns", 0), prog.get("run_cnt", 0))
    return out


PIN_CPU = os.environ.get("PIN_CPU", "")
TS = f"taskset -c {PIN_CPU} " if PIN_CPU else ""


def run_test(lab, test, kind, dur):
    if test.startswith("pub6"):
        cmd = f"ip netns exec {NS_OUT} {TS}{LG} {kind} --target [{UP_IP6}]:{PORT6} --duration {dur}"
    elif test.startswith("masq6"):
        cmd = f"ip netns exec {lab.cns6} {TS}{LG} {kind} --target [{OUT_IP6}]:{SPORT6} --duration {dur}"
    elif test.startswith("pub"):
        cmd = f"ip netns exec {NS_OUT} {TS}{LG} {kind} --target {UP_IP}:{PORT} --duration {dur}"
    else:
        cmd = f"ip netns exec {lab.cns} {TS}{LG} {kind} --target {OUT_IP}:{SPORT} --duration {dur}"
    before = prog_stats()
    r = sh(cmd, check=False)
    after = prog_stats()
    rate = None
    for line in r.stdout.splitlines():
        try:
            j = json.loads(line)
        except ValueError:
            continue
        for k, v in j.items():
            if isinstance(v, (int, float)) and ("per_s" in k or k in ("rate", "tps", "cps")):
                rate = v
        rate = rate if rate is not None else j
    ns = {}
    for prog, (t1, c1) in after.items():
        t0, c0 = before.get(prog, (0, 0))
        if c1 > c0:
            ns[prog] = ((t1 - t0) / (c1 - c0), c1 - c0)
    return rate, ns, r.stderr.strip()[-200:]


def emit(tag, rec):
    with open(f"/tmp/perfab/results-{tag}.jsonl", "a") as f:
        f.write(json.dumps(rec) + "\n")
    print(json.dumps(rec), flush=True)


def set_knobs(v):
    ids = [m["id"] for m in json.loads(sh("bpftool -j map show").stdout)
           if m.get("name") == "PERF_KNOBS"]
    if len(ids) != 1:
        raise RuntimeError(f"PERF_KNOBS maps: {ids}")
    b = v.to_bytes(4, "little")
    sh(f"bpftool map update id {ids[0]} key 0 0 0 0 value {' '.join(str(x) for x in b)}")


def rotated(items, r):
    """`items` starting at the `r`th (round `r` of a rotation)."""
    return items[r % len(items):] + items[:r % len(items)]


def run_tests(lab, tag, r, variant, dur):
    """Every test once on the lab as it is, each a result line."""
    for test, kind in TESTS:
        rate, ns, err = run_test(lab, test, kind, dur)
        emit(tag, {"round": r, "variant": variant, "test": test, "rate": rate, "ns": ns,
                   "err": err})


def main():
    mode = sys.argv[1]
    old = sh("sysctl -n kernel.bpf_stats_enabled").stdout.strip()
    sh("sysctl -qw kernel.bpf_stats_enabled=1")
    lab = Lab()
    tag = time.strftime("%H%M%S")
    try:
        lab.net_up()
        if mode == "swap":
            rounds, dur = int(sys.argv[2]), sys.argv[3]
            bins = sys.argv[4:]
            lab.start(bins[0])
            for r in range(rounds):
                for b in rotated(bins, r):
                    lab.restart(b)
                    run_tests(lab, tag, r, os.path.basename(b), dur)
        elif mode == "pairs":
            binary, rounds, dur = sys.argv[2], int(sys.argv[3]), sys.argv[4]
            a, b = int(sys.argv[5]), int(sys.argv[6])
            lab.start(binary)
            for r in range(rounds):
                for test, kind in TESTS:
                    for k in ((a, b) if r % 2 == 0 else (b, a)):
                        set_knobs(k)
                        rate, ns, err = run_test(lab, test, kind, dur)
                        emit(tag, {"round": r, "variant": k, "test": test, "rate": rate,
                                   "ns": ns, "err": err})
        elif mode == "knobs":
            binary, rounds, dur = sys.argv[2], int(sys.argv[3]), sys.argv[4]
            knobs = [int(k) for k in sys.argv[5:]]
            lab.start(binary)
            for r in range(rounds):
                for k in rotated(knobs, r):
                    set_knobs(k)
                    run_tests(lab, tag, r, k, dur)
        else:
            rounds, dur = int(sys.argv[2]), sys.argv[3]
            bins = sys.argv[4:]
            for r in range(rounds):
                for b in rotated(bins, r):
                    lab.start(b)
                    run_tests(lab, tag, r, os.path.basename(b), dur)
                    lab.stop()
    finally:
        lab.down()
        sh(f"sysctl -qw kernel.bpf_stats_enabled={old}")
    print("results:", f"/tmp/perfab/results-{tag}.jsonl")


if __name__ == "__main__":
    main()
