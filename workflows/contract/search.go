package contract

import (
	"context"
	"errors"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// Search attributes that make tests findable in the Temporal UI.
var (
	SearchTestID    = temporal.NewSearchAttributeKeyInt64("PitwallTestID")
	SearchFramework = temporal.NewSearchAttributeKeyKeyword("PitwallFramework")
	SearchCommit    = temporal.NewSearchAttributeKeyKeyword("PitwallCommit")
	SearchBranch    = temporal.NewSearchAttributeKeyKeyword("PitwallBranch")
	SearchState     = temporal.NewSearchAttributeKeyKeyword("PitwallState")
)

// SearchAttributes are Pitwall's search attributes and their types, as
// registered in a namespace.
func SearchAttributes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		SearchTestID.GetName():    enumspb.INDEXED_VALUE_TYPE_INT,
		SearchFramework.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchCommit.GetName():    enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchBranch.GetName():    enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchState.GetName():     enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	}
}

// RegisterSearchAttributes adds Pitwall's search attributes to the
// namespace; attributes that exist already are fine. Where the operator API
// is not available (some hosted Temporal), it returns the error and tests
// run without search attributes.
func RegisterSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	_, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: SearchAttributes(),
	})
	var exists *serviceerror.AlreadyExists
	if errors.As(err, &exists) {
		return nil
	}
	return err
}

// StartAttributes are the search attributes a test's workflow starts with.
func StartAttributes(testID int64, framework, commit, branch string) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		SearchTestID.ValueSet(testID),
		SearchFramework.ValueSet(framework),
		SearchCommit.ValueSet(commit),
		SearchBranch.ValueSet(branch),
		SearchState.ValueSet("queued"),
	)
}
