package media

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-audio/wav"
	"github.com/zaf/g711"
)

// Prompt is an audio clip pre-encoded once into both G.711 laws, so playing it
// costs no encoding per packet. Both slices are whole 20 ms frames.
type Prompt struct {
	Name string
	pcmu []byte
	pcma []byte
}

// Frames is the number of 20 ms frames in the prompt.
func (p *Prompt) Frames() int { return len(p.pcmu) / FrameSamples }

// Frame returns frame i in the given law (no copy; callers must not modify).
func (p *Prompt) Frame(c Codec, i int) []byte {
	b := p.pcmu
	if c == PCMA {
		b = p.pcma
	}
	return b[i*FrameSamples : (i+1)*FrameSamples]
}

// LoadWAV reads an 8 kHz mono 16-bit PCM WAV file and encodes it into both
// laws, padding the last frame with silence. go-audio/wav parses the RIFF
// container; any other format is a clear error naming the file.
func LoadWAV(path string) (*Prompt, error) {
	// Read whole: the decoder reads a sample at a time, which from the file
	// itself is a system call per sample (2.6 s of CPU for the example
	// prompts, at every start).
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := wav.NewDecoder(bytes.NewReader(data))
	if !dec.IsValidFile() {
		return nil, fmt.Errorf("%s: not a valid WAV file", path)
	}
	if dec.SampleRate != 8000 || dec.NumChans != 1 || dec.BitDepth != 16 || dec.WavAudioFormat != 1 {
		return nil, fmt.Errorf("%s: want 8000 Hz mono 16-bit PCM, got %d Hz, %d channels, %d bit, format %d",
			path, dec.SampleRate, dec.NumChans, dec.BitDepth, dec.WavAudioFormat)
	}
	buf, err := dec.FullPCMBuffer()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return PromptFromPCM(filepath.Base(path), buf.Data), nil
}

// PromptFromPCM encodes 16-bit linear samples (as ints) into a Prompt.
func PromptFromPCM(name string, samples []int) *Prompt {
	n := (len(samples) + FrameSamples - 1) / FrameSamples * FrameSamples
	if n == 0 {
		n = FrameSamples
	}
	p := &Prompt{Name: name, pcmu: make([]byte, n), pcma: make([]byte, n)}
	for i := 0; i < n; i++ {
		var s int16
		if i < len(samples) {
			s = int16(samples[i])
		}
		p.pcmu[i] = g711.EncodeUlawFrame(s)
		p.pcma[i] = g711.EncodeAlawFrame(s)
	}
	return p
}
