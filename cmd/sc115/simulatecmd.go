package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/sc115/sc115/cdr/billing"
	"github.com/sc115/sc115/simulate"
)

// simulateCmd: sc115 simulate — drive a running sc115 with virtual agents
// and callers over SIP and RTP, and compare its service level with
// Erlang C's.
func simulateCmd(args []string) int {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	config := fs.String("config", "deploy/examples/region-hannover.yaml", "the config sc115 runs with (agents, their passwords, the wrap-up, the service level); \"\": none")
	target := fs.String("target", "", "sc115's SIP address (default: the config's sip.listen)")
	municipality := fs.String("municipality", "burgdorf", "callers dial this municipality's first number; its agents answer")
	agents := fs.Int("agents", 0, "how many of the municipality's agents take part (0: all with a plain password)")
	rate := fs.Float64("rate", 0.5, "calls per second (Poisson)")
	calls := fs.Int("calls", 60, "calls in all")
	talk := fs.Duration("talk", 20*time.Second, "mean talk time (exponential, at least 0.2 s)")
	patience := fs.Duration("patience", 0, "callers' mean patience (exponential; 0: they wait)")
	ring := fs.Duration("ring-delay", time.Second, "agents answer after this")
	seed := fs.Uint64("seed", 1, "random seed")
	dial := fs.String("dial", "", "the number callers dial (default: the municipality's first)")
	agentRange := fs.String("agent-range", "", "generated agents instead of the config's: SIP users FROM-TO (e.g. 2000-2099), password --agent-password-prefix + user")
	pwPrefix := fs.String("agent-password-prefix", "pw", "with --agent-range: each agent's password is this + its user")
	wrapup := fs.Duration("wrapup", -1, "sc115's wrap-up, for the prediction (default: the config's acd.queue.wrapup)")
	wrapupMean := fs.Duration("wrapup-mean", 0, "agents end their wrap-up after an exponential time of this mean, by the ready feature code (0: sc115's wrap-up runs out)")
	threshold := fs.Duration("threshold", 0, "service-level threshold (default: the config's acd.service_level)")
	quiet := fs.Bool("quiet", false, "no progress line")
	profile := fs.String("profile", "", "arrivals by an intraday profile instead of --rate: \"115\" (the shipped one; see sc115 staffing)")
	speedup := fs.Float64("speedup", 60, "with --profile: simulated seconds per real second")
	startAt := fs.String("start", "Mon 08:00", "with --profile: where in the week the run begins")
	perResident := fs.Float64("calls-per-resident-year", 0.3, "with --profile: the municipality's calls per resident and year (its population from --config)")
	measureHold := fs.Bool("measure-hold", false, "measure how evenly sc115 paces the audio callers hear before an agent (kernel receive times): frames a second, lateness")
	bareHold := fs.String("bare-hold", "", "measure a bare paced sender instead of sc115, as --measure-hold does: its sockets are HOST:LOW-HIGH, one a caller; prints where they must send, runs until interrupted")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *bareHold != "" {
		return simulateBareHold(*bareHold)
	}
	cfg := simulate.Config{Target: *target, Dialed: *dial, Rate: *rate, Calls: *calls, Talk: *talk, Patience: *patience, RingDelay: *ring,
		Wrapup: *wrapup, WrapupMean: *wrapupMean, Threshold: *threshold, Seed: *seed, Progress: os.Stderr, MeasureHold: *measureHold}
	if *quiet {
		cfg.Progress = nil
	}
	if *agentRange != "" {
		from, to, ok := strings.Cut(*agentRange, "-")
		lo, err1 := strconv.Atoi(from)
		hi, err2 := strconv.Atoi(to)
		if !ok || err1 != nil || err2 != nil || hi < lo || hi-lo >= 10000 {
			fmt.Fprintf(os.Stderr, "sc115 simulate: --agent-range %q: want FROM-TO, at most 10,000 agents\n", *agentRange)
			return 2
		}
		for u := lo; u <= hi; u++ {
			cfg.Agents = append(cfg.Agents, simulate.Agent{User: strconv.Itoa(u), Password: *pwPrefix + strconv.Itoa(u)})
		}
	}
	population := 0
	if *config != "" {
		lc, err := loadAndValidate(*config)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if cfg.Target == "" {
			cfg.Target = lc.SIP.Listen
		}
		if cfg.Wrapup < 0 {
			cfg.Wrapup = lc.ACD.Queue.Wrapup
		}
		if cfg.Threshold == 0 {
			cfg.Threshold = lc.ACD.ServiceLevel
		}
		cfg.ReadyCode = lc.ACD.FeatureCodes.Ready
		skill := ""
		for _, m := range lc.ACD.Municipalities {
			if m.Key == *municipality && len(m.Numbers) > 0 {
				skill, population = m.Skill, m.Population
				if cfg.Dialed == "" {
					cfg.Dialed = m.Numbers[0]
				}
			}
		}
		for _, a := range lc.ACD.Agents {
			if _, ok := a.Skills[skill]; ok && a.Password != "" && *agentRange == "" && (*agents == 0 || len(cfg.Agents) < *agents) {
				cfg.Agents = append(cfg.Agents, simulate.Agent{User: a.SIPUser, Password: a.Password})
			}
		}
	}
	if *profile != "" {
		if *profile != "115" || *speedup <= 0 || population == 0 {
			fmt.Fprintln(os.Stderr, "sc115 simulate: --profile 115 needs --speedup > 0 and a municipality with a population (--config)")
			return 2
		}
		at, err := time.Parse("Mon 15:04", *startAt)
		if err != nil {
			fmt.Fprintf(os.Stderr, "sc115 simulate: --start %q: want e.g. \"Mon 08:00\"\n", *startAt)
			return 2
		}
		weekday := map[string]time.Weekday{"Sun": 0, "Mon": 1, "Tue": 2, "Wed": 3, "Thu": 4, "Fri": 5, "Sat": 6}[(*startAt)[:3]]
		offset := time.Duration(weekday)*24*time.Hour + time.Duration(at.Hour())*time.Hour + time.Duration(at.Minute())*time.Minute
		cfg.RateAt, cfg.Rate = billing.ProfileRate(billing.Profile115(), float64(population)**perResident/52, offset, *speedup)
	}
	cfg.Wrapup = max(cfg.Wrapup, 0)
	if cfg.Threshold == 0 {
		cfg.Threshold = 30 * time.Second
	}
	if cfg.Target == "" || cfg.Dialed == "" || len(cfg.Agents) == 0 {
		fmt.Fprintln(os.Stderr, "sc115 simulate: need a target, a number to dial and agents (from --config's municipality, or --target, --dial and --agent-range)")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fmt.Fprintf(os.Stderr, "simulate: %d calls at %.2f/s to %s (%s), %d agents, talk %v, ring %v, wrap-up %v\n",
		cfg.Calls, cfg.Rate, cfg.Dialed, *municipality, len(cfg.Agents), cfg.Talk, cfg.RingDelay, cfg.Wrapup)
	r, err := simulate.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sc115 simulate:", err)
		return 1
	}
	q := simulate.Quantile
	fmt.Printf("offered %d, answered %d, abandoned %d (%.1f %%), failed %d in %v\n", r.Offered, r.Answered, r.Abandoned,
		100*float64(r.Abandoned)/float64(max(1, r.Offered)), r.Failed, r.Elapsed.Round(time.Second))
	fmt.Printf("service level %.1f %% within %v; %s predicts %.1f %% (%.2f Erlangs, %d agents)\n",
		100*r.ServiceLevel(), cfg.Threshold, r.Model, 100*r.Predicted, r.Erlangs, len(cfg.Agents))
	fmt.Printf("the prediction leaves out the %v before the queue (the greeting: the shortest wait)\n", r.FixedWait.Round(time.Millisecond))
	fmt.Printf("wait p50 %v p90 %v p99 %v; setup (INVITE → 200) p50 %v p99 %v\n", q(r.Waits, 0.5).Round(time.Millisecond),
		q(r.Waits, 0.9).Round(time.Millisecond), q(r.Waits, 0.99).Round(time.Millisecond), q(r.Setups, 0.5).Round(time.Microsecond),
		q(r.Setups, 0.99).Round(time.Microsecond))
	fmt.Printf("media: %d agent frames sent, %d reached the callers (loss %s %%), %d in the wrong law\n",
		r.FramesSent, r.FramesReceived, strconv.FormatFloat(100*r.MediaLoss(), 'f', 2, 64), r.WrongLaw)
	fmt.Printf("media: %d caller frames reached the agents; the generator's clock fell behind %d times\n", r.CallerFramesAtAgents, r.LateTicks)
	if h := r.Hold; *measureHold {
		over := "greeting to hang-up (never were all calls on the line at once)"
		if h.Window > 0 {
			over = fmt.Sprintf("the %.1f s all %d calls were on the line", h.Window.Seconds(), cfg.Calls)
		}
		printHold(h, over)
	}
	if r.PeakLive > 0 {
		fmt.Printf("generator: %d calls alive at the peak, %d goroutines then (%d before the first call): %.2f per call\n",
			r.PeakLive, r.PeakGoroutines, r.BaselineGoroutines, r.GoroutinesPerCall())
	}
	return 0
}
