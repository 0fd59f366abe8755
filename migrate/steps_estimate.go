package migrate

import (
	"context"
	"fmt"
	"time"

	"github.com/qualityunit/lamigrate/internal/bytesize"
	"github.com/qualityunit/lamigrate/migrate/check"
)

func (s *Session) transferEstimate(ctx context.Context) (time.Duration, string) {
	b := s.basis(ctx)
	if b.archiveBytes <= 0 {
		return 0, b.note
	}
	link := s.Config.Check.LinkMbps
	if link == 0 {
		link = check.DefaultLinkMbps
	}
	d := time.Duration(float64(b.archiveBytes) * 8 / (link * 1e6) * float64(time.Second)).Round(time.Second)
	return d, fmt.Sprintf("%s archive at %.0f Mbit/s", bytesize.Format(b.archiveBytes), link)
}
