// Package testphone is a scripted SIP phone for sc115's end-to-end tests,
// built on sipgo and pion/rtp: a caller that dials in over the trunk and an
// agent softphone that registers with digest auth and answers offers. Each
// has an RTP endpoint that sends known payloads and records what arrives.
package testphone
