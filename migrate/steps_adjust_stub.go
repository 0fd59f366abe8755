//go:build !adjustready

package migrate

import (
	"context"
	"fmt"
)

func (s *Session) adjust(ctx context.Context) (Output, error) {
	return Output{}, fmt.Errorf("adjust: %w", ErrNotAvailable)
}
