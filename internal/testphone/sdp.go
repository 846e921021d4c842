package testphone

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
)

// SDP writes a minimal audio SDP offering the given "pt name" formats.
func SDP(addr netip.AddrPort, formats ...string) []byte {
	pts := ""
	maps := ""
	for _, f := range formats {
		var pt int
		var name string
		fmt.Sscanf(f, "%d %s", &pt, &name)
		pts += " " + strconv.Itoa(pt)
		maps += fmt.Sprintf("a=rtpmap:%d %s\r\n", pt, name)
	}
	return []byte(fmt.Sprintf("v=0\r\no=test 1 1 IN IP4 %s\r\ns=test\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP%s\r\n%sa=ptime:20\r\na=sendrecv\r\n",
		addr.Addr(), addr.Addr(), addr.Port(), pts, maps))
}

var (
	reConn = regexp.MustCompile(`(?m)^c=IN IP4 (\S+)`)
	reAud  = regexp.MustCompile(`(?m)^m=audio (\d+) RTP/S?AVP ([\d ]+)`)
)

// ParseSDP returns the audio address and the payload types of an SDP body.
func ParseSDP(b []byte) (netip.AddrPort, []int, error) {
	c := reConn.FindSubmatch(b)
	m := reAud.FindSubmatch(b)
	if c == nil || m == nil {
		return netip.AddrPort{}, nil, fmt.Errorf("no audio in SDP: %q", b)
	}
	ip, err := netip.ParseAddr(string(c[1]))
	if err != nil {
		return netip.AddrPort{}, nil, err
	}
	port, _ := strconv.Atoi(string(m[1]))
	var pts []int
	for _, f := range regexp.MustCompile(`\d+`).FindAll(m[2], -1) {
		n, _ := strconv.Atoi(string(f))
		pts = append(pts, n)
	}
	return netip.AddrPortFrom(ip, uint16(port)), pts, nil
}
