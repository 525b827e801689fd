package layout

import "slices"

// Sorted tables (the /tests listing, a trend's points) sort on the server
// through ?sort=KEY&dir=asc|desc; these are their headers' rules.

// NextSortDir is the direction a click on key's header asks for:
// descending when the table is sorted by key ascending already, else
// ascending.
func NextSortDir(sort, dir, key string) string {
	if sort == key && dir != "desc" {
		return "desc"
	}
	return "asc"
}

// AriaSort is the aria-sort of key's header: how the table is sorted by
// it, "" when it is not. With no sort asked for, the table is in its
// default order, newest first: descending by the keys in defaults.
func AriaSort(sort, dir, key string, defaults ...string) string {
	switch {
	case sort == "" && slices.Contains(defaults, key):
		return "descending"
	case sort != key:
		return ""
	case dir == "desc":
		return "descending"
	}
	return "ascending"
}
