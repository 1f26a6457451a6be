#!/bin/bash
# A/B of one ebpfnet binary ($B) on the hot paths: crr through masquerade
# (container -> outside), crr and rr to a published port (outside ->
# container), stream to the published port. Adapted from
# /work/notes/masq-exp.sh. Prints one line per run: TEST VALUE.
# Run under the host lock: flock /run/ebpfnet-tests.lock bench-ab/ab-exp.sh
set -u
B=${B:?set B to the ebpfnet binary}
LG=${LG:-/work/main/target/release/ebpfnet-bench}
REPS=${REPS:-2}; DUR=${DUR:-3}
D=/tmp/abexp; S=$D/sock
cleanup() {
  [ -n "${SRV:-}" ] && kill $SRV 2>/dev/null
  [ -n "${SRV2:-}" ] && kill $SRV2 2>/dev/null
  EBPFNET_SOCKET=$S $B container rm abc >/dev/null 2>&1
  [ -n "${DAE:-}" ] && kill $DAE 2>/dev/null; sleep 1
  ip netns del about 2>/dev/null; ip link del abbr0 2>/dev/null; rm -rf /sys/fs/bpf/abexp $D
}
OLDSTATS=$(sysctl -n kernel.bpf_stats_enabled)
trap 'cleanup; sysctl -qw kernel.bpf_stats_enabled=$OLDSTATS' EXIT
sysctl -qw kernel.bpf_stats_enabled=1
rm -rf $D; mkdir -p $D
ip netns add about
ip link add abup type veth peer name eth0 netns about
ip addr add 10.252.0.1/24 dev abup; ip link set abup up
ip -n about addr add 10.252.0.2/24 dev eth0; ip -n about link set eth0 up; ip -n about link set lo up
ip netns exec about sysctl -qw net.ipv4.tcp_max_tw_buckets=0
$B daemon --socket $S --state-dir $D/state --pin-dir /sys/fs/bpf/abexp --uplink abup --bridge abbr0 --default-subnet 10.253.0.0/16 >$D/daemon.log 2>&1 &
DAE=$!
for i in $(seq 50); do EBPFNET_SOCKET=$S $B network ls >/dev/null 2>&1 && break; sleep 0.2; done
EBPFNET_SOCKET=$S $B container create abc --ip 10.253.0.5 -p 8080:9000 >/dev/null || exit 1
NS=$(ip netns list | awk '/abc/{print $1}' | head -1)
ip netns exec $NS sysctl -qw net.ipv4.tcp_max_tw_buckets=0
ip netns exec about $LG server --listen 0.0.0.0:9000 >/dev/null 2>&1 &
SRV=$!
ip netns exec $NS $LG server --listen 0.0.0.0:9000 >/dev/null 2>&1 &
SRV2=$!; sleep 0.5
# The programs this daemon attached: its pinned TCX links.
PIDS=$(for f in /sys/fs/bpf/abexp/links/uplink_ingress@abup /sys/fs/bpf/abexp/links/container_ingress@*; do
  bpftool link show pinned "$f" -j | python3 -c 'import json,sys; print(json.load(sys.stdin)["prog_id"])'; done | sort -u)
# STATS name run_time_ns run_cnt for the programs on the uplink and the veth.
stats() { for id in $PIDS; do bpftool prog show id $id -j | python3 -c 'import json,sys; d=json.load(sys.stdin); print("STATS", sys.argv[1], d["name"], d.get("run_time_ns",0), d.get("run_cnt",0))' "$1"; done; }
val() { python3 -c 'import json,sys; d=json.loads(sys.stdin.readline()); print(d.get(sys.argv[1]))' "$1"; }
for r in $(seq $REPS); do
  stats masq_crr-; echo "masq_crr $(ip netns exec $NS $LG crr --target 10.252.0.2:9000 --duration $DUR --size 64 | tail -1)"; stats masq_crr+
  stats pub_crr-; echo "pub_crr $(ip netns exec about $LG crr --target 10.252.0.1:8080 --duration $DUR --size 64 | tail -1)"; stats pub_crr+
  stats pub_rr-; echo "pub_rr $(ip netns exec about $LG rr --target 10.252.0.1:8080 --duration $DUR --size 64 | tail -1)"; stats pub_rr+
  stats pub_stream-; echo "pub_stream $(ip netns exec about $LG stream --target 10.252.0.1:8080 --duration $DUR | tail -1)"; stats pub_stream+
done
EBPFNET_SOCKET=$S $B stats 2>/dev/null | grep -v " 0$" | grep -i drop
