// Package sip is sc115's signalling on github.com/emiago/sipgo: the trunk
// side (inbound calls from the PBX / 115 network), the registrar agents'
// softphones use, and the B2BUA legs toward agents. SDP offer/answer lives
// here too (pion/sdp); RTP lives in sip/media.
//
// It knows SIP and SDP, nothing about municipalities or queues: inbound
// calls are handed to an InboundHandler, registrations are reported to an
// AgentPresence, and agent legs are created when acd asks the Dialer.
package sip
