package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// serveFlags are the serve command's overrides of the config file. Every
// flag can also be set as SC115_<NAME> (dashes become underscores); a flag
// on the command line wins over the environment.
type serveFlags struct {
	config     string
	sipListen  string
	httpListen string
	rtpPorts   string
	redis      string
	cdrDir     string
	instance   string
	logFormat  string
}

func parseServeFlags(args []string) (*serveFlags, error) {
	f := &serveFlags{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&f.config, "config", "deploy/examples/region-hannover.yaml", "config file")
	fs.StringVar(&f.sipListen, "sip-listen", "", "SIP listen address host:port, UDP and TCP (overrides sip.listen)")
	fs.StringVar(&f.httpListen, "http-listen", "", "HTTP listen address for /metrics, /healthz, /readyz (overrides http.listen)")
	fs.StringVar(&f.rtpPorts, "rtp-ports", "", "RTP port range LOW-HIGH (overrides media.rtp_ports)")
	fs.StringVar(&f.redis, "redis", "", "redis://host:port/db; empty = embedded store (overrides queue.redis)")
	fs.StringVar(&f.cdrDir, "cdr-dir", "", "CDR directory (overrides cdr.dir, default var/cdr)")
	fs.StringVar(&f.instance, "instance", "", "instance name used in CDRs and Redis keys (overrides instance)")
	fs.StringVar(&f.logFormat, "log-format", "", "json or console (overrides log.format)")
	set := map[string]bool{}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	var envErr error
	fs.VisitAll(func(fl *flag.Flag) {
		env := "SC115_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && !set[fl.Name] {
			if err := fl.Value.Set(v); err != nil && envErr == nil {
				envErr = fmt.Errorf("%s: %w", env, err)
			}
		}
	})
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return f, envErr
}

// apply writes the non-empty overrides into the config.
func (f *serveFlags) apply(c *Config) {
	override := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	override(&c.SIP.Listen, f.sipListen)
	override(&c.HTTP.Listen, f.httpListen)
	override(&c.Media.RTPPorts, f.rtpPorts)
	override(&c.Queue.Redis, f.redis)
	override(&c.CDR.Dir, f.cdrDir)
	override(&c.Instance, f.instance)
	override(&c.Log.Format, f.logFormat)
}
