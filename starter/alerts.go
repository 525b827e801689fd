package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/pitwall/pitwall/internal/wire"
)

// alertCommands are the subcommands of starter alerts.
var alertCommands = []string{"list", "show", "ack", "resolve"}

// alertsList prints the alerts the token may see, newest first.
func (c *cli) alertsList(ctx context.Context, args []string) error {
	fs := c.newFlags("alerts list")
	team := fs.String("team", "", "only this team's alerts")
	fw := fs.String("framework", "", "only this framework's alerts")
	state := fs.String("state", "", "only alerts in this state: open, acknowledged or resolved (unresolved: open and acknowledged)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageErr("alerts list takes no arguments, only flags")
	}
	q := url.Values{}
	for k, v := range map[string]string{"team": *team, "framework": *fw, "state": *state} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var list wire.AlertList
	if err := c.do(ctx, http.MethodGet, "/api/v1/alerts?"+q.Encode(), "", nil, &list); err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(list)
	}
	if len(list.Alerts) == 0 {
		fmt.Fprintln(c.stdout, "no alerts")
	}
	for _, a := range list.Alerts {
		c.printAlert(a)
	}
	return nil
}

func (c *cli) printAlert(a wire.Alert) {
	fmt.Fprintf(c.stdout, "alert %d  %s  %s  %s/%s  %s\n", a.ID, a.State, a.Severity, a.Team, a.Framework, oneLine(a.Summary))
	if a.AcknowledgedBy != "" {
		fmt.Fprintf(c.stdout, "  acknowledged by %s: %s\n", a.AcknowledgedBy, oneLine(a.AckNote))
	}
	fmt.Fprintf(c.stdout, "  tests %d..%d, first bad commit %s, %s\n", a.FirstTest, a.LastTest, a.FirstCommit, a.URL)
}

// alertID reads a subcommand's single positional alert ID.
func alertID(cmd string, pos []string) (int64, error) {
	if len(pos) != 1 {
		return 0, usageErr("%s needs exactly one alert ID", cmd)
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id <= 0 {
		return 0, usageErr("%s: alert ID %q is not a positive number", cmd, pos[0])
	}
	return id, nil
}

// alertsShow prints one alert with its history and deliveries.
func (c *cli) alertsShow(ctx context.Context, args []string) error {
	fs := c.newFlags("alerts show")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	id, err := alertID("alerts show", pos)
	if err != nil {
		return err
	}
	var a wire.Alert
	if err := c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/alerts/%d", id), "", nil, &a); err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(a)
	}
	c.printAlert(a)
	for _, e := range a.History {
		line := "  " + e.At.Format("2006-01-02 15:04:05") + "  " + e.Kind
		if e.TestID != nil {
			line += fmt.Sprintf("  test %d", *e.TestID)
		}
		if e.Actor != "" {
			line += "  by " + e.Actor
		}
		if e.Note != "" {
			line += "  " + oneLine(e.Note)
		}
		fmt.Fprintln(c.stdout, line)
	}
	for _, d := range a.Deliveries {
		fmt.Fprintf(c.stdout, "  delivery to %s (%s) for test %d: %s after %d attempt(s) %s\n",
			d.Channel, d.Kind, d.TestID, d.Status, d.Attempts, oneLine(d.LastError))
	}
	return nil
}

// alertsAct acknowledges or resolves an alert with a note.
func (c *cli) alertsAct(cmd, action string) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		fs := c.newFlags("alerts " + cmd)
		note := fs.String("note", "", "why (shown in the alert's history)")
		pos, err := parse(fs, args)
		if err != nil {
			return err
		}
		id, err := alertID("alerts "+cmd, pos)
		if err != nil {
			return err
		}
		body, _ := json.Marshal(wire.AlertAction{Note: *note})
		var a wire.Alert
		if err := c.do(ctx, http.MethodPost, fmt.Sprintf("/api/v1/alerts/%d/%s", id, action), "application/json", body, &a); err != nil {
			return err
		}
		c.printAlert(a)
		return nil
	}
}
