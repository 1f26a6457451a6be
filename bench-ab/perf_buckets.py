#!/usr/bin/env python3
"""CPU time of one traffic run from a system-wide `perf record -e cpu-clock
-a -g` file, split by kernel function: used by bulk_profile.py.

    python3 bench-ab/perf_buckets.py perf.data [BYTES]

Only samples of the run are counted: those of the load generator's
processes (`comm` ebpfnet-bench) and any sample inside network receive
processing (`net_rx_action`, `process_backlog`, also in ksoftirqd, the idle
task or another process interrupted by the softirq). The rest (others'
compilers, the idle loop) is reported as `other` and `idle`, not counted.

Each counted sample is put in one *stage* (the innermost of the marker
functions on its call chain, leaf first: "where") and one *kind* (its leaf
function's: "what"). Inclusive times of the hops (every sample with the
function anywhere on its chain) are given too; they overlap.
"""
import json
import re
import subprocess
import sys
from collections import Counter

# Leaf functions of an idle CPU.
IDLE = re.compile(r"^(pv_native_safe_halt|native_safe_halt|default_idle|arch_cpu_idle|"
                  r"cpu_idle_poll|poll_idle|intel_idle|acpi_idle\w*|mwait_idle\w*|"
                  r"default_idle_call|cpuidle_enter\w*|do_idle|halt)$")
# A sample inside receive processing belongs to the run whoever it interrupted.
NET_RX = {"net_rx_action", "process_backlog", "__netif_receive_skb_core"}
LOADGEN = "ebpfnet-bench"
SUFFIX = re.compile(r"(\.(constprop|isra|part|cold|llvm)(\.\d+)?)+$")

# Stages, innermost first on the chain: the first marker found walking
# from the leaf to the root names the stage.
STAGES = [
    ("bpf program", r"^bpf_prog_"),
    ("bpf helpers", r"^(bpf_skb_\w+|bpf_l[34]_csum_replace|bpf_redirect\w*|bpf_fib_lookup|"
                    r"bpf_ktime\w*|bpf_map_\w+|htab_\w+|__htab_\w+|trie_\w+|bpf_tail_call)$"),
    ("redirect (skb_do_redirect)", r"^(skb_do_redirect|__bpf_redirect\w*|__bpf_tx_skb)$"),
    ("tc/tcx hook", r"^(tcx_run|sch_handle_ingress|sch_handle_egress|tcf_classify|tc_run)$"),
    ("gso check/segmentation", r"^(skb_segment\w*|__skb_gso_segment|skb_mac_gso_segment|"
                         r"inet_gso_segment|tcp\w*_gso_segment|validate_xmit_skb\w*)$"),
    ("gro", r"^(napi_gro_\w+|dev_gro_receive|gro_\w+|inet_gro_\w+|tcp\w*_gro_\w+|"
            r"skb_gro_\w+|napi_skb_finish)$"),
    ("veth xmit / forward", r"^(veth_xmit|veth_forward_skb|__dev_forward_skb\w*|"
                            r"dev_forward_skb\w*|veth_\w+)$"),
    ("netif_rx / backlog enqueue", r"^(netif_rx\w*|__netif_rx|enqueue_to_backlog)$"),
    ("dev_queue_xmit", r"^(__dev_queue_xmit|dev_queue_xmit\w*|dev_hard_start_xmit|"
                       r"sch_direct_xmit|__dev_xmit_skb)$"),
    ("bridge", r"^br_\w+$"),
    ("ip forward", r"^ip_forward\w*$"),
    ("tcp recvmsg (copy to user)", r"^(tcp_recvmsg\w*|skb_copy_datagram_iter|"
                                    r"__skb_datagram_iter|tcp_cleanup_rbuf|sock_recvmsg|"
                                    r"inet_recvmsg)$"),
    ("ip/tcp output (ACKs, xmit)", r"^(ip_output|ip_finish_output\w*|__ip_queue_xmit|"
                                   r"ip_queue_xmit|__tcp_transmit_skb|tcp_write_xmit|"
                                   r"__tcp_send_ack|tcp_send_ack|neigh_\w+|__tcp_push\w*)$"),
    ("tcp sendmsg (copy from user)", r"^(tcp_sendmsg\w*|sock_sendmsg\w*|__sock_sendmsg|"
                                      r"sock_write_iter|tcp_push\w*|"
                                      r"skb_copy_to_page_nocache|tcp_stream_alloc_skb)$"),
    ("tcp receive", r"^(tcp_v4_rcv|tcp_v6_rcv|tcp_rcv_established|tcp_data_queue|"
                    r"tcp_ack\w*|tcp_v[46]_do_rcv|tcp_event_data_recv|tcp_add_backlog|"
                    r"tcp_queue_rcv|__release_sock|release_sock|tcp_release_cb)$"),
    ("ip receive", r"^(ip_rcv\w*|ip_local_deliver\w*|ip_sublist_rcv\w*|ip_list_rcv|"
                   r"ip6_rcv\w*|ip6_input\w*)$"),
    ("rx core / backlog", r"^(process_backlog|__netif_receive_skb\w*|netif_receive_skb\w*|"
                          r"__napi_poll|net_rx_action)$"),
    ("softirq other", r"^(handle_softirqs|__do_softirq|do_softirq\w*|run_timer_softirq|"
                      r"rcu_core\w*|__local_bh_enable_ip)$"),
    ("scheduler", r"^(schedule\w*|__schedule|try_to_wake_up|__wake_up\w*|"
                  r"sock_def_readable|sk_stream_write_space|sk_wait_data|"
                  r"sk_stream_wait_memory|wait_woken|finish_task_switch\w*)$"),
    ("syscall entry/exit", r"^(do_syscall_64|entry_SYSCALL\w*|syscall_exit\w*|"
                           r"__x64_sys_\w+|ksys_\w+|vfs_read|vfs_write)$"),
]
STAGES = [(name, re.compile(rx)) for name, rx in STAGES]

# Kinds of leaf functions.
KINDS = [
    ("copy user", r"^(copy_user\w*|rep_movs_alternative|_copy_to_iter|_copy_from_iter\w*|"
                  r"copyout|copyin|__copy_user\w*|simple_copy_to_iter|memcpy\w*|__memcpy\w*|"
                  r"memmove|__memmove|copy_page\w*)$"),
    ("checksum", r"^(csum_partial\w*|do_csum|csum_and_copy\w*|__skb_checksum\w*|"
                 r"skb_checksum\w*|csum_\w+|__csum\w*)$"),
    ("bpf program", r"^bpf_prog_"),
    ("bpf helpers and maps", r"^(bpf_\w+|__bpf_\w+|htab_\w+|__htab_\w+|trie_\w+|"
                             r"skb_do_redirect|jhash\w*|inet_proto_csum_replace\w*)$"),
    ("skb/page alloc+free", r"^(kmem_cache_\w+|__kmem_cache\w*|kmalloc\w*|__kmalloc\w*|kfree\w*|"
                            r"__slab_free|___slab_alloc|slab_\w+|__alloc_pages\w*|"
                            r"get_page_from_freelist|free_unref\w*|__free_pages\w*|"
                            r"free_pcppages_bulk|rmqueue\w*|page_frag\w*|skb_release\w*|"
                            r"__kfree_skb\w*|kfree_skbmem|__alloc_skb|__build_skb\w*|"
                            r"skb_free_head|__napi_alloc\w*|napi_\w*alloc\w*|"
                            r"consume_skb|sk_skb_reason_drop|skb_attempt_defer_free|"
                            r"__put_page|put_page|folio_\w+|__folio_put|"
                            r"mem_cgroup_\w+|__mod_\w+|refill_obj_stock|obj_cgroup_\w+|"
                            r"__sk_mem_\w+|sk_forced_mem_schedule|skb_clone|__skb_clone|"
                            r"__copy_skb_header|pskb_expand_head|skb_unclone\w*)$"),
    ("locks", r"^(_raw_spin_\w+|native_queued_spin\w*|queued_spin\w*|__lock_sock\w*|"
              r"lock_sock\w*|_raw_read\w*|_raw_write\w*)$"),
    ("scheduler", r"^(schedule\w*|__schedule|try_to_wake_up|ttwu\w*|enqueue_\w+|dequeue_\w+|"
                  r"update_\w+|pick_next\w*|finish_task_switch\w*|__switch_to\w*|psi_\w+|"
                  r"select_task_rq\w*|set_next_entity|put_prev\w*|reweight\w*|"
                  r"native_sched_clock|sched_clock\w*|__wake_up\w*|raw_spin_rq\w*)$"),
    ("syscall entry/exit", r"^(entry_SYSCALL\w*|syscall_\w+|do_syscall_64|__x64_sys_\w+|"
                           r"fdget\w*|__fget\w*|fput|__fsnotify\w*|security_\w+|"
                           r"srso_\w+|__x86_return_thunk|x86_\w+_thunk\w*)$"),
    ("user space", r"^\[unknown\]$"),
]
KINDS = [(name, re.compile(rx)) for name, rx in KINDS]

# Hops whose inclusive time is reported (any sample with them on its chain).
HOPS = ["tcp_sendmsg", "tcp_recvmsg", "veth_xmit", "netif_rx", "process_backlog",
        "__netif_receive_skb_core", "tcx_run", "skb_do_redirect", "ip_rcv",
        "tcp_v4_rcv", "__dev_queue_xmit", "net_rx_action", "skb_segment"]


def samples(path):
    """Yields (comm, cpu, period_ns, [symbols leaf first]) from `perf script`."""
    out = subprocess.run(
        ["perf", "script", "-i", path, "-F", "comm,tid,cpu,period,ip,sym", "--no-inline"],
        check=True, capture_output=True, text=True).stdout
    comm, cpu, period, chain = None, 0, 0, []
    for line in out.splitlines():
        if not line.strip():
            if comm is not None:
                yield comm, cpu, period, chain
            comm, period, chain = None, 0, []
        elif line[0] not in " \t":
            # "comm tid [cpu] period" (comm may hold spaces: the rest is last).
            fields = line.split()
            comm, cpu, period = " ".join(fields[:-3]), int(fields[-2].strip("[]")), int(fields[-1])
            chain = []
        else:
            parts = line.split(None, 1)
            sym = parts[1].strip() if len(parts) > 1 else "[unknown]"
            # Offsets and the compiler's clone suffixes (.isra.0, .constprop.0,
            # .part.0, .cold) go: one name per function.
            chain.append(SUFFIX.sub("", re.sub(r"\+0x[0-9a-f]+$", "", sym)))
    if comm is not None:
        yield comm, cpu, period, chain


def classify(chain, table, default):
    for sym in chain:
        for name, rx in table:
            if rx.match(sym):
                return name
    return default


def profile(path):
    """Counted ns by stage, kind, leaf symbol and hop; plus totals, and per
    CPU the counted ns under the client's send (`tcp_sendmsg`), the
    server's receive (`tcp_recvmsg`) and the rest, and others' ns."""
    stage, kind, leaf, hops = Counter(), Counter(), Counter(), Counter()
    totals, cpus = Counter(), Counter()
    for comm, cpu, period, chain in samples(path):
        top = chain[0] if chain else "[unknown]"
        in_rx = any(s in NET_RX for s in chain)
        if not in_rx and IDLE.match(top):
            totals["idle"] += period
            continue
        if comm != LOADGEN and not in_rx:
            totals["other"] += period
            cpus[f"{cpu} other"] += period
            continue
        totals["counted"] += period
        names = set(chain)
        side = ("send" if "tcp_sendmsg" in names else
                "recv" if "tcp_recvmsg" in names else "rest")
        cpus[f"{cpu} {side}"] += period
        totals["softirq rx" if in_rx else "load generator (not rx)"] += period
        where = classify(chain, STAGES, "other kernel")
        stage[where] += period
        cpus[f"{cpu} stage {where}"] += period
        kind[classify(chain[:1], KINDS, "other")] += period
        leaf[top] += period
        for hop in HOPS:
            if hop in names:
                hops[hop] += period
    return {"totals": dict(totals), "stage": dict(stage), "kind": dict(kind),
            "leaf": dict(leaf), "hops": dict(hops), "cpus": dict(cpus)}


def main():
    p = profile(sys.argv[1])
    per = float(sys.argv[2]) / 1e9 if len(sys.argv) > 2 else None
    unit = "ms/GB" if per else "ms"
    for section in ("totals", "stage", "kind", "hops", "cpus"):
        print(f"{section} ({unit}):")
        for name, ns in sorted(p[section].items(), key=lambda kv: -kv[1]):
            print(f"  {name:36} {ns / 1e6 / (per or 1):9.1f}")
    print(json.dumps({k: p[k] for k in ("totals", "stage", "kind", "hops", "cpus")}))


if __name__ == "__main__":
    main()
