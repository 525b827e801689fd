// Package notify sends Pitwall's notifications: e-mail through an SMTP
// relay (github.com/wneessen/go-mail), Slack-compatible incoming
// webhooks, and generic webhooks signed with HMAC-SHA256. It knows
// nothing of alerts: service/alerts composes the messages.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wneessen/go-mail"
)

// SignatureHeader carries a generic webhook's signature:
// "sha256=" and the hex HMAC-SHA256 of the body under the channel's secret.
const SignatureHeader = "X-Pitwall-Signature-256"

// Sign returns the value of SignatureHeader for body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// PermanentError is a refusal that asking again will not change: an SMTP
// server's 5xx answer, or a webhook's 4xx other than 408, 425 and 429 (a
// removed Slack hook answers 404 or 410). Its delivery fails at once.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// IsPermanent reports whether err is, or wraps, a PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// SMTP is the relay Pitwall sends mail through.
type SMTP struct {
	// URL is smtp://[user@]host[:port] (STARTTLS when the server offers
	// it), smtps://… (TLS from the start), with ?tls=none to never use
	// TLS (a relay on loopback) or ?tls=required.
	URL string
	// Password is the user's password (from a file or the environment).
	Password string
	// From is the sender address.
	From string
}

// Configured reports whether mail can be sent.
func (s SMTP) Configured() bool { return s.URL != "" }

// Validate reports a bad relay setting.
func (s SMTP) Validate() error {
	if s.URL == "" {
		return nil
	}
	if _, err := s.options(); err != nil {
		return err
	}
	if s.From == "" {
		return errors.New("--smtp-from is required with --smtp-url")
	}
	if _, err := netmail.ParseAddress(s.From); err != nil {
		return fmt.Errorf("--smtp-from %q: %w", s.From, err)
	}
	return nil
}

func (s SMTP) options() ([]mail.Option, error) {
	u, err := url.Parse(s.URL)
	if err != nil {
		return nil, fmt.Errorf("smtp url: %w", err)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("smtp url %q has no host", u.Redacted())
	}
	opts := []mail.Option{mail.WithTimeout(30 * time.Second)}
	port := 587
	switch u.Scheme {
	case "smtp":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	case "smtps":
		port = 465
		opts = append(opts, mail.WithSSL())
	default:
		return nil, fmt.Errorf("smtp url scheme %q: use smtp or smtps", u.Scheme)
	}
	switch u.Query().Get("tls") {
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case "required":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case "":
	default:
		return nil, fmt.Errorf("smtp url: tls=%q: use none or required", u.Query().Get("tls"))
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("smtp url port %q: %w", p, err)
		}
	}
	opts = append(opts, mail.WithPort(port))
	if u.User != nil && u.User.Username() != "" {
		auth := mail.SMTPAuthAutoDiscover
		if u.Query().Get("tls") == "none" {
			// Said plainly in the URL: a relay on loopback or a private link.
			auth = mail.SMTPAuthPlainNoEnc
		}
		opts = append(opts, mail.WithSMTPAuth(auth), mail.WithUsername(u.User.Username()),
			mail.WithPassword(s.Password))
	}
	return opts, nil
}

// Mail is one e-mail.
type Mail struct {
	To, Cc        []string
	Subject, Text string
	// Headers are extra headers (X-Pitwall-Test, …).
	Headers map[string]string
}

// Send sends one e-mail through the relay.
func (s SMTP) Send(ctx context.Context, m Mail) error {
	if !s.Configured() {
		return errors.New("no SMTP relay configured (worker --smtp-url)")
	}
	opts, err := s.options()
	if err != nil {
		return err
	}
	u, _ := url.Parse(s.URL)
	c, err := mail.NewClient(u.Hostname(), opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	msg := mail.NewMsg()
	if err := msg.From(s.From); err != nil {
		return fmt.Errorf("from %q: %w", s.From, err)
	}
	if err := msg.To(m.To...); err != nil {
		return fmt.Errorf("to: %w", err)
	}
	if len(m.Cc) > 0 {
		if err := msg.Cc(m.Cc...); err != nil {
			return fmt.Errorf("cc: %w", err)
		}
	}
	msg.Subject(m.Subject)
	for k, v := range m.Headers {
		msg.SetGenHeader(mail.Header(k), v)
	}
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		err = fmt.Errorf("send mail through %s: %w", u.Host, err)
		var se *mail.SendError
		if errors.As(err, &se) && se.ErrorCode() >= 500 {
			return &PermanentError{err}
		}
		return err
	}
	return nil
}

// Post sends body to a webhook URL as JSON, signed when secret is set,
// and fails on any answer other than 2xx (with the start of the answer).
func Post(ctx context.Context, client *http.Client, target string, body, secret []byte, delivery string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Pitwall-Notify/1")
	if delivery != "" {
		req.Header.Set("X-Pitwall-Delivery", delivery)
	}
	if len(secret) > 0 {
		req.Header.Set(SignatureHeader, Sign(secret, body))
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("post to %s: %w", Redact(target), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	if resp.StatusCode/100 != 2 {
		err := fmt.Errorf("post to %s: %s: %s", Redact(target), resp.Status, strings.TrimSpace(string(b)))
		switch resp.StatusCode {
		case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		default:
			if resp.StatusCode/100 == 4 {
				return &PermanentError{err}
			}
		}
		return err
	}
	return nil
}

// Redact keeps a webhook URL's secret path (Slack's token) out of errors
// and out of what people may read: scheme and host only.
func Redact(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return "webhook"
	}
	return u.Scheme + "://" + u.Host + "/…"
}
