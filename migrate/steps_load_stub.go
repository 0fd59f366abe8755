//go:build !loadready

package migrate

import (
	"context"
	"fmt"
)

func (s *Session) load(ctx context.Context) (Output, error) {
	return Output{}, fmt.Errorf("import: %w", ErrNotAvailable)
}
