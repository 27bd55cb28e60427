package packagebuild

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/minifaas/minifaas/internal/packages"
)

// MaxRequirementsBytes bounds a requirements.txt: a few hundred pinned
// requirements, with hashes, fit in a fraction of it.
const MaxRequirementsBytes = 64 << 10

// ExitInvalidRequirements is build-fetch's exit code when the source's
// requirements.txt is refused (ErrInvalidRequirements): the author's
// mistake, which a retry of the same source cannot fix, unlike any other
// failure of the step.
const ExitInvalidRequirements = 3

// ErrInvalidRequirements: requirements.txt holds something other than
// requirement specifiers. Errors wrapping it are *RequirementsError.
var ErrInvalidRequirements = errors.New("invalid requirements.txt")

// RequirementsError says which line of a requirements.txt is refused and
// why. Its message names the file and the line and is meant for the
// package's author, e.g.
//
//	requirements.txt line 3: pip options are not allowed (the platform's pip settings choose the index): --index-url
type RequirementsError struct {
	// Line is 1-based; 0 is the file as a whole.
	Line   int
	Reason string
}

func (e *RequirementsError) Error() string {
	if e.Line == 0 {
		return "requirements.txt: " + e.Reason
	}
	return fmt.Sprintf("requirements.txt line %d: %s", e.Line, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidRequirements) true.
func (e *RequirementsError) Is(target error) bool { return target == ErrInvalidRequirements }

// ValidateRequirements reads a requirements.txt from r and accepts it only
// if every line is blank, a comment, or a plain requirement specifier:
//
//	name[extras] <version specifiers> ; <environment markers>  --hash=sha256:<hex>  # comment
//
// with everything but the name optional, the version specifiers also in
// parentheses, and any number of --hash options. Continuation lines (a
// trailing \) are joined as pip joins them. Everything that makes pip read
// another file or choose another source is refused, naming the line: pip
// options (-r, -c, -e, -i, --index-url, --extra-index-url, -f/--find-links,
// --trusted-host, --no-index, --pre, ...), direct references (name @ URL),
// URLs, local paths and archive files, and ${VAR} (pip substitutes the
// build's environment, which holds the platform's pip settings). So the
// platform's settings choose the index and nothing of the build's
// environment or filesystem can be echoed into pip's error message.
//
// The file must be UTF-8 (a leading byte order mark is allowed) of at most
// MaxRequirementsBytes, without an encoding declaration other than utf-8,
// control characters or whitespace other than spaces and tabs, which pip
// (Python's str.splitlines and \s) would treat differently from this
// parser. Errors are *RequirementsError, wrapping ErrInvalidRequirements.
func ValidateRequirements(r io.Reader) error {
	raw, err := io.ReadAll(io.LimitReader(r, MaxRequirementsBytes+1))
	if err != nil {
		return fmt.Errorf("read requirements.txt: %w", err)
	}
	if len(raw) > MaxRequirementsBytes {
		return &RequirementsError{Reason: fmt.Sprintf("larger than %d KiB", MaxRequirementsBytes>>10)}
	}
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	lines := strings.Split(string(raw), "\n")
	for i, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		lines[i] = l
		if err := checkCharacters(i+1, l); err != nil {
			return err
		}
		if i < 2 && strings.HasPrefix(l, "#") {
			if m := codingDeclaration.FindStringSubmatch(l); m != nil && !isUTF8Name(m[1]) {
				return &RequirementsError{Line: i + 1, Reason: fmt.Sprintf("encoding declarations other than utf-8 are not allowed: %s", m[1])}
			}
		}
	}
	for _, l := range joinLines(lines) {
		if err := checkRequirementLine(l.text); err != "" {
			return &RequirementsError{Line: l.number, Reason: err}
		}
	}
	return nil
}

// ValidateRequirementsFile is ValidateRequirements of the requirements.txt
// that FetchSource leaves in dest, if the source has one.
func ValidateRequirementsFile(dest string) error {
	root, err := os.OpenRoot(dest)
	if err != nil {
		return fmt.Errorf("open fetched source: %w", err)
	}
	defer root.Close()
	f, err := root.Open(filepath.Join(packages.RootDir, packages.LayerRequirements, packages.RequirementsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open requirements.txt: %w", err)
	}
	defer f.Close()
	return ValidateRequirements(f)
}

// codingDeclaration is pip's PEP 263 check of the first two lines (those
// starting with #), which makes it decode the file with another codec.
var codingDeclaration = regexp.MustCompile(`coding[:=][ \t\f\v\r]*([-\w.]+)`)

func isUTF8Name(name string) bool {
	n := strings.ReplaceAll(strings.ToLower(name), "_", "-")
	return n == "utf-8" || n == "utf8"
}

// checkCharacters refuses, in line n, what pip's Python would read
// otherwise than this parser does: invalid UTF-8, control characters (some
// of which end a line for str.splitlines), and whitespace other than space
// and tab (which Python's \s and str.strip match, and which could make a
// line a comment for pip only).
func checkCharacters(n int, line string) error {
	for i, r := range line {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(line[i:], "\uFFFD"):
			return &RequirementsError{Line: n, Reason: "not valid UTF-8"}
		case r == ' ' || r == '\t':
		case unicode.IsControl(r) || unicode.IsSpace(r) || r == '\u2028' || r == '\u2029' || (r >= 0x1c && r <= 0x1f):
			return &RequirementsError{Line: n, Reason: fmt.Sprintf("control characters and whitespace other than spaces and tabs are not allowed (%U)", r)}
		}
	}
	return nil
}

type logicalLine struct {
	number int
	text   string
}

// joinLines is pip's join_lines: a line ending in \ that is not a comment
// line continues on the next one, without the backslashes at either end;
// the joined line takes the number of its first line.
func joinLines(lines []string) []logicalLine {
	var (
		out     []logicalLine
		pending []string
		joining bool
		first   int
	)
	for i, l := range lines {
		comment := isCommentLine(l)
		if !strings.HasSuffix(l, `\`) || comment {
			if comment {
				l = " " + l
			}
			if joining {
				out = append(out, logicalLine{first, strings.Join(append(pending, l), "")})
				pending, joining = nil, false
			} else {
				out = append(out, logicalLine{i + 1, l})
			}
			continue
		}
		if !joining {
			first, joining = i+1, true
		}
		pending = append(pending, strings.Trim(l, `\`))
	}
	if joining {
		out = append(out, logicalLine{first, strings.Join(pending, "")})
	}
	return out
}

// isCommentLine is pip's COMMENT_RE.match: # at the start, after optional
// whitespace.
func isCommentLine(l string) bool {
	return strings.HasPrefix(strings.TrimLeft(l, " \t"), "#")
}

// stripComment is pip's COMMENT_RE.sub: from the first # that starts the
// line or follows whitespace, to the end.
func stripComment(l string) string {
	for i := 0; i < len(l); i++ {
		if l[i] == '#' && (i == 0 || l[i-1] == ' ' || l[i-1] == '\t') {
			return l[:i]
		}
	}
	return l
}

// archiveExtensions are pip's ARCHIVE_EXTENSIONS: a requirement ending in
// one is taken for a local file.
var archiveExtensions = []string{".zip", ".whl", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tlz", ".tar.lz", ".tar.lzma", ".tar.gz", ".tgz", ".tar"}

// hashOption is the one per-requirement option allowed.
var hashOption = regexp.MustCompile(`^--hash=(sha256|sha384|sha512):[0-9a-fA-F]+$`)

const optionsReason = "pip options are not allowed (the platform's pip settings choose the index): "

// checkRequirementLine checks one logical line and returns why it is
// refused, or "".
func checkRequirementLine(line string) string {
	s := strings.Trim(stripComment(line), " \t")
	if s == "" {
		return ""
	}
	if strings.Contains(s, "${") {
		return "environment variables (${...}) are not allowed"
	}
	// pip's break_args_options: the options start at the first word
	// starting with -.
	spec, options := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == '-' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t') {
			spec, options = strings.Trim(s[:i], " \t"), s[i:]
			break
		}
	}
	if spec == "" {
		return optionsReason + optionName(strings.Fields(options)[0])
	}
	for _, o := range strings.Fields(options) {
		if !hashOption.MatchString(o) {
			if strings.HasPrefix(o, "-") && !strings.HasPrefix(o, "--hash") {
				return optionsReason + optionName(o)
			}
			return fmt.Sprintf("only --hash=<sha256|sha384|sha512>:<hex digest> may follow a requirement, not %s", excerpt(o))
		}
	}

	req, markers, hasMarkers := strings.Cut(spec, ";")
	req = strings.Trim(req, " \t")
	lower := strings.ToLower(req)
	switch {
	case strings.Contains(req, "@"):
		return "direct references (name @ URL) are not allowed (the platform's pip settings choose the index): name the package instead"
	case strings.Contains(req, "://") || strings.HasPrefix(lower, "file:"):
		return "URLs are not allowed (the platform's pip settings choose the index): name the package instead"
	case strings.ContainsAny(req, `/\`) || strings.HasPrefix(req, "."):
		return "local paths are not allowed: name a package of the index instead"
	case hasArchiveExtension(lower):
		return "archive files are not allowed: name a package of the index instead"
	}
	if why := checkSpecifier(req); why != "" {
		return "not a requirement specifier (name[extras] version-specifiers; markers): " + why
	}
	if hasMarkers {
		if why := checkMarkers(markers); why != "" {
			return "not a requirement specifier (name[extras] version-specifiers; markers): " + why
		}
	}
	return ""
}

// hasArchiveExtension is pip's is_archive_file of the requirement, with
// and without trailing [extras] (pip strips them before checking).
func hasArchiveExtension(req string) bool {
	trimmed := req
	if strings.HasSuffix(req, "]") {
		if i := strings.LastIndex(req, "["); i > 0 {
			trimmed = strings.TrimRight(req[:i], " \t")
		}
	}
	for _, ext := range archiveExtensions {
		if strings.HasSuffix(req, ext) || strings.HasSuffix(trimmed, ext) {
			return true
		}
	}
	return false
}

// optionName is an option without its value: --index-url of
// --index-url=https://..., -i of -ihttps://...
func optionName(o string) string {
	if strings.HasPrefix(o, "--") {
		name, _, _ := strings.Cut(o, "=")
		return excerpt(name)
	}
	if len(o) > 2 {
		return o[:2]
	}
	return o
}

// excerpt keeps a refused piece of the file short in a message.
func excerpt(s string) string {
	const n = 40
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// specifierScanner reads a requirement without markers: name, optional
// [extras], optional version specifiers, optionally in parentheses.
type specifierScanner struct {
	s string
	i int
}

func (p *specifierScanner) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *specifierScanner) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

// run consumes bytes matching ok and returns them.
func (p *specifierScanner) run(ok func(byte) bool) string {
	start := p.i
	for p.i < len(p.s) && ok(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *specifierScanner) unexpected(what string) string {
	if p.i >= len(p.s) {
		return "missing " + what
	}
	return fmt.Sprintf("unexpected %q, want %s", excerpt(p.s[p.i:]), what)
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isNameByte(c byte) bool { return isAlnum(c) || c == '.' || c == '_' || c == '-' }

func isVersionByte(c byte) bool {
	return isAlnum(c) || strings.IndexByte("._*+!-", c) >= 0
}

// name reads a PEP 508 name: letters, digits, . _ -, starting and ending
// with a letter or digit.
func (p *specifierScanner) name() bool {
	n := p.run(isNameByte)
	return n != "" && isAlnum(n[0]) && isAlnum(n[len(n)-1])
}

var versionOperators = []string{"===", "~=", "==", "!=", "<=", ">=", "<", ">"}

func (p *specifierScanner) operator() bool {
	for _, op := range versionOperators {
		if strings.HasPrefix(p.s[p.i:], op) {
			p.i += len(op)
			return true
		}
	}
	return false
}

// specifiers reads op version (, op version)*.
func (p *specifierScanner) specifiers() string {
	for {
		p.space()
		if !p.operator() {
			return p.unexpected("a version operator (== != <= >= < > ~= ===)")
		}
		p.space()
		if p.run(isVersionByte) == "" {
			return p.unexpected("a version")
		}
		p.space()
		if p.peek() != ',' {
			return ""
		}
		p.i++
	}
}

func checkSpecifier(req string) string {
	p := &specifierScanner{s: req}
	if !p.name() {
		p.i = 0
		return p.unexpected("a package name")
	}
	p.space()
	if p.peek() == '[' {
		p.i++
		p.space()
		for p.peek() != ']' {
			if !p.name() {
				return p.unexpected("an extra's name")
			}
			p.space()
			if p.peek() == ',' {
				p.i++
				p.space()
			} else if p.peek() != ']' {
				return p.unexpected(`"," or "]"`)
			}
		}
		p.i++
		p.space()
	}
	switch p.peek() {
	case 0:
		return ""
	case '(':
		p.i++
		if why := p.specifiers(); why != "" {
			return why
		}
		if p.peek() != ')' {
			return p.unexpected(`")"`)
		}
		p.i++
	default:
		if why := p.specifiers(); why != "" {
			return why
		}
	}
	p.space()
	if p.i != len(p.s) {
		return p.unexpected("the end of the requirement or \";\"")
	}
	return ""
}

// checkMarkers accepts the tokens of PEP 508 environment markers: names
// (python_version, extra, and, or, in, not, ...), quoted strings,
// comparison operators and parentheses. pip checks the grammar; this only
// keeps out what markers never hold.
func checkMarkers(m string) string {
	p := &specifierScanner{s: m}
	for {
		p.space()
		c := p.peek()
		switch {
		case c == 0:
			return ""
		case c == '(' || c == ')':
			p.i++
		case c == '"' || c == '\'':
			end := strings.IndexByte(m[p.i+1:], c)
			if end < 0 {
				return p.unexpected("a closing quote")
			}
			if strings.ContainsAny(m[p.i+1:p.i+1+end], `\$`) {
				return p.unexpected("a quoted marker value without \\ or $")
			}
			p.i += end + 2
		case isAlnum(c) || c == '_':
			p.run(func(b byte) bool { return isAlnum(b) || b == '_' || b == '.' })
		default:
			if !p.operator() {
				return p.unexpected("an environment marker")
			}
		}
	}
}
