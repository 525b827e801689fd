package activities

import "time"

// keptFor is how long an agent keeps what it remembers for a later task of
// a test: a stop that came before its monitor, a result for a retry.
const keptFor = 10 * time.Minute

// kept holds a value per test for keptFor; entries past it are dropped
// when a new one is put. The zero value is ready; callers hold a.mu.
type kept[T any] struct {
	m map[int64]keptEntry[T]
}

type keptEntry[T any] struct {
	v  T
	at time.Time
}

func (k *kept[T]) put(testID int64, v T) {
	now := time.Now()
	if k.m == nil {
		k.m = map[int64]keptEntry[T]{}
	}
	for id, e := range k.m {
		if now.Sub(e.at) > keptFor {
			delete(k.m, id)
		}
	}
	k.m[testID] = keptEntry[T]{v: v, at: now}
}

func (k *kept[T]) get(testID int64) (T, bool) {
	e, ok := k.m[testID]
	return e.v, ok
}

// take is get, and forgets the value.
func (k *kept[T]) take(testID int64) (T, bool) {
	e, ok := k.m[testID]
	delete(k.m, testID)
	return e.v, ok
}
