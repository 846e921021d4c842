// Package kernel forwards the RTP of bridged call legs inside the Linux
// kernel, as rtpengine's kernel module does, so that a relayed packet costs
// no system call and never reaches sc115's process.
//
// A small eBPF program (forward.c, compiled by bpf2go and committed)
// sits on tcx ingress of the loopback interface and of the interfaces that
// own the media address. sip/media puts one entry per direction of a
// bridge into its hash map once user space has relayed the first packet of
// a source and so knows the offsets; the program then rewrites each
// following packet exactly as the user-space relay would (addresses,
// ports, SSRC, sequence number, timestamp, payload type, checksums) and
// delivers it: up the stack to a local peer, or out of the peer's
// interface by bpf_redirect_neigh. Everything the entry does not describe
// exactly goes on to user space unchanged.
//
// Why tcx rather than XDP or a sockmap: XDP sees no locally sent packets
// on loopback in native mode and has no checksum helpers for
// CHECKSUM_PARTIAL packets; a UDP sockmap redirect cannot change
// addresses or RTP fields. tcx (Linux ≥ 6.6) also lets several sc115
// processes (or tests) attach their own programs side by side: a packet
// no entry of this program describes goes on to the next (TCX_NEXT).
package kernel
