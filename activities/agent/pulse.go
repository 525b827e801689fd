package agent

import (
	"sync"
	"time"
)

// pulseEvery is the period of an agent's pulse.
const pulseEvery = time.Second

// pulse is one ticker for the agent's once-a-second chores: the monitor's
// samples at a 1 s interval, an Execute's heartbeats, a quiet script's
// output polls, the heartbeat to the server. Each wake-up of the process
// costs far more than the chore it runs (on this project's 2-core VM a Go
// process woken by a timer once a second used 0.06-0.1 ms of CPU a
// second doing nothing else), so the chores wake together, once a second,
// instead of each on a timer of its own at its own phase. The ticker runs
// while someone listens.
type pulse struct {
	mu   sync.Mutex
	subs map[chan struct{}]struct{}
	stop chan struct{}
}

// listen returns a channel that receives the pulse (a beat missed while
// its listener was busy is dropped, one is kept), and the function that
// stops listening.
func (p *pulse) listen() (<-chan struct{}, func()) {
	c := make(chan struct{}, 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.subs == nil {
		p.subs = map[chan struct{}]struct{}{}
	}
	p.subs[c] = struct{}{}
	if len(p.subs) == 1 {
		p.stop = make(chan struct{})
		go p.run(p.stop)
	}
	return c, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if _, ok := p.subs[c]; !ok {
			return
		}
		delete(p.subs, c)
		if len(p.subs) == 0 {
			close(p.stop)
		}
	}
}

func (p *pulse) run(stop chan struct{}) {
	t := time.NewTicker(pulseEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		for c := range p.subs {
			select {
			case c <- struct{}{}:
			default:
			}
		}
		p.mu.Unlock()
	}
}

// Pulse listens to a's once-a-second pulse (see pulse), for the agent's
// chores outside this package: the heartbeat to the server. (A function:
// every exported method of Activities is an activity.)
func Pulse(a *Activities) (<-chan struct{}, func()) {
	return a.pulse.listen()
}
