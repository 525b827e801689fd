package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// ghWorkflow is the part of a GitHub Actions workflow file the test reads.
type ghWorkflow struct {
	On   map[string]any `yaml:"on"`
	Jobs map[string]struct {
		Env   map[string]string `yaml:"env"`
		Steps []struct {
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			Run  string            `yaml:"run"`
			Env  map[string]string `yaml:"env"`
			With map[string]any    `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// examples/github-actions/pitwall.yml is a workflow users copy as it is:
// every starter command it runs must parse, with the job's environment
// (the server and token from its secrets), exactly as starter parses it;
// it installs this package, and uploads the JUnit file results writes.
func TestGitHubActionsExample(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../examples/github-actions/pitwall.yml")
	require.NoError(t, err)
	var wf ghWorkflow
	require.NoError(t, yaml.Unmarshal(data, &wf))
	require.Equal(t, map[string]any{"branches": []any{"main"}}, wf.On["push"], "on push to main")
	require.Contains(t, wf.On, "pull_request")
	require.NotContains(t, wf.On, "pull_request_target", "it would give forks' pull requests the token")

	// A stand-in server that refuses every request: a command that reaches
	// it has parsed its flags and arguments and read the token.
	var (
		mu       sync.Mutex
		requests []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error": "dry run"}`))
	}))
	t.Cleanup(srv.Close)
	seen := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(requests)
	}
	secrets := map[string]string{"PITWALL_SERVER": srv.URL, "PITWALL_TOKEN": "tok"}

	modData, err := os.ReadFile("../go.mod")
	require.NoError(t, err)
	module, _, _ := strings.Cut(strings.TrimPrefix(string(modData), "module "), "\n")
	self := module + "/starter"

	ran := map[string][][]string{}
	var installs, uploaded []string
	for jobName, job := range wf.Jobs {
		for _, step := range job.Steps {
			env := map[string]string{}
			for _, vars := range []map[string]string{job.Env, step.Env} {
				for k, v := range vars {
					env[k] = ghExpand(v, secrets)
				}
			}
			if strings.HasPrefix(step.Uses, "actions/upload-artifact@") {
				path, _ := step.With["path"].(string)
				uploaded = append(uploaded, strings.Fields(path)...)
			}
			cmds, err := shellCommands(ghExpand(step.Run, secrets), func(name string) string {
				if v, ok := env[name]; ok {
					return v
				}
				return "42" // a shell variable of the script's own, e.g. a test ID
			})
			require.NoError(t, err, "job %s, step %q", jobName, step.Name)
			for _, cmd := range cmds {
				switch {
				case len(cmd) > 2 && cmd[0] == "go" && cmd[1] == "install":
					installs = append(installs, cmd[len(cmd)-1])
				case cmd[0] == "starter":
					before := len(seen())
					o := runIn(cmd[1:], env)
					require.Equal(t, "starter: server refused (503 Service Unavailable): dry run\n", o.stderr,
						"job %s, step %q: %s", jobName, step.Name, strings.Join(cmd, " "))
					require.Equal(t, ExitUsage, o.code)
					after := seen()
					require.Len(t, after, before+1)
					require.True(t, strings.HasSuffix(after[before], " Bearer tok"), "the token from PITWALL_TOKEN")
					ran[cmd[1]] = append(ran[cmd[1]], cmd[2:])
				}
			}
		}
	}
	require.NotEmpty(t, installs, "the workflow installs starter")
	for _, target := range installs {
		pkg, _, _ := strings.Cut(target, "@")
		require.Equal(t, self, pkg, "go install names this package")
	}
	require.Len(t, ran["run"], 1, "one starter run: %v", ran)
	require.Contains(t, ran["run"][0], "--wait", "the run's exit status judges the job")
	require.NotEmpty(t, ran["results"], "starter results writes the JUnit file")
	for _, args := range ran["results"] {
		i := slices.Index(args, "--junit")
		require.True(t, i >= 0 && i+1 < len(args), "results --junit FILE: %v", args)
		require.Contains(t, uploaded, args[i+1], "the JUnit file is uploaded")
	}
}

var ghExprRE = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// ghExpand replaces GitHub's ${{ expressions }}: secrets.NAME by
// secrets[NAME], anything else by "42".
func ghExpand(s string, secrets map[string]string) string {
	return ghExprRE.ReplaceAllStringFunc(s, func(m string) string {
		expr := ghExprRE.FindStringSubmatch(m)[1]
		if name, ok := strings.CutPrefix(expr, "secrets."); ok {
			return secrets[name]
		}
		return "42"
	})
}

// shellCommands reads a bash script as far as this test needs: its simple
// commands, each a list of words with quotes removed and $VAR, ${VAR} and
// $? replaced by lookup(VAR), without the redirections, keywords (if,
// then, do...) and operators around them. It refuses what it does not
// follow (backquotes, a quote left open at the end of a line) rather than
// read a command wrong.
func shellCommands(script string, lookup func(string) string) ([][]string, error) {
	script = strings.ReplaceAll(script, "\\\n", " ")
	var cmds [][]string
	for n, line := range strings.Split(script, "\n") {
		words, err := shellWords(line, lookup)
		if err != nil {
			return nil, fmt.Errorf("line %d %q: %w", n+1, line, err)
		}
		var cmd []string
		end := func() {
			if len(cmd) > 0 {
				cmds = append(cmds, cmd)
			}
			cmd = nil
		}
		for i := 0; i < len(words); i++ {
			w := words[i]
			switch {
			case w.op && strings.ContainsAny(w.text, "<>"):
				i++ // a redirection and its file (or descriptor: 2>&1)
			case w.op:
				end()
			case len(cmd) == 0 && slices.Contains([]string{"if", "then", "else", "elif", "do", "while", "until", "!", "{", "time"}, w.text):
			default:
				cmd = append(cmd, w.text)
			}
		}
		end()
	}
	return cmds, nil
}

// shellWord is a word of a shell line, or an operator (|, ||, &&, ;, (,
// ), $(, <, >, >>, 2>...).
type shellWord struct {
	text string
	op   bool
}

// shellWords splits one line of bash into words and operators.
func shellWords(line string, lookup func(string) string) ([]shellWord, error) {
	var (
		words  []shellWord
		cur    strings.Builder
		inWord bool
	)
	flush := func() {
		if inWord {
			words = append(words, shellWord{text: cur.String()})
		}
		cur.Reset()
		inWord = false
	}
	// variable expands the $ at line[i] and returns the index after it.
	variable := func(i int) (int, error) {
		rest := line[i+1:]
		switch {
		case strings.HasPrefix(rest, "{"):
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return 0, fmt.Errorf("unclosed ${")
			}
			cur.WriteString(lookup(rest[1:end]))
			return i + 2 + end, nil
		case rest != "" && strings.ContainsRune("?#$!@*0123456789", rune(rest[0])):
			cur.WriteString(lookup(rest[:1]))
			return i + 2, nil
		}
		n := 0
		for n < len(rest) && (rest[n] == '_' || 'a' <= rest[n] && rest[n] <= 'z' || 'A' <= rest[n] && rest[n] <= 'Z' ||
			n > 0 && '0' <= rest[n] && rest[n] <= '9') {
			n++
		}
		if n == 0 {
			cur.WriteByte('$')
			return i + 1, nil
		}
		cur.WriteString(lookup(rest[:n]))
		return i + 1 + n, nil
	}
	const ops = "|&;()<>"
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			flush()
			i++
		case c == '#' && !inWord:
			flush()
			return words, nil
		case c == '`':
			return nil, fmt.Errorf("backquotes")
		case c == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unclosed '")
			}
			cur.WriteString(line[i+1 : i+1+end])
			inWord = true
			i += end + 2
		case c == '"':
			inWord = true
			for i++; ; {
				if i >= len(line) {
					return nil, fmt.Errorf("unclosed \"")
				}
				switch d := line[i]; {
				case d == '"':
					i++
				case d == '\\' && i+1 < len(line) && strings.ContainsRune("\"\\$`", rune(line[i+1])):
					cur.WriteByte(line[i+1])
					i += 2
					continue
				case d == '`' || d == '$' && strings.HasPrefix(line[i:], "$("):
					return nil, fmt.Errorf("command substitution inside double quotes")
				case d == '$':
					var err error
					if i, err = variable(i); err != nil {
						return nil, err
					}
					continue
				default:
					cur.WriteByte(d)
					i++
					continue
				}
				break
			}
		case strings.HasPrefix(line[i:], "$("):
			// What $( ) runs is read as commands of their own.
			flush()
			words = append(words, shellWord{text: "$(", op: true})
			i += 2
		case c == '$':
			inWord = true
			var err error
			if i, err = variable(i); err != nil {
				return nil, err
			}
		case c == '\\' && i+1 < len(line):
			cur.WriteByte(line[i+1])
			inWord = true
			i += 2
		case strings.IndexByte(ops, c) >= 0:
			prefix := ""
			if c == '>' && inWord && (cur.String() == "1" || cur.String() == "2") {
				prefix, inWord = cur.String(), false
				cur.Reset()
			}
			flush()
			j := i
			for j < len(line) && strings.IndexByte(ops, line[j]) >= 0 {
				j++
			}
			words = append(words, shellWord{text: prefix + line[i:j], op: true})
			i = j
		default:
			cur.WriteByte(c)
			inWord = true
			i++
		}
	}
	flush()
	return words, nil
}

// The test's shell reader finds starter where the workflow's scripts put
// it, and does not take a redirection's file for an argument.
func TestShellCommands(t *testing.T) {
	t.Parallel()
	lookup := func(name string) string { return map[string]string{"FW": "sample", "ID": "7", "?": "1"}[name] }
	cmds, err := shellCommands(`set +e
starter run "$FW" --wait --json > out.json   # a comment
id=$(jq -r '.id // empty' out.json 2>/dev/null || true)
if [ -n "$id" ]; then starter results ${ID} --junit "a b.xml" 2>&1 | tee log || [ $? -le 2 ]; fi
{
  echo "### test $ID" \
    'and more'
} >> "$GITHUB_STEP_SUMMARY"`, lookup)
	require.NoError(t, err)
	require.Equal(t, [][]string{
		{"set", "+e"},
		{"starter", "run", "sample", "--wait", "--json"},
		{"id="}, {"jq", "-r", ".id // empty", "out.json"}, {"true"},
		{"[", "-n", "", "]"}, {"starter", "results", "7", "--junit", "a b.xml"}, {"tee", "log"}, {"[", "1", "-le", "2", "]"}, {"fi"},
		{"echo", "### test 7", "and more"},
		{"}"},
	}, cmds)
	for _, bad := range []string{"starter run `cat fw`", `starter run "$(cat fw)"`, `echo "open`, `echo 'open`} {
		_, err := shellCommands(bad, lookup)
		require.Error(t, err, bad)
	}
}
