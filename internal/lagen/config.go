package lagen

import (
	"errors"
	"fmt"

	"github.com/qualityunit/lamigrate/internal/bytesize"
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
		errs = append(errs, fmt.Errorf("size %s is outside %s..%s", bytesize.Format(c.Size), bytesize.Format(MinSize), bytesize.Format(MaxSize)))
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
