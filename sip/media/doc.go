// Package media owns RTP for sc115: one UDP socket per call leg, G.711
// (PCMA/PCMU) frames, pre-encoded prompts and hold audio paced by a sharded
// media clock, and the relay that bridges a caller leg to an agent leg.
//
// It knows nothing about SIP dialogs or municipalities: the sip package
// negotiates codecs and addresses and hands them to a Session; the acd
// package decides what a caller hears.
package media
