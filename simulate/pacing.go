package simulate

import (
	"encoding/binary"
	"slices"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pacing records how evenly sc115 sends one caller's generated audio
// (greeting, announcements, hold music) until an agent speaks. Each
// frame's offset is its arrival (the kernel's receive time, SO_TIMESTAMPNS,
// so the generator's own scheduling does not count) minus the media time
// its RTP timestamp says since the stream's first frame; a frame's
// lateness is its offset minus the stream's smallest — the frame closest
// to the ideal schedule is the reference, so no early frame hides a late
// one (the method of sip/media's hold benchmark). Reader goroutine only.
//
// It also tells the two ways a frame can be missing apart: a sequence
// number that jumps is a packet lost between the sender's socket and the
// generator (a receive buffer overrun on a loaded machine); a timestamp
// that jumps further than the sequence number is media the sender skipped.
type pacing struct {
	first, last   int64 // arrival of the first and last frame, ns
	firstTS       uint32
	lastSeq       uint16
	lastTS        uint32
	frames        int
	lost, skipped int     // frames: by sequence number, by timestamp beyond it
	offs          []int32 // µs
}

func (p *pacing) frame(b []byte, at int64) {
	if len(b) < 12 {
		return
	}
	seq, ts := binary.BigEndian.Uint16(b[2:4]), binary.BigEndian.Uint32(b[4:8])
	if p.frames == 0 {
		p.first, p.firstTS = at, ts
	} else if dSeq := seq - p.lastSeq; dSeq > 0 && dSeq < 1000 { // not a duplicate or a reordered one
		p.lost += int(dSeq) - 1
		if frames := int((ts - p.lastTS) / 160); frames > int(dSeq) && frames < 50*60 {
			p.skipped += frames - int(dSeq)
		}
	}
	p.lastSeq, p.lastTS = seq, ts
	p.frames++
	p.last = at
	media := int64(ts-p.firstTS) * int64(time.Second) / 8000
	p.offs = append(p.offs, int32((at-p.first-media)/1000))
}

// HoldPacing is what the callers measured of sc115's generated audio:
// Streams callers with at least a second of it, their frames, the mean
// and the lowest frames a second of a stream, and the lateness quantiles
// over all frames.
type HoldPacing struct {
	Streams                   int
	Frames                    int64
	FPSMean, FPSMin           float64
	LateP50, LateP99, LateMax time.Duration
	// Lost frames never arrived (sequence numbers missing); Skipped
	// frames the sender left out of its stream (timestamps jumping
	// further than the sequence numbers).
	Lost, Skipped int64
	// Window is how long every call was on the line at once, the part
	// measured (0: that never happened, and every frame was measured).
	Window time.Duration
}

// reset forgets the frames so far (they came before the window opened).
func (p *pacing) reset() { *p = pacing{offs: p.offs[:0]} }

// holdPacing sums the streams' pacing (each with at least 50 frames). With
// a window (from > 0, unix ns) only streams measured inside it count.
func holdPacing(streams []*pacing, from, to int64) HoldPacing {
	var h HoldPacing
	if from > 0 && to > from {
		h.Window = time.Duration(to - from)
	}
	var late []int32
	sum := 0.0
	for _, p := range streams {
		if p.frames < 50 || p.last <= p.first || from > 0 && p.first < from {
			continue
		}
		fps := float64(p.frames-1) / (float64(p.last-p.first) / 1e9)
		if h.Streams == 0 || fps < h.FPSMin {
			h.FPSMin = fps
		}
		sum += fps
		h.Streams++
		h.Frames += int64(p.frames)
		h.Lost += int64(p.lost)
		h.Skipped += int64(p.skipped)
		low := slices.Min(p.offs)
		for _, o := range p.offs {
			late = append(late, o-low)
		}
	}
	if h.Streams == 0 {
		return h
	}
	h.FPSMean = sum / float64(h.Streams)
	slices.Sort(late)
	q := func(f float64) time.Duration {
		return time.Duration(late[min(len(late)-1, int(f*float64(len(late))))]) * time.Microsecond
	}
	h.LateP50, h.LateP99, h.LateMax = q(0.5), q(0.99), time.Duration(late[len(late)-1])*time.Microsecond
	return h
}

// kernelTime is the receive time in a control message of SO_TIMESTAMPNS
// (one cmsghdr and a timespec), or now if there is none.
func kernelTime(oob []byte) int64 {
	if len(oob) >= unix.SizeofCmsghdr+16 {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS {
			ts := (*unix.Timespec)(unsafe.Pointer(&oob[unix.SizeofCmsghdr]))
			return ts.Nano()
		}
	}
	return time.Now().UnixNano()
}
