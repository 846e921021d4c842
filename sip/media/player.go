package media

// player produces the frames a generated stream sends: each prompt of
// intro once, then loop forever (or silence when loop is nil). Its position is
// touched only by the clock shard that owns the session.
type player struct {
	intro []*Prompt
	loop  *Prompt
	item  int // index into intro; len(intro) means the loop
	frame int
	// played, if set, is closed once the last intro frame has been sent
	// (a greeting that must be heard in full before an agent is offered).
	played chan struct{}
}

// introSent closes played once the intro is over; the owning clock shard
// calls it after each frame it sent.
func (p *player) introSent() {
	if p.played == nil {
		return
	}
	last := len(p.intro) - 1
	if p.item > last || (p.item == last && p.frame >= p.intro[last].Frames()) {
		close(p.played)
		p.played = nil
	}
}

// silence is one 20 ms frame of G.711 silence in each law.
var (
	silencePCMU = make20(0xFF)
	silencePCMA = make20(0xD5)
)

func make20(b byte) []byte {
	f := make([]byte, FrameSamples)
	for i := range f {
		f[i] = b
	}
	return f
}

// next returns the next frame in codec c and advances by skip+1 frames
// (skip > 0 when the clock fell behind and drops frames rather than burst).
func (p *player) next(c Codec, skip int) []byte {
	for {
		var cur *Prompt
		if p.item < len(p.intro) {
			cur = p.intro[p.item]
		} else {
			cur = p.loop
		}
		if cur == nil {
			if c == PCMA {
				return silencePCMA
			}
			return silencePCMU
		}
		if p.frame+skip < cur.Frames() {
			p.frame += skip
			f := cur.Frame(c, p.frame)
			p.frame++
			return f
		}
		skip -= cur.Frames() - p.frame
		p.frame = 0
		if p.item < len(p.intro) {
			p.item++
		} else {
			skip %= cur.Frames()
		}
	}
}
