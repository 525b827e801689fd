package tests

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/service"
)

// ParseIDs reads 2-10 comma-separated test IDs, as Compare takes them.
func ParseIDs(s string) ([]int64, error) {
	parts := strings.Split(s, ",")
	if len(parts) < 2 || len(parts) > 10 {
		return nil, service.InvalidField("ids", compareCount)
	}
	ids := make([]int64, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil || id <= 0 {
			return nil, service.InvalidField("ids", fmt.Sprintf("test ID %q is not a positive number", p))
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// Compare loads 2-10 tests the principal may see, in order, and puts
// them side by side.
func (s *Service) Compare(ctx context.Context, ids []int64) ([]wire.Test, wire.Comparison, error) {
	if len(ids) < 2 || len(ids) > 10 {
		return nil, wire.Comparison{}, service.InvalidField("ids", compareCount)
	}
	tests := make([]wire.Test, 0, len(ids))
	for _, id := range ids {
		t, err := s.View(ctx, id)
		if err != nil {
			return nil, wire.Comparison{}, err
		}
		tests = append(tests, *t)
	}
	return tests, wire.Compare(tests), nil
}

// compareCount is the refusal of a comparison of too few or too many tests.
const compareCount = "give 2 to 10 test IDs, comma-separated"
