package llst

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Limits and defaults of the LLST profile.
const (
	// MaxLifetime is the hard limit on a token's lifetime (exp − iat).
	MaxLifetime = 15 * time.Minute
	// DefaultAudience is the aud claim when Config.Audience is empty.
	DefaultAudience = "logline"
	// DefaultSkew is the clock skew allowed on exp, nbf and iat.
	DefaultSkew = 60 * time.Second
	// DefaultRotateEvery is how long each key signs.
	DefaultRotateEvery = 24 * time.Hour
	// DefaultOverlap is how long a key is published before it signs.
	DefaultOverlap = time.Hour
	// DefaultCheckEvery is how often Run reloads and advances the schedule.
	DefaultCheckEvery = 30 * time.Second
	// DefaultJWKSMaxAge is the Cache-Control max-age of the JWKS.
	DefaultJWKSMaxAge = 5 * time.Minute
	// DefaultCacheSize bounds the verified-token cache.
	DefaultCacheSize = 65536
	// MaxTokenSize is the longest token Verify looks at and Issue makes.
	MaxTokenSize = 8 << 10
)

// Config configures a Keyring and the Issuer and Verifier built on it.
// Durations left zero take the defaults above; Store and Issuer are
// required.
type Config struct {
	// Store holds the keys; NewDirStore(DATA/keys/llst) for one node.
	Store KeyStore
	// Issuer is the iss claim: this server's issuer string, usually its
	// public base URL. Verify requires it exactly.
	Issuer string
	// Audience is the aud claim (DefaultAudience if empty).
	Audience string

	// Lifetime is the default and the longest lifetime Issue allows
	// (≤ MaxLifetime, which is the default).
	Lifetime time.Duration
	// Skew is the clock skew tolerated on exp, nbf and iat (≤ 5 min).
	// Negative means none.
	Skew time.Duration

	// RotateEvery is how long each key signs tokens.
	RotateEvery time.Duration
	// Overlap is how long a new key is in the JWKS before it signs. It
	// must exceed JWKSMaxAge + CheckEvery: by the time a key signs, every
	// JWKS cache and every process sharing the store has seen it.
	Overlap time.Duration
	// CheckEvery is how often Run reloads the store and rotates.
	CheckEvery time.Duration
	// JWKSMaxAge is the JWKS endpoint's Cache-Control max-age.
	JWKSMaxAge time.Duration

	// CacheSize bounds the Verifier's cache of verified tokens
	// (DefaultCacheSize if 0; negative disables the cache).
	CacheSize int

	// Now is the clock (time.Now if nil).
	Now func() time.Time
	// Rand is the randomness for keys and token ids (crypto/rand if nil).
	Rand io.Reader
	// Logger receives key lifecycle events (slog.Default() if nil).
	Logger *slog.Logger
	// Ticker drives Run: it returns a channel ticking every d and a stop
	// function (a time.Ticker if nil).
	Ticker func(d time.Duration) (<-chan time.Time, func())
	// OnRotate, if set, is called after this process changed the store
	// (created or removed keys), e.g. to record the event as a span.
	OnRotate func(RotationEvent)
}

// withDefaults returns cfg with defaults filled in, or an error if it is
// inconsistent.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Store == nil {
		return cfg, errors.New("llst: Config.Store is required")
	}
	if cfg.Issuer == "" {
		return cfg, errors.New("llst: Config.Issuer is required")
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = MaxLifetime
	}
	if cfg.Lifetime < time.Second || cfg.Lifetime > MaxLifetime {
		return cfg, fmt.Errorf("llst: lifetime %v: must be between 1s and %v", cfg.Lifetime, MaxLifetime)
	}
	switch {
	case cfg.Skew == 0:
		cfg.Skew = DefaultSkew
	case cfg.Skew < 0:
		cfg.Skew = 0
	case cfg.Skew > 5*time.Minute:
		return cfg, fmt.Errorf("llst: skew %v: at most 5m", cfg.Skew)
	}
	if cfg.RotateEvery == 0 {
		cfg.RotateEvery = DefaultRotateEvery
	}
	if cfg.Overlap == 0 {
		cfg.Overlap = DefaultOverlap
	}
	if cfg.CheckEvery == 0 {
		cfg.CheckEvery = DefaultCheckEvery
	}
	if cfg.JWKSMaxAge == 0 {
		cfg.JWKSMaxAge = DefaultJWKSMaxAge
	}
	if cfg.CheckEvery < 0 || cfg.JWKSMaxAge < 0 || cfg.Overlap < 0 || cfg.RotateEvery < 0 {
		return cfg, errors.New("llst: negative duration in config")
	}
	if cfg.Overlap <= cfg.JWKSMaxAge+cfg.CheckEvery {
		return cfg, fmt.Errorf("llst: overlap %v must exceed JWKS max-age %v + check interval %v",
			cfg.Overlap, cfg.JWKSMaxAge, cfg.CheckEvery)
	}
	if cfg.RotateEvery <= cfg.Overlap || cfg.RotateEvery < cfg.Lifetime+cfg.Skew {
		return cfg, fmt.Errorf("llst: rotate-every %v must exceed the overlap %v and a token's lifetime + skew",
			cfg.RotateEvery, cfg.Overlap)
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Ticker == nil {
		cfg.Ticker = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	return cfg, nil
}
