package cli

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// exampleCommands returns every "kheaders CMD ..." command line in text
// (examples, $(kheaders ...) substitutions), split into words as a shell
// would, up to the first unquoted |, ;, &, ), # or newline. Other command
// substitutions ($(uname -r)) become the word R.
func exampleCommands(text string) [][]string {
	other := regexp.MustCompile(`\$\((?:[^()k]|k[^h])[^()]*\)`)
	text = other.ReplaceAllString(text, "R")
	var out [][]string
	start := regexp.MustCompile(`(?m)(^\s*|\$\(|[\s;|]|=\$\()kheaders `)
	for _, m := range start.FindAllStringIndex(text, -1) {
		rest := text[m[1]:]
		var words []string
		var w strings.Builder
		inWord := false
		quote := byte(0)
	scan:
		for i := 0; i < len(rest); i++ {
			ch := rest[i]
			switch {
			case quote != 0:
				if ch == quote {
					quote = 0
				} else {
					w.WriteByte(ch)
				}
			case ch == '\'' || ch == '"':
				quote, inWord = ch, true
			case ch == ' ' || ch == '\t':
				if inWord {
					words = append(words, w.String())
					w.Reset()
					inWord = false
				}
			case strings.IndexByte("|;&)#\n", ch) >= 0:
				break scan
			default:
				w.WriteByte(ch)
				inWord = true
			}
		}
		if inWord {
			words = append(words, w.String())
		}
		if len(words) > 0 {
			out = append(out, words)
		}
	}
	return out
}

// TestHelpExamples parses every example command line of the help texts:
// each names a command and its flags parse (the line run with --help
// before any "--" exits 0 with the command's help).
func TestHelpExamples(t *testing.T) {
	var buf bytes.Buffer
	printHelp(&buf)
	texts := map[string]string{"help": buf.String()}
	for name, c := range commands {
		texts[name] = c.Usage
	}
	n := 0
	for name, text := range texts {
		for _, words := range exampleCommands(text) {
			if _, ok := commands[words[0]]; !ok {
				continue // prose ("kheaders gives ..."), not a command line
			}
			args := words
			if i := indexOf(words, "--"); i >= 0 {
				args = append(append(append([]string{}, words[:i]...), "--help"), words[i:]...)
			} else {
				args = append(append([]string{}, words...), "--help")
			}
			if words[0] == "cache" && len(words) > 1 {
				args = append([]string{"cache", words[1], "--help"}, words[2:]...)
			}
			var out, errb bytes.Buffer
			code := Main(context.Background(), &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, args)
			if code != 0 || out.Len() == 0 {
				t.Errorf("help of %s: example kheaders %s: flags do not parse: exit %d, %s", name, strings.Join(words, " "), code, errb.String())
			}
			n++
			t.Logf("%s: kheaders %q", name, words)
		}
	}
	if n < 20 {
		t.Errorf("found %d example command lines in the help texts, want at least 20 (the extraction is broken)", n)
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
