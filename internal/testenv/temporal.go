package testenv

import (
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/temporaltest"

	"github.com/pitwall/pitwall/internal/temporalcfg"
)

// Temporal starts an in-process Temporal server with Pitwall's dynamic
// config (temporalcfg.Dynamic); the caller stops it.
func Temporal() *temporaltest.TestServer {
	dc := dynamicconfig.StaticClient{
		// What temporaltest sets itself: search attributes are usable at once.
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): true,
	}
	for k, v := range temporalcfg.Dynamic {
		dc[dynamicconfig.MakeKey(k)] = v
	}
	return temporaltest.NewServer(temporaltest.WithBaseServerOptions(temporal.WithDynamicConfigClient(dc)))
}
