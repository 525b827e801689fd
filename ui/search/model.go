package search

import (
	"net/url"
	"slices"

	"github.com/pitwall/pitwall/internal/wire"
)

// form is the search form's values as the user gave them.
type form struct {
	Framework, State, Verdict, Branch, Commit, Owner, Tag, From, To string
}

func formOf(q url.Values) form {
	return form{Framework: q.Get("framework"), State: q.Get("state"), Verdict: q.Get("verdict"), Branch: q.Get("branch"), Commit: q.Get("commit"),
		Owner: q.Get("owner"), Tag: q.Get("tag"), From: q.Get("from"), To: q.Get("to")}
}

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
