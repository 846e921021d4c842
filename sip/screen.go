package sip

import (
	"bytes"
	"net"
	"strconv"

	"github.com/emiago/sipgo/sip"
)

// readFilter is sipgo's transport read filter: every UDP datagram passes
// the source's rate (admission.rateFilter), then screenDatagram; a broken
// request is answered here, counted and logged once per source and minute.
func (s *Server) readFilter(p sip.TransportReadProps, data []byte) ([]byte, error) {
	if !s.adm.rateFilter(p, data) {
		return nil, nil
	}
	if sip.NetworkToLower(p.Transport) != "udp" {
		return data, nil
	}
	pass, reply, why := screenDatagram(data)
	if why != "" {
		s.m.malformed.Inc()
		if s.quiet.allow(hostOf(p.RemoteAddr) + " malformed") {
			s.log.Warn().Str("src", p.RemoteAddr.String()).Str("why", why).Bool("answered", reply != nil).Msg("malformed SIP datagram refused")
		}
	}
	if reply != nil {
		_, _ = s.udp.WriteTo(reply, p.RemoteAddr)
	}
	if pass != nil && s.registerInline(p, pass) {
		return nil, nil
	}
	return pass, nil
}

func hostOf(a net.Addr) string {
	if ua, ok := a.(*net.UDPAddr); ok {
		return ua.IP.String()
	}
	return a.String()
}

// maxHeaderBytes bounds a request's start line and headers. Real INVITEs
// carry a few KB; a 60 KB header is an attack on the parser.
const maxHeaderBytes = 16 << 10

// screenDatagram looks at a UDP datagram before sipgo's parser, which
// answers nothing for what it cannot parse (issue 12, 7). It returns the
// bytes to pass on (nil: drop), and for a broken request a ready answer
// (400 or 513, built from its own Via, From, To, Call-ID and CSeq) and why.
// What can be repaired is: LF-only line ends become CRLF, bytes beyond
// Content-Length are cut (RFC 3261 §18.3). Responses pass untouched.
func screenDatagram(data []byte) (pass, reply []byte, why string) {
	if bytes.HasPrefix(data, []byte("SIP/")) || len(bytes.Trim(data, "\r\n")) == 0 {
		return data, nil, ""
	}
	head, body, repaired := splitHead(data)
	if len(head) > maxHeaderBytes {
		return nil, answerFor(head, 513, "Message Too Large"), "headers larger than 16 KB"
	}
	// Every SIP datagram passes here: walk the header lines in place, no
	// allocation unless something is wrong.
	clen, hasLen := -1, false
	_, rest, _ := bytes.Cut(head, []byte("\r\n")) // after the start line
	for len(rest) > 0 {
		var l []byte
		l, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(l, []byte(":"))
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		if bytes.EqualFold(name, []byte("refer-to")) || bytes.EqualFold(name, []byte("r")) {
			// sipgo drops a REFER whose Refer-To it cannot parse, unanswered:
			// the phone would retransmit it for 32 s and hear nothing.
			if _, _, err := parseReferTo([]string{string(bytes.TrimSpace(value))}); err == errBadReferTo {
				return nil, answerFor(head, 400, "Bad Refer-To"), "Refer-To " + strconv.Quote(string(bytes.TrimSpace(value)))
			}
			continue
		}
		if !bytes.EqualFold(name, []byte("content-length")) && !bytes.EqualFold(name, []byte("l")) {
			continue
		}
		v := string(bytes.TrimSpace(value))
		if len(v) == 0 || len(v) > 9 || v[0] == '-' || v[0] == '+' {
			return nil, answerFor(head, 400, "Bad Content-Length"), "Content-Length " + strconv.Quote(v)
		}
		x, err := strconv.Atoi(v)
		if err != nil || (hasLen && x != clen) {
			return nil, answerFor(head, 400, "Bad Content-Length"), "Content-Length " + strconv.Quote(v)
		}
		clen, hasLen = x, true
	}
	if hasLen {
		if clen > len(body) {
			return nil, answerFor(head, 400, "Content-Length Larger Than Body"), "Content-Length " + strconv.Itoa(clen) + " > body " + strconv.Itoa(len(body))
		}
		repaired = repaired || clen < len(body)
		body = body[:clen]
	}
	if !repaired {
		return data, nil, ""
	}
	out := make([]byte, 0, len(head)+4+len(body))
	out = append(append(append(out, head...), "\r\n\r\n"...), body...)
	return out, nil, ""
}

// answerFor builds the answer to a request from its head: the
// status line, its Via, From, To, Call-ID and CSeq headers, no body. No
// answer (nil) for an ACK or when one of those is missing: it could not
// find its way back, or match anything.
func answerFor(head []byte, code int, reason string) []byte {
	lines := bytes.Split(head, []byte("\r\n"))
	if bytes.HasPrefix(lines[0], []byte("ACK ")) {
		return nil
	}
	var b bytes.Buffer
	b.WriteString("SIP/2.0 " + strconv.Itoa(code) + " " + reason + "\r\n")
	need := map[string]bool{"via": false, "from": false, "to": false, "call-id": false, "cseq": false}
	long := map[string]string{"v": "via", "f": "from", "t": "to", "i": "call-id"}
	for _, l := range lines[1:] {
		name, _, ok := bytes.Cut(l, []byte(":"))
		if !ok {
			continue
		}
		n := string(bytes.ToLower(bytes.TrimSpace(name)))
		if ln, ok := long[n]; ok {
			n = ln
		}
		if _, ok := need[n]; ok && len(l) < 1024 {
			need[n] = true
			b.Write(l)
			b.WriteString("\r\n")
		}
	}
	for _, seen := range need {
		if !seen {
			return nil
		}
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.Bytes()
}

// splitHead splits a message at its first blank line (CRLF CRLF, or LF LF
// from a sender that ends lines with LF only), with the head's line ends
// made CRLF. Without a blank line it is all head.
func splitHead(data []byte) (head, body []byte, repaired bool) {
	i, j := bytes.Index(data, []byte("\r\n\r\n")), bytes.Index(data, []byte("\n\n"))
	switch {
	case i >= 0 && (j < 0 || i < j):
		return data[:i], data[i+4:], false
	case j >= 0:
		head, body = data[:j], data[j+2:]
	default:
		head = bytes.TrimRight(data, "\r\n")
	}
	return bytes.ReplaceAll(bytes.ReplaceAll(head, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n")), body, true
}
