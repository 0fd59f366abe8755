package migrate

import (
	"context"
	"fmt"
	"time"
)

// The steps below call packages that are still being written; until they
// land the steps fail with ErrNotAvailable.

func (s *Session) push(ctx context.Context) (Output, error) {
	return Output{}, fmt.Errorf("push: %w", ErrNotAvailable)
}

func (s *Session) pull(ctx context.Context) (Output, error) {
	return Output{}, fmt.Errorf("pull: %w", ErrNotAvailable)
}

func (s *Session) load(ctx context.Context) (Output, error) {
	return Output{}, fmt.Errorf("import: %w", ErrNotAvailable)
}

func (s *Session) adjust(ctx context.Context) (Output, error) {
	return Output{}, fmt.Errorf("adjust: %w", ErrNotAvailable)
}

func (s *Session) transferEstimate(ctx context.Context) (time.Duration, string) {
	b := s.basis(ctx)
	if b.archiveBytes <= 0 {
		return 0, b.note
	}
	link := s.Config.Check.LinkMbps
	if link == 0 {
		link = DefaultLinkMbps
	}
	d := time.Duration(float64(b.archiveBytes) * 8 / (link * 1e6) * float64(time.Second)).Round(time.Second)
	return d, fmt.Sprintf("%s archive at %.0f Mbit/s", human(b.archiveBytes), link)
}
