package accounts

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/pitwall/pitwall/internal/auth"
	"github.com/pitwall/pitwall/internal/store"
	"github.com/pitwall/pitwall/service"
)

// hashing bounds the password hashes (64 MiB and a few hundred
// milliseconds each) that the service computes at once.
var hashing = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

// withHashing runs f once a hashing place is free.
func withHashing(ctx context.Context, f func()) error {
	select {
	case hashing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-hashing }()
	f()
	return nil
}

func hashPassword(ctx context.Context, password string) (string, error) {
	var (
		hash string
		err  error
	)
	if werr := withHashing(ctx, func() { hash, err = auth.HashPassword(password) }); werr != nil {
		return "", werr
	}
	if err != nil {
		return "", service.InvalidField("password", err.Error())
	}
	return hash, nil
}

// mayAdminister refuses anyone but site admins.
func mayAdminister(ctx context.Context, what string) error {
	if !service.Principal(ctx).SiteAdmin {
		return service.NotAllowed("only site admins " + what)
	}
	return nil
}

// Users lists every user with their roles, for site admins.
func (s *Service) Users(ctx context.Context) ([]store.User, error) {
	if err := mayAdminister(ctx, "list users"); err != nil {
		return nil, err
	}
	list, err := s.Store.UserList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return list, nil
}

// user loads a user by name for a site admin's change.
func (s *Service) user(ctx context.Context, name string) (*store.User, error) {
	u, err := s.Store.UserGet(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, service.Errorf(service.NotFound, "name", "user %q not found", name)
	}
	if err != nil {
		return nil, fmt.Errorf("find user %s: %w", name, err)
	}
	return u, nil
}

// UserUpdate is a site admin's change to a user; a field left out (nil)
// stays as it is.
type UserUpdate struct {
	Disabled  *bool `json:"disabled"`
	SiteAdmin *bool `json:"site_admin"`
}

// UpdateUser disables or enables a user and grants or revokes site admin,
// for site admins, and audits each change. A disabled user cannot sign
// in, their sessions end at once and their tokens (and every token made
// with them) stop working until they are enabled again. No change may
// leave the installation without an enabled site admin, and no one may
// disable their own account.
func (s *Service) UpdateUser(ctx context.Context, name string, in UserUpdate) (*store.User, error) {
	if err := mayAdminister(ctx, "disable, enable and promote users"); err != nil {
		return nil, err
	}
	if in.Disabled == nil && in.SiteAdmin == nil {
		return nil, service.InvalidField("", "give disabled and/or site_admin")
	}
	u, err := s.user(ctx, name)
	if err != nil {
		return nil, err
	}
	if in.Disabled != nil && *in.Disabled && u.ID == service.Principal(ctx).UserID {
		return nil, service.Errorf(service.Conflict, "disabled", "you cannot disable your own account; another site admin can")
	}
	before, err := s.Store.UserUpdate(ctx, u.ID, store.UserChange{Disabled: in.Disabled, SiteAdmin: in.SiteAdmin})
	if errors.Is(err, store.ErrLastAdmin) {
		field := "disabled"
		if in.SiteAdmin != nil && !*in.SiteAdmin {
			field = "site_admin"
		}
		return nil, service.Errorf(service.Conflict, field,
			"%s is the last enabled site admin: make another user site admin first", name)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, service.Errorf(service.NotFound, "name", "user %q not found", name)
	}
	if err != nil {
		return nil, fmt.Errorf("update user %s: %w", name, err)
	}
	if in.Disabled != nil && *in.Disabled != before.Disabled {
		action := "user enabled"
		if *in.Disabled {
			action = "user disabled"
		}
		service.Audit(ctx, s.Store, s.Log, action, "", name, "")
	}
	if in.SiteAdmin != nil && *in.SiteAdmin != before.SiteAdmin {
		action := "site admin revoked"
		if *in.SiteAdmin {
			action = "site admin granted"
		}
		service.Audit(ctx, s.Store, s.Log, action, "", name, "")
	}
	return s.user(ctx, name)
}

// PasswordChange is a user's change of their own password.
type PasswordChange struct {
	Current string `json:"current_password"`
	New     string `json:"new_password"`
}

// ChangePassword changes the principal's own password, given the current
// one, and ends every other session of theirs (their API tokens go on
// working: revoke those one by one). The new password must meet
// auth.CheckPasswordStrength. Both outcomes are audited.
func (s *Service) ChangePassword(ctx context.Context, in PasswordChange) error {
	p := service.Principal(ctx)
	if p.UserID == 0 {
		return service.NotAllowed("changing a password needs a user account, and this token has none")
	}
	c, err := s.Store.UserCredentialsByID(ctx, p.UserID)
	if err != nil {
		return fmt.Errorf("load user %d: %w", p.UserID, err)
	}
	if err := auth.CheckPasswordStrength(c.Name, in.New); err != nil {
		return service.InvalidField("new_password", err.Error())
	}
	var ok bool
	if err := withHashing(ctx, func() { ok = auth.CheckPassword(c.PasswordHash, in.Current) }); err != nil {
		return err
	}
	if !ok {
		service.Audit(ctx, s.Store, s.Log, "password change refused", "", c.Name, "wrong current password")
		return service.InvalidField("current_password", "the current password is wrong")
	}
	if in.New == in.Current {
		return service.InvalidField("new_password", "the new password is the current one")
	}
	hash, err := hashPassword(ctx, in.New)
	if err != nil {
		return err
	}
	ended, err := s.Store.UserSetPassword(ctx, c.ID, hash, c.PasswordHash, p.Session)
	if errors.Is(err, store.ErrChanged) {
		return service.Errorf(service.Conflict, "current_password", "the password changed meanwhile; sign in again")
	}
	if err != nil {
		return fmt.Errorf("set password of %s: %w", c.Name, err)
	}
	service.Audit(ctx, s.Store, s.Log, "password changed", "", c.Name, fmt.Sprintf("other sessions ended: %d", ended))
	return nil
}

// PasswordReset is a site admin's new password for a user: Password, or
// a random one when it is empty.
type PasswordReset struct {
	Password string `json:"password"`
}

// PasswordSet is what a reset did; Password is the password it made up
// (shown this once), empty when the admin chose it.
type PasswordSet struct {
	Name          string `json:"name"`
	Password      string `json:"password,omitempty"`
	SessionsEnded int64  `json:"sessions_ended"`
}

// ResetPassword gives a user a new password, for site admins, and ends
// every session of theirs. A site admin's own password is changed with
// ChangePassword, which asks for the current one: a session left open
// must not be enough to take the account over.
func (s *Service) ResetPassword(ctx context.Context, name string, in PasswordReset) (*PasswordSet, error) {
	p := service.Principal(ctx)
	if err := mayAdminister(ctx, "reset passwords"); err != nil {
		return nil, err
	}
	c, err := s.Store.UserCredentials(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, service.Errorf(service.NotFound, "name", "user %q not found", name)
	}
	if err != nil {
		return nil, fmt.Errorf("find user %s: %w", name, err)
	}
	if c.ID == p.UserID {
		return nil, service.NotAllowed("resetting your own password; change it with POST /api/v1/me/password (or on /account), which asks for the current one")
	}
	out := &PasswordSet{Name: name}
	password, how := in.Password, "set by a site admin"
	if password == "" {
		password, how = auth.RandomPassword(), "generated"
		out.Password = password
	} else if err := auth.CheckPasswordStrength(name, password); err != nil {
		return nil, service.InvalidField("password", err.Error())
	}
	hash, err := hashPassword(ctx, password)
	if err != nil {
		return nil, err
	}
	if out.SessionsEnded, err = s.Store.UserSetPassword(ctx, c.ID, hash, "", ""); err != nil {
		return nil, fmt.Errorf("set password of %s: %w", name, err)
	}
	service.Audit(ctx, s.Store, s.Log, "password reset", "", name, fmt.Sprintf("%s; sessions ended: %d", how, out.SessionsEnded))
	return out, nil
}
