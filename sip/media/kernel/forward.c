//go:build ignore

// SPDX-License-Identifier: GPL-2.0
//
// sc115's kernel RTP forwarder: a TC (tcx) ingress program that relays a
// bridged leg's RTP the way sip/media's user-space relay does, without the
// packet ever reaching user space. One map entry per direction of a bridge,
// keyed by the packet's 4-tuple as it arrives (the leg's local address and
// the peer's latched address), says where it goes out and how the RTP
// header is rewritten so that the outgoing leg's stream stays continuous:
// the source becomes the other leg's socket, the destination that leg's
// peer, the SSRC the outgoing leg's, the sequence number and timestamp are
// shifted by the offsets user space computed when it relayed the first
// packet of this source, and the payload type is mapped. Anything the entry
// does not describe exactly (another SSRC, another payload type such as a
// DTMF event, CSRCs, extensions, padding, IP options, fragments, GSO) is
// left to user space (TCX_NEXT), which handles it as if there were no
// kernel path. A sink entry, for a leg bridged to no one, only counts its
// peer's audio and drops it.
//
// Built by `make generate` (bpf2go); the object is committed.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char __license[] SEC("license") = "GPL";

#define IP_OFF ETH_HLEN
#define UDP_OFF (IP_OFF + 20)
#define RTP_OFF (UDP_OFF + 8)
#define RTP_HLEN 12
#define UDP_CSUM (UDP_OFF + offsetof(struct udphdr, check))
#define IP_CSUM (IP_OFF + offsetof(struct iphdr, check))

#ifndef TCX_NEXT
#define TCX_NEXT -1
#define TCX_PASS 0
#define TCX_DROP 2
#endif

// fwd_key: a packet as it arrives, all fields in network byte order.
struct fwd_key {
	__u32 local_ip;  // the receiving leg's socket
	__u32 remote_ip; // the peer latched on that leg
	__u16 local_port;
	__u16 remote_port;
};

// fwd_val: how it leaves, and what the kernel counted. Addresses, ports and
// out_ssrc in network byte order; offsets and last_* in host order.
struct fwd_val {
	__u32 src_ip; // the outgoing leg's socket
	__u32 dst_ip; // the outgoing leg's peer
	__u16 src_port;
	__u16 dst_port;
	__u32 in_ssrc;  // the source user space computed the offsets for
	__u32 out_ssrc; // the outgoing leg's own SSRC
	__u32 ts_off;
	__u16 seq_off;
	__u8 in_pt;
	__u8 out_pt;
	__u32 ifindex; // 0: the destination is local, deliver up the stack
	__u8 sink; // 1: a leg bridged to no one (greeting, queue, hold): count the audio and drop it
	__u8 _pad[3];
	// Written by the program:
	__u64 packets;
	__u64 octets;  // RTP payload octets (for RTCP sender reports)
	__u64 last_ns; // bpf_ktime_get_ns of the last packet (CLOCK_MONOTONIC)
	__u32 last_ts; // the last timestamp and sequence number sent
	__u16 last_seq;
	__u16 _pad2;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct fwd_key);
	__type(value, struct fwd_val);
} legs SEC(".maps");

// ports says, for each local UDP port (host order), whether a flow in legs
// arrives there (non-zero; user space keeps it). Most
// packets the program sees are for no leg — the audio sc115 itself sends
// to its callers passes the same ingress hook on loopback — and an array
// lookup turns them away at a fraction of a missed hash lookup's cost.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} ports SEC(".maps");

#define L4(off, from, to, size) bpf_l4_csum_replace(skb, UDP_CSUM, from, to, BPF_F_MARK_MANGLED_0 | (size))
#define L4P(from, to) bpf_l4_csum_replace(skb, UDP_CSUM, from, to, BPF_F_MARK_MANGLED_0 | BPF_F_PSEUDO_HDR | 4)

SEC("tc")
int forward_rtp(struct __sk_buff *skb) {
	if (skb->protocol != bpf_htons(ETH_P_IP) || skb->gso_size)
		return TCX_NEXT;
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	if (data + RTP_OFF + RTP_HLEN > end) {
		if (skb->len < RTP_OFF + RTP_HLEN || bpf_skb_pull_data(skb, RTP_OFF + RTP_HLEN))
			return TCX_NEXT;
		data = (void *)(long)skb->data;
		end = (void *)(long)skb->data_end;
		if (data + RTP_OFF + RTP_HLEN > end)
			return TCX_NEXT;
	}
	struct iphdr *ip = data + IP_OFF;
	if (ip->version != 4 || ip->ihl != 5 || ip->protocol != IPPROTO_UDP || (ip->frag_off & bpf_htons(0x3fff)))
		return TCX_NEXT;
	struct udphdr *udp = data + UDP_OFF;
	__u32 dport = bpf_ntohs(udp->dest);
	__u32 *flows = bpf_map_lookup_elem(&ports, &dport);
	if (!flows || !*flows)
		return TCX_NEXT;
	struct fwd_key k = {.local_ip = ip->daddr, .remote_ip = ip->saddr, .local_port = udp->dest, .remote_port = udp->source};
	struct fwd_val *v = bpf_map_lookup_elem(&legs, &k);
	if (!v)
		return TCX_NEXT;
	__u8 *rtp = data + RTP_OFF;
	if (rtp[0] != 0x80 || (rtp[1] & 0x7f) != v->in_pt)
		return TCX_NEXT; // not plain V=2 RTP of the audio payload type
	__u32 ssrc = *(__u32 *)(rtp + 8);
	if (ssrc != v->in_ssrc)
		return TCX_NEXT; // a new source: user space computes new offsets
	if (v->sink) {
		// Nobody listens to a waiting caller's audio: user space would
		// read it only to count it (the media timeout) and drop it.
		__sync_fetch_and_add(&v->packets, 1);
		__sync_fetch_and_add(&v->octets, skb->len - RTP_OFF - RTP_HLEN);
		v->last_ns = bpf_ktime_get_ns();
		return TCX_DROP;
	}

	__u16 old_w0 = *(__u16 *)rtp, old_seq = *(__u16 *)(rtp + 2);
	__u32 old_ts = *(__u32 *)(rtp + 4);
	__u32 old_saddr = ip->saddr, old_daddr = ip->daddr;
	__u16 old_sport = udp->source, old_dport = udp->dest;

	__u8 w0[2] = {rtp[0], (rtp[1] & 0x80) | v->out_pt};
	__u16 new_w0 = *(__u16 *)w0;
	__u16 seq = bpf_ntohs(old_seq) + v->seq_off;
	__u32 ts = bpf_ntohl(old_ts) + v->ts_off;
	__u16 new_seq = bpf_htons(seq);
	__u32 new_ts = bpf_htonl(ts), new_ssrc = v->out_ssrc;
	__u32 new_saddr = v->src_ip, new_daddr = v->dst_ip;
	__u16 new_sport = v->src_port, new_dport = v->dst_port;
	__u32 ifindex = v->ifindex;

	__sync_fetch_and_add(&v->packets, 1);
	__sync_fetch_and_add(&v->octets, skb->len - RTP_OFF - RTP_HLEN);
	v->last_ns = bpf_ktime_get_ns();
	v->last_seq = seq;
	v->last_ts = ts;

	// Packet pointers are void after the first store: only saved values below.
	bpf_skb_store_bytes(skb, RTP_OFF, &new_w0, 2, 0);
	L4(0, old_w0, new_w0, 2);
	bpf_skb_store_bytes(skb, RTP_OFF + 2, &new_seq, 2, 0);
	L4(0, old_seq, new_seq, 2);
	bpf_skb_store_bytes(skb, RTP_OFF + 4, &new_ts, 4, 0);
	L4(0, old_ts, new_ts, 4);
	bpf_skb_store_bytes(skb, RTP_OFF + 8, &new_ssrc, 4, 0);
	L4(0, ssrc, new_ssrc, 4);
	bpf_skb_store_bytes(skb, UDP_OFF + offsetof(struct udphdr, source), &new_sport, 2, 0);
	L4(0, old_sport, new_sport, 2);
	bpf_skb_store_bytes(skb, UDP_OFF + offsetof(struct udphdr, dest), &new_dport, 2, 0);
	L4(0, old_dport, new_dport, 2);
	bpf_skb_store_bytes(skb, IP_OFF + offsetof(struct iphdr, saddr), &new_saddr, 4, 0);
	L4P(old_saddr, new_saddr);
	bpf_l3_csum_replace(skb, IP_CSUM, old_saddr, new_saddr, 4);
	bpf_skb_store_bytes(skb, IP_OFF + offsetof(struct iphdr, daddr), &new_daddr, 4, 0);
	L4P(old_daddr, new_daddr);
	bpf_l3_csum_replace(skb, IP_CSUM, old_daddr, new_daddr, 4);

	if (ifindex)
		return bpf_redirect_neigh(ifindex, 0, 0, 0);
	return TCX_PASS; // a local peer: up the stack to its socket
}
