package search

import (
	"net/url"
	"slices"

	"github.com/pitwall/pitwall/internal/wire"
	"github.com/pitwall/pitwall/ui/layout"
)

// form is the search form's values as the user gave them.
type form struct {
	Framework, State, Verdict, Branch, Commit, Owner, Tag, From, To string
	// Sort and Dir are the order (tests.SortColumns; asc or desc), kept
	// by the form and the pages' links.
	Sort, Dir string
	// Query is the address's query, for the header and page links.
	Query url.Values
}

func formOf(q url.Values) form {
	return form{Framework: q.Get("framework"), State: q.Get("state"), Verdict: q.Get("verdict"), Branch: q.Get("branch"), Commit: q.Get("commit"),
		Owner: q.Get("owner"), Tag: q.Get("tag"), From: q.Get("from"), To: q.Get("to"), Sort: q.Get("sort"), Dir: q.Get("dir"), Query: q}
}

// column is a sortable header of the results: its label and sort key.
type column struct{ Label, Key string }

// columns are the results' sortable columns, in the table's order.
var columns = []column{{"Test", "test"}, {"Framework", "framework"}, {"State", "state"}, {"Verdict", "verdict"},
	{"Branch", "branch"}, {"Commit", "commit"}, {"Owner", "owner"}, {"Created", "created"}}

// sortHref is the address of the results sorted by key: ascending, or
// descending when they are sorted by it ascending already. The filters
// are kept; the listing starts again at its first page.
func (f form) sortHref(key string) string {
	q := url.Values{}
	for k, v := range f.Query {
		if k != "cursor" && k != "sort" && k != "dir" {
			q[k] = v
		}
	}
	q.Set("sort", key)
	q.Set("dir", layout.NextSortDir(f.Sort, f.Dir, key))
	return "/tests?" + q.Encode()
}

// ariaSort is the aria-sort of the header of key: how the results are
// sorted by it, "" when they are not (the default order is newest first,
// by test).
func (f form) ariaSort(key string) string { return layout.AriaSort(f.Sort, f.Dir, key, "test") }

type model struct {
	Form form
	// Frameworks and Branches are the dropdowns' choices: those of the
	// tests the principal may see.
	Frameworks, Branches []string
	List                 wire.List[wire.Test]
	NextURL              string
	Error                string
}

// outcome is a selected test that was not (or may not be) deleted, and why.
type outcome struct {
	ID   int64
	Test *wire.Test
	Why  string
	// Status is the API's answer to deleting it.
	Status int
}

type deleteModel struct {
	// Done is set once the deletion ran: Deleted and Refused are results.
	Done      bool
	Deletable []wire.Test
	Deleted   []int64
	Refused   []outcome
	Error     string
}

// choices are a dropdown's values, with the current one kept even when the
// list does not hold it (a value typed in the address).
func choices(list []string, current string) []string {
	if current == "" || slices.Contains(list, current) {
		return list
	}
	return append([]string{current}, list...)
}
