package lagen

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Defaults for the zero fields of Config.
const (
	DefaultSize       = 16 << 20
	DefaultSeed       = 1
	DefaultParallel   = 2
	DefaultBatchBytes = 4 << 20

	MinSize = 512 << 10
	MaxSize = 256 << 30
)

// Loading methods for Config.Method.
const (
	MethodAuto     = ""
	MethodLoadData = "load-data"
	MethodInsert   = "insert"
)

// Config says what to generate. It is plain data: the same Config always
// gives the same database contents, whatever Parallel and BatchBytes are.
type Config struct {
	// Size is the approximate total of data bytes (values before SQL
	// escaping) to generate. Default 16 MiB.
	Size int64 `json:"size"`
	// Seed selects the data; same Seed and Size give identical tables.
	// Zero means DefaultSeed.
	Seed uint64 `json:"seed"`
	// Parallel is the number of connections loading at once. Default 2.
	Parallel int `json:"parallel"`
	// BatchBytes is the target size of one multi-row INSERT statement.
	// It is lowered to fit the server's max_allowed_packet. Default 4 MiB.
	BatchBytes int `json:"batch_bytes"`

	// Method is how rows are sent: MethodLoadData (LOAD DATA LOCAL INFILE
	// from memory, the faster), MethodInsert (multi-row INSERT), or
	// "" to use LOAD DATA when the server allows local_infile.
	Method string `json:"method,omitempty"`

	// Progress, when not nil, hears about loaded data bytes.
	Progress Progress `json:"-"`
}

// Progress receives the data bytes loaded so far and the planned total. It
// is called from several goroutines, one call at a time.
type Progress interface {
	Update(done, total int64)
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Size == 0 {
		c.Size = DefaultSize
	}
	if c.Seed == 0 {
		c.Seed = DefaultSeed
	}
	if c.Parallel == 0 {
		c.Parallel = DefaultParallel
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	return c
}

// Validate checks a Config after WithDefaults.
func (c Config) Validate() error {
	var errs []error
	if c.Size < MinSize || c.Size > MaxSize {
		errs = append(errs, fmt.Errorf("size %s is outside %s..%s", FormatSize(c.Size), FormatSize(MinSize), FormatSize(MaxSize)))
	}
	if c.Parallel < 1 || c.Parallel > 64 {
		errs = append(errs, fmt.Errorf("parallel %d is outside 1..64", c.Parallel))
	}
	if c.BatchBytes < 64<<10 || c.BatchBytes > 256<<20 {
		errs = append(errs, fmt.Errorf("batch bytes %d is outside 64 KiB..256 MiB", c.BatchBytes))
	}
	switch c.Method {
	case MethodAuto, MethodLoadData, MethodInsert:
	default:
		errs = append(errs, fmt.Errorf("method %q is not %q, %q or empty", c.Method, MethodLoadData, MethodInsert))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("lagen: config: %w", err)
	}
	return nil
}

// ParseSize reads a byte count with an optional suffix: B, K/KB/KiB,
// M/MB/MiB, G/GB/GiB, T/TB/TiB (all powers of 1024), e.g. "1GiB", "512k".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') {
		i--
	}
	num, unit := strings.TrimSpace(t[:i]), strings.ToLower(strings.TrimSpace(t[i:]))
	mult := int64(1)
	switch strings.TrimSuffix(strings.TrimSuffix(unit, "b"), "i") {
	case "":
		if unit != "" && unit != "b" {
			return 0, fmt.Errorf("lagen: size %q: unknown unit %q", s, unit)
		}
	case "k":
		mult = 1 << 10
	case "m":
		mult = 1 << 20
	case "g":
		mult = 1 << 30
	case "t":
		mult = 1 << 40
	default:
		return 0, fmt.Errorf("lagen: size %q: unknown unit %q (use KiB, MiB, GiB)", s, unit)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("lagen: size %q: not a whole number of bytes with an optional KiB/MiB/GiB suffix", s)
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("lagen: size %q is too large", s)
	}
	return n * mult, nil
}

// FormatSize renders n bytes with a binary suffix ("1.5 GiB").
func FormatSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 3; m /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + string("KMGT"[exp]) + "iB"
}
