package packagebuild

import (
	"net/url"
	"strings"
)

// Redacted replaces a secret in a message.
const Redacted = "<redacted>"

// minSecretLen is the shortest secret that Redact replaces: shorter
// values ("1", "yes") are settings, not secrets, and would blank out
// ordinary words.
const minSecretLen = 4

// minPartLen is the shortest part of a secret that Redact replaces where a
// message may have been cut: 4 would take the "pass" of "password" at the
// start of a message for the end of a secret ending in "pass".
const minPartLen = 6

// Redact returns msg with every occurrence of a secret replaced by
// Redacted, for a build message that a tenant reads (the Function's
// condition) while the build saw the platform's secrets (the faas-pip
// Secret's data, as environment variables). The secrets of a value are:
// the value itself, with and without surrounding whitespace; each of its
// whitespace-separated words (PIP_EXTRA_INDEX_URL lists URLs); and, of each
// word that is a URL with user information (https://user:pass@host/), that
// user information, its password, or its user name when there is no
// password (a token), both as written and percent-decoded. Secrets shorter
// than 4 bytes are ignored.
//
// A message cut short (the kubelet keeps the tail of a log, messages are
// truncated with "…") may hold part of a secret where it was cut: the start
// of a secret at the end of the message or of a line or just before "…",
// its end at the start of the message or of a line or just after "…", 6
// bytes or more, is replaced too.
func Redact(msg string, secrets map[string][]byte) string {
	candidates := secretStrings(secrets)
	if msg == "" || len(candidates) == 0 {
		return msg
	}
	hidden := make([]bool, len(msg))
	hide := func(from, to int) {
		for i := from; i < to; i++ {
			hidden[i] = true
		}
	}
	starts, ends := cutPoints(msg)
	for _, c := range candidates {
		for i := 0; i+len(c) <= len(msg); {
			j := strings.Index(msg[i:], c)
			if j < 0 {
				break
			}
			hide(i+j, i+j+len(c))
			i += j + 1
		}
		for _, p := range starts {
			for k := len(c) - 1; k >= minPartLen; k-- {
				if strings.HasPrefix(msg[p:], c[len(c)-k:]) {
					hide(p, p+k)
					break
				}
			}
		}
		for _, q := range ends {
			for k := len(c) - 1; k >= minPartLen; k-- {
				if strings.HasSuffix(msg[:q], c[:k]) {
					hide(q-k, q)
					break
				}
			}
		}
	}
	var b strings.Builder
	for i := 0; i < len(msg); {
		if !hidden[i] {
			b.WriteByte(msg[i])
			i++
			continue
		}
		b.WriteString(Redacted)
		for i < len(msg) && hidden[i] {
			i++
		}
	}
	return b.String()
}

// cutPoints returns where msg may have been cut: positions where a secret's
// end may start it (the start of msg and of each line, after each "…") and
// where a secret's start may end it (the end of msg and of each line,
// before each "…").
func cutPoints(msg string) (starts, ends []int) {
	starts, ends = []int{0}, []int{len(msg)}
	for i := 0; i < len(msg); i++ {
		switch {
		case msg[i] == '\n':
			ends = append(ends, i)
			starts = append(starts, i+1)
		case strings.HasPrefix(msg[i:], "…"):
			ends = append(ends, i)
			starts = append(starts, i+len("…"))
		}
	}
	return starts, ends
}

// secretStrings returns the strings Redact looks for in the values of
// secrets.
func secretStrings(secrets map[string][]byte) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if len(s) >= minSecretLen && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, raw := range secrets {
		v := string(raw)
		add(v)
		add(strings.TrimSpace(v))
		for _, word := range strings.Fields(v) {
			add(word)
			userinfoSecrets(word, add)
		}
	}
	return out
}

// userinfoSecrets adds the user information of word, if it is a URL with
// some, as written and decoded: all of it, and its password, or its user
// name when it has no password.
func userinfoSecrets(word string, add func(string)) {
	u, err := url.Parse(word)
	if err != nil || u.User == nil {
		return
	}
	// As written: between "//" and the last "@" of the authority.
	if _, rest, ok := strings.Cut(word, "//"); ok {
		authority, _, _ := strings.Cut(rest, "/")
		if at := strings.LastIndex(authority, "@"); at >= 0 {
			written := authority[:at]
			add(written)
			if _, pass, ok := strings.Cut(written, ":"); ok {
				add(pass)
			}
		}
	}
	add(u.User.String())
	user := u.User.Username()
	if pass, ok := u.User.Password(); ok {
		add(user + ":" + pass)
		add(pass)
	} else {
		add(user)
	}
}
