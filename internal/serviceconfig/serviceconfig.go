package serviceconfig

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/grpcactor/grpcactor/balancer"
	"github.com/grpcactor/grpcactor/codes"
)

// Config is a parsed, validated service config.
type Config struct {
	// LBPolicy is the load-balancing policy: a name registered with
	// balancer.Register ("pick_first", "round_robin", ...), or "" when the
	// config names none (the channel's default applies).
	LBPolicy string
	// LBConfig is the policy's config as its balancer.Builder parsed it
	// (nil when the config names no policy).
	LBConfig any
	// PickFirstShuffle is pick_first's shuffleAddressList: shuffle the
	// resolved addresses before connecting to them.
	PickFirstShuffle bool
	// Throttling is the retry token bucket of retryThrottling, or nil.
	Throttling *Throttling
	// HealthCheckService is healthCheckConfig.serviceName (gRFC A17): the
	// service whose health each subchannel watches, "" for the server's
	// overall health; nil when the config has no healthCheckConfig
	// (client-side health checking off).
	HealthCheckService *string

	methods map[methodName]*MethodConfig
}

// methodName is one entry of a methodConfig's name list. {service, ""} is
// a service's default, {"", ""} the default for every method.
type methodName struct{ service, method string }

// MethodConfig is what the service config says about one method. The
// pointers and the slice it holds are shared with the Config: read them,
// never write through them.
type MethodConfig struct {
	// Timeout is the default timeout for a call; 0 means none. A call's
	// deadline is the earlier of this and the caller's own.
	Timeout time.Duration
	// WaitForReady is the default wait-for-ready; nil means unset. The
	// caller's own setting wins.
	WaitForReady *bool
	// MaxRequestBytes limits each request message; nil means unset. The
	// limit used is the smaller of this and the channel's.
	MaxRequestBytes *int
	// MaxResponseBytes limits each response message; nil means unset. The
	// limit used is the smaller of this and the channel's.
	MaxResponseBytes *int
	// Retry is the retry policy; nil means calls are not retried (beyond
	// gRPC's transparent retries).
	Retry *RetryPolicy
	// Hedging is the hedging policy; nil means calls are not hedged. At
	// most one of Retry and Hedging is set.
	Hedging *HedgingPolicy
}

// maxAttemptsLimit is the client-side cap on retryPolicy.maxAttempts
// (gRFC A6 "Limits on Retries and Hedges").
const maxAttemptsLimit = 5

// RetryPolicy is a method's retryPolicy (gRFC A6).
type RetryPolicy struct {
	// MaxAttempts is the most attempts a call makes, the first included:
	// at least 2, and values above 5 are treated as 5.
	MaxAttempts int
	// InitialBackoff, MaxBackoff and BackoffMultiplier shape the delay
	// before each retry (see Backoff); all are > 0.
	InitialBackoff    time.Duration
	MaxBackoff        time.Duration
	BackoffMultiplier float64
	// RetryableCodes are the status codes that may be retried; never
	// empty, no duplicates, in the order first given.
	RetryableCodes []codes.Code
}

// Retryable reports whether a call that failed with c may be retried.
func (p *RetryPolicy) Retryable(c codes.Code) bool {
	if p == nil {
		return false
	}
	for _, r := range p.RetryableCodes {
		if r == c {
			return true
		}
	}
	return false
}

// Backoff returns the delay before retry attempt n (n = 1 for the first
// retry, that is the call's second attempt): per gRFC A6, a random delay in
// [0, min(InitialBackoff*BackoffMultiplier^(n-1), MaxBackoff)). rnd is the
// random draw, uniform in [0, 1); a value outside that range is clamped
// into it, and n < 1 is taken as 1. A nil policy returns 0.
func (p *RetryPolicy) Backoff(n int, rnd float64) time.Duration {
	if p == nil {
		return 0
	}
	if n < 1 {
		n = 1
	}
	limit := p.MaxBackoff
	if f := float64(p.InitialBackoff) * math.Pow(p.BackoffMultiplier, float64(n-1)); f < float64(limit) {
		// NaN (a zero or infinite factor meeting its opposite) fails the
		// comparison and keeps MaxBackoff.
		limit = time.Duration(f)
	}
	if limit <= 0 {
		return 0
	}
	if !(rnd > 0) { // also NaN
		rnd = 0
	}
	if rnd >= 1 {
		rnd = math.Nextafter(1, 0)
	}
	d := time.Duration(rnd * float64(limit))
	if d >= limit { // float rounding at the top of the range
		d = limit - 1
	}
	if d < 0 {
		d = 0
	}
	return d
}

// HedgingPolicy is a method's hedgingPolicy (gRFC A6): the call's first
// attempt goes out at once, another every HedgingDelay while none has
// received response headers, up to MaxAttempts in all.
type HedgingPolicy struct {
	// MaxAttempts is the most attempts a call makes, the first included:
	// at least 2, and values above 5 are treated as 5.
	MaxAttempts int
	// HedgingDelay is the wait before each further attempt; 0 sends all
	// MaxAttempts at once.
	HedgingDelay time.Duration
	// NonFatalCodes are the status codes with which an attempt may end
	// without ending the call: the next attempt is sent at once. No
	// duplicates, in the order first given; may be empty.
	NonFatalCodes []codes.Code
}

// NonFatal reports whether an attempt that ended with c leaves the call
// to its other attempts (OK never does).
func (p *HedgingPolicy) NonFatal(c codes.Code) bool {
	if p == nil || c == codes.OK {
		return false
	}
	return slices.Contains(p.NonFatalCodes, c)
}

// Method returns the config for a full method name "/pkg.Service/Method":
// the entry naming that service and method, else the entry naming the
// service alone, else the default entry ({} or {"service": ""}). Without
// any it returns the zero MethodConfig and false. A nil Config has none.
func (c *Config) Method(fullMethod string) (MethodConfig, bool) {
	if c == nil || len(c.methods) == 0 {
		return MethodConfig{}, false
	}
	s := strings.TrimPrefix(fullMethod, "/")
	var svc, m string
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		svc, m = s[:i], s[i+1:]
	}
	if svc != "" {
		if mc, ok := c.methods[methodName{svc, m}]; ok {
			return *mc, true
		}
		if mc, ok := c.methods[methodName{svc, ""}]; ok {
			return *mc, true
		}
	}
	if mc, ok := c.methods[methodName{}]; ok {
		return *mc, true
	}
	return MethodConfig{}, false
}

// Parse parses and validates a service config.
func Parse(js string) (*Config, error) {
	root, err := decode(js)
	if err != nil {
		return nil, err
	}
	top, ok := root.(object)
	if !ok {
		return nil, fmt.Errorf("service config: %s is not a JSON object", show(root))
	}
	c := &Config{}
	if err := c.parseLB(top); err != nil {
		return nil, err
	}
	if err := c.parseMethods(top); err != nil {
		return nil, err
	}
	if v, ok := field(top, "retryThrottling"); ok {
		t, err := parseThrottling("retryThrottling", v)
		if err != nil {
			return nil, err
		}
		c.Throttling = t
	}
	if err := c.parseHealthCheck(top); err != nil {
		return nil, err
	}
	return c, nil
}

// parseHealthCheck reads healthCheckConfig: {"serviceName": "..."}, the
// name optional ("" then, the server's overall health).
func (c *Config) parseHealthCheck(top object) error {
	v, ok := field(top, "healthCheckConfig")
	if !ok {
		return nil
	}
	const path = "healthCheckConfig"
	o, err := obj(path, v)
	if err != nil {
		return err
	}
	var name string
	if nv, ok := field(o, "serviceName"); ok {
		if name, err = str(path+".serviceName", nv); err != nil {
			return err
		}
	}
	c.HealthCheckService = &name
	return nil
}

// supportedPolicies lists the registered policies for an error message.
func supportedPolicies() string {
	return "supported: " + strings.Join(balancer.Names(), ", ")
}

func (c *Config) parseLB(top object) error {
	v, ok := field(top, "loadBalancingConfig")
	if !ok {
		return c.parseDeprecatedLB(top)
	}
	const path = "loadBalancingConfig"
	list, err := array(path, v)
	if err != nil {
		return err
	}
	var names []string
	for i, e := range list {
		entry := path + "[" + strconv.Itoa(i) + "]"
		p := entry
		o, ok := e.(object)
		if !ok || len(o) != 1 {
			return errf(p, "%s is invalid (want an object with exactly one policy, e.g. {\"round_robin\": {}})", show(e))
		}
		for name, cfg := range o {
			p := p + "." + name
			switch name {
			case "pick_first":
				var shuffle bool
				if cfg != nil {
					co, err := obj(p, cfg)
					if err != nil {
						return err
					}
					if sv, ok := field(co, "shuffleAddressList"); ok {
						if shuffle, err = boolean(p+".shuffleAddressList", sv); err != nil {
							return err
						}
					}
				}
				c.LBPolicy, c.PickFirstShuffle = name, shuffle
				c.LBConfig = balancer.PickFirstConfig{ShuffleAddressList: shuffle}
				return nil
			case "round_robin":
				if cfg != nil {
					if _, err := obj(p, cfg); err != nil {
						return err
					}
				}
				c.LBPolicy = name
				return nil
			}
			if b, ok := balancer.Get(name); ok {
				raw, err := json.Marshal(cfg)
				if err != nil {
					return errf(p, "%s is invalid: %v", show(cfg), err)
				}
				pc, err := b.ParseConfig(raw)
				if err != nil {
					return errf(entry, "%v", err)
				}
				c.LBPolicy, c.LBConfig = name, pc
				return nil
			}
			names = append(names, show(name))
		}
	}
	const maxNames = 8
	if len(names) > maxNames {
		names = append(names[:maxNames], fmt.Sprintf("... %d more", len(names)-maxNames))
	}
	return errf(path, "no supported policy in [%s] (%s)", strings.Join(names, ", "), supportedPolicies())
}

// parseDeprecatedLB reads loadBalancingPolicy, used only when
// loadBalancingConfig is absent.
func (c *Config) parseDeprecatedLB(top object) error {
	v, ok := field(top, "loadBalancingPolicy")
	if !ok {
		return nil
	}
	const path = "loadBalancingPolicy"
	s, err := str(path, v)
	if err != nil {
		return err
	}
	name := strings.ToLower(s)
	if name == "" {
		return nil
	}
	b, ok := balancer.Get(name)
	if !ok {
		return errf(path, "%s is not a supported policy (%s)", show(v), supportedPolicies())
	}
	pc, err := b.ParseConfig(nil)
	if err != nil {
		return errf(path, "%v", err)
	}
	c.LBPolicy, c.LBConfig = name, pc
	return nil
}

func (c *Config) parseMethods(top object) error {
	v, ok := field(top, "methodConfig")
	if !ok {
		return nil
	}
	list, err := array("methodConfig", v)
	if err != nil {
		return err
	}
	seen := map[methodName]string{} // name -> path of the entry naming it
	for i, e := range list {
		p := "methodConfig[" + strconv.Itoa(i) + "]"
		o, err := obj(p, e)
		if err != nil {
			return err
		}
		names, err := parseNames(p, o, seen)
		if err != nil {
			return err
		}
		mc, err := parseMethodConfig(p, o)
		if err != nil {
			return err
		}
		if len(names) > 0 && c.methods == nil {
			c.methods = make(map[methodName]*MethodConfig)
		}
		for _, n := range names {
			c.methods[n] = mc
		}
	}
	return nil
}

// parseNames reads an entry's name list, recording each name in seen and
// failing on one seen before.
func parseNames(p string, o object, seen map[methodName]string) ([]methodName, error) {
	v, ok := field(o, "name")
	if !ok {
		return nil, nil
	}
	list, err := array(p+".name", v)
	if err != nil {
		return nil, err
	}
	names := make([]methodName, 0, len(list))
	for j, e := range list {
		np := p + ".name[" + strconv.Itoa(j) + "]"
		no, err := obj(np, e)
		if err != nil {
			return nil, err
		}
		var n methodName
		if sv, ok := field(no, "service"); ok {
			if n.service, err = str(np+".service", sv); err != nil {
				return nil, err
			}
		}
		if mv, ok := field(no, "method"); ok {
			if n.method, err = str(np+".method", mv); err != nil {
				return nil, err
			}
		}
		if n.service == "" && n.method != "" {
			return nil, errf(np, "%s is invalid (a method needs a service)", show(e))
		}
		if prev, dup := seen[n]; dup {
			return nil, errf(np, "%s is a duplicate name (also in %s)", show(e), prev)
		}
		seen[n] = np
		names = append(names, n)
	}
	return names, nil
}

func parseMethodConfig(p string, o object) (*MethodConfig, error) {
	mc := &MethodConfig{}
	if v, ok := field(o, "waitForReady"); ok {
		b, err := boolean(p+".waitForReady", v)
		if err != nil {
			return nil, err
		}
		mc.WaitForReady = &b
	}
	if v, ok := field(o, "timeout"); ok {
		d, err := duration(p+".timeout", v, false)
		if err != nil {
			return nil, err
		}
		mc.Timeout = d
	}
	var err error
	if mc.MaxRequestBytes, err = messageBytes(p+".maxRequestMessageBytes", o, "maxRequestMessageBytes"); err != nil {
		return nil, err
	}
	if mc.MaxResponseBytes, err = messageBytes(p+".maxResponseMessageBytes", o, "maxResponseMessageBytes"); err != nil {
		return nil, err
	}
	if v, ok := field(o, "retryPolicy"); ok {
		if mc.Retry, err = parseRetry(p+".retryPolicy", v); err != nil {
			return nil, err
		}
	}
	if v, ok := field(o, "hedgingPolicy"); ok {
		if mc.Retry != nil {
			// gRFC A6: a method has one or the other (grpc-java refuses
			// both too).
			return nil, errf(p, "has both retryPolicy and hedgingPolicy (gRFC A6 allows at most one per method)")
		}
		if mc.Hedging, err = parseHedging(p+".hedgingPolicy", v); err != nil {
			return nil, err
		}
	}
	return mc, nil
}

// messageBytes reads a size limit, a uint32 in the proto.
func messageBytes(path string, o object, name string) (*int, error) {
	v, ok := field(o, name)
	if !ok {
		return nil, nil
	}
	f, err := integer(path, v)
	if err != nil {
		return nil, err
	}
	if f < 0 || f > math.MaxUint32 {
		return nil, errf(path, "%s is invalid (must be 0 to 4294967295)", show(v))
	}
	n := int(min(f, float64(math.MaxInt)))
	return &n, nil
}

// maxAttempts reads a retry or hedging policy's maxAttempts: required,
// an integer above 1, capped at maxAttemptsLimit.
func maxAttempts(p string, o map[string]any) (int, error) {
	path := p + ".maxAttempts"
	av, ok := field(o, "maxAttempts")
	if !ok {
		return 0, missing(path)
	}
	n, err := integer(path, av)
	if err != nil {
		return 0, err
	}
	if n <= 1 {
		return 0, errf(path, "%s is invalid (must be > 1)", show(av))
	}
	return int(min(n, maxAttemptsLimit)), nil
}

func parseRetry(p string, v any) (*RetryPolicy, error) {
	o, err := obj(p, v)
	if err != nil {
		return nil, err
	}
	rp := &RetryPolicy{}
	if rp.MaxAttempts, err = maxAttempts(p, o); err != nil {
		return nil, err
	}

	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"initialBackoff", &rp.InitialBackoff}, {"maxBackoff", &rp.MaxBackoff}} {
		path := p + "." + d.name
		dv, ok := field(o, d.name)
		if !ok {
			return nil, missing(path)
		}
		if *d.dst, err = duration(path, dv, true); err != nil {
			return nil, err
		}
	}

	path := p + ".backoffMultiplier"
	mv, ok := field(o, "backoffMultiplier")
	if !ok {
		return nil, missing(path)
	}
	if rp.BackoffMultiplier, err = number(path, mv); err != nil {
		return nil, err
	}
	if rp.BackoffMultiplier <= 0 {
		return nil, errf(path, "%s is invalid (must be > 0)", show(mv))
	}

	path = p + ".retryableStatusCodes"
	cv, ok := field(o, "retryableStatusCodes")
	if !ok {
		return nil, missing(path)
	}
	list, err := array(path, cv)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, errf(path, "[] is invalid (must be non-empty)")
	}
	for i, e := range list {
		c, err := parseCode(path+"["+strconv.Itoa(i)+"]", e)
		if err != nil {
			return nil, err
		}
		if !rp.Retryable(c) {
			rp.RetryableCodes = append(rp.RetryableCodes, c)
		}
	}
	return rp, nil
}

func parseHedging(p string, v any) (*HedgingPolicy, error) {
	o, err := obj(p, v)
	if err != nil {
		return nil, err
	}
	hp := &HedgingPolicy{}
	if hp.MaxAttempts, err = maxAttempts(p, o); err != nil {
		return nil, err
	}
	if dv, ok := field(o, "hedgingDelay"); ok {
		if hp.HedgingDelay, err = duration(p+".hedgingDelay", dv, false); err != nil {
			return nil, err
		}
	}
	if cv, ok := field(o, "nonFatalStatusCodes"); ok {
		path := p + ".nonFatalStatusCodes"
		list, err := array(path, cv)
		if err != nil {
			return nil, err
		}
		for i, e := range list {
			c, err := parseCode(path+"["+strconv.Itoa(i)+"]", e)
			if err != nil {
				return nil, err
			}
			if !slices.Contains(hp.NonFatalCodes, c) {
				hp.NonFatalCodes = append(hp.NonFatalCodes, c)
			}
		}
	}
	return hp, nil
}

// parseCode reads a status code given by name ("UNAVAILABLE", in any
// case) or by number (14).
func parseCode(path string, v any) (codes.Code, error) {
	switch x := v.(type) {
	case string:
		if c, ok := codes.Parse(strings.ToUpper(x)); ok {
			return c, nil
		}
		return 0, errf(path, "%s is not a status code name (want e.g. \"UNAVAILABLE\")", show(v))
	case json.Number:
		f, err := integer(path, v)
		if err != nil || f < 0 || f > float64(codes.Unauthenticated) {
			return 0, errf(path, "%s is not a status code (must be 0 to 16)", show(v))
		}
		return codes.Code(f), nil
	}
	return 0, errf(path, "%s is not a status code (want a name such as \"UNAVAILABLE\" or a number)", show(v))
}

func parseThrottling(p string, v any) (*Throttling, error) {
	o, err := obj(p, v)
	if err != nil {
		return nil, err
	}
	t := &Throttling{}

	path := p + ".maxTokens"
	mv, ok := field(o, "maxTokens")
	if !ok {
		return nil, missing(path)
	}
	if t.MaxTokens, err = integer(path, mv); err != nil {
		return nil, err
	}
	if t.MaxTokens < 1 || t.MaxTokens > 1000 {
		return nil, errf(path, "%s is invalid (must be 1 to 1000)", show(mv))
	}

	path = p + ".tokenRatio"
	rv, ok := field(o, "tokenRatio")
	if !ok {
		return nil, missing(path)
	}
	r, err := number(path, rv)
	if err != nil {
		return nil, err
	}
	if r <= 0 {
		return nil, errf(path, "%s is invalid (must be > 0)", show(rv))
	}
	// Up to 3 decimal places are honoured; further ones are dropped, as
	// C-core does. Rounding to micro-tokens first keeps binary noise
	// (0.29 being 0.28999...) from costing a milli-token.
	if r < 1e12 {
		milli := math.Floor(math.Round(r*1e6) / 1000)
		if milli == 0 {
			return nil, errf(path, "%s is invalid (must be at least 0.001: only 3 decimal places are used)", show(rv))
		}
		r = milli / 1000
	}
	t.TokenRatio = r
	return t, nil
}
