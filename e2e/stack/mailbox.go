package stack

import (
	"errors"
	"io"
	"net"
	"net/mail"
	"strings"
	"sync"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is one message as the SMTP server got it.
type Received struct {
	From string
	Rcpt []string
	Raw  string
	Msg  *mail.Message
	Body string
}

// Mailbox is a real SMTP server (go-smtp) for the tests of e-mail
// notifications, that keeps what it receives and can be
// told to refuse the next few messages.
type Mailbox struct {
	srv    *smtp.Server
	mu     sync.Mutex
	msgs   []Received
	refuse int
	auths  []string
}

// NewMailbox serves SMTP on ln; the relay login is pitwall / "relay password".
func NewMailbox(ln net.Listener) *Mailbox {
	mb := &Mailbox{}
	mb.srv = smtp.NewServer(mb)
	mb.srv.Domain = "mx.example.test"
	mb.srv.AllowInsecureAuth = true
	go mb.srv.Serve(ln)
	return mb
}

func (mb *Mailbox) Close() { mb.srv.Close() }

// Refuse makes the next n messages fail with a temporary error.
func (mb *Mailbox) Refuse(n int) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.refuse = n
}

// For returns the messages whose X-Pitwall-Test header is test.
func (mb *Mailbox) For(test string) []Received {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	var out []Received
	for _, m := range mb.msgs {
		if m.Msg.Header.Get("X-Pitwall-Test") == test {
			out = append(out, m)
		}
	}
	return out
}

func (mb *Mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{mb: mb}, nil }

type session struct {
	mb   *Mailbox
	from string
	rcpt []string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != "pitwall" || password != "relay password" {
			return errors.New("bad credentials")
		}
		s.mb.mu.Lock()
		s.mb.auths = append(s.mb.auths, username)
		s.mb.mu.Unlock()
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error   { s.rcpt = append(s.rcpt, to); return nil }
func (s *session) Reset()                                      { s.from, s.rcpt = "", nil }
func (s *session) Logout() error                               { return nil }

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.mb.mu.Lock()
	defer s.mb.mu.Unlock()
	if s.mb.refuse > 0 {
		s.mb.refuse--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "mailbox busy, try later"}
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(b)))
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(msg.Body)
	s.mb.msgs = append(s.mb.msgs, Received{From: s.from, Rcpt: s.rcpt, Raw: string(b), Msg: msg, Body: string(body)})
	return nil
}
