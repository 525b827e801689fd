package auth

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPasswords(t *testing.T) {
	t.Parallel()
	h, err := HashPassword("correct horse battery")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$"))
	require.True(t, CheckPassword(h, "correct horse battery"))
	require.False(t, CheckPassword(h, "correct horse batterY"))
	require.False(t, CheckPassword("garbage", "x"))
	h2, _ := HashPassword("correct horse battery")
	require.NotEqual(t, h, h2, "salted")
	_, err = HashPassword("short")
	require.Error(t, err)
}

// The password rule says which part a password fails.
func TestPasswordStrength(t *testing.T) {
	t.Parallel()
	for pw, want := range map[string]string{
		"short":                         "at least 12 characters (this one has 5)",
		"ééééééé":                       "at least 12 characters (this one has 7)", // 14 bytes
		"aaaaaaaaaaaaaaaa":              "at least 5 different characters",
		"abababababababab":              "at least 5 different characters",
		"my name is annabel!":           "must not contain the user name",
		"Password1234":                  "first that guessers try",
		"1234 5678 9012":                "first that guessers try",
		strings.Repeat("abcdefgh", 130): "at most 1024 bytes",
	} {
		err := CheckPasswordStrength("annabel", pw)
		require.ErrorContains(t, err, want, "%q", pw)
	}
	require.NoError(t, CheckPasswordStrength("annabel", "correct horse battery"))
	require.NoError(t, CheckPasswordStrength("al", "al's long password"), "a name under 3 characters is not looked for")
}

func TestTokens(t *testing.T) {
	t.Parallel()
	a, ha := NewToken(UserTokenPrefix)
	b, _ := NewToken(UserTokenPrefix)
	require.NotEqual(t, a, b)
	require.True(t, strings.HasPrefix(a, "pwt_"))
	require.Len(t, a, 4+43)
	require.Equal(t, ha, HashToken(a))
}

func TestRoles(t *testing.T) {
	t.Parallel()
	p := &Principal{Kind: KindUser, Name: "ann", Teams: map[string]Role{"web": Member, "db": Viewer}}
	require.True(t, p.Can("web", Viewer))
	require.True(t, p.Can("web", Member))
	require.False(t, p.Can("web", Admin))
	require.False(t, p.Can("db", Member))
	require.False(t, p.Can("other", Viewer))
	require.True(t, p.CanModify("web", "ann"))
	require.False(t, p.CanModify("web", "bob"))
	require.False(t, p.CanModify("db", "ann"), "a viewer modifies nothing, even their own")
	admin := &Principal{Kind: KindUser, Name: "root", SiteAdmin: true}
	require.True(t, admin.CanModify("anything", "bob"))
	agent := &Principal{Kind: KindAgent, Name: "bench-01", SiteAdmin: false}
	require.False(t, agent.Can("web", Viewer), "agents act only through ingest")
	var nobody *Principal
	require.False(t, nobody.Can("web", Viewer))

	// CanAny: the role somewhere, as routes check before reading a body.
	require.True(t, p.CanAny(Member))
	require.False(t, p.CanAny(Admin))
	require.True(t, admin.CanAny(Admin))
	require.False(t, agent.CanAny(Viewer))
	require.False(t, nobody.CanAny(Viewer))
	viewer := &Principal{Kind: KindUser, Name: "vic", Teams: map[string]Role{"web": Viewer}}
	require.False(t, viewer.CanAny(Member))
}
