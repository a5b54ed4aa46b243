package cstrip

import "bytes"

// Options tune Strip. The zero value is the default used by kheaders pack.
type Options struct {
	// KeepLines keeps the line structure: a removed comment that spans
	// lines leaves its line breaks behind, and lines that only held a
	// comment stay as empty lines, so compiler diagnostics point at the
	// original lines. Without it such lines are removed. The breaks of a
	// comment in the middle of a logical line become line splices ("\"
	// and a newline), so the logical line goes on (a directive stays one
	// directive, a '#' after the comment starts none); the output can
	// then be longer than the input.
	KeepLines bool
}

// Strip removes C comments from src with the default options.
func Strip(src []byte) []byte { return Options{}.Strip(src) }

// splice reports the length of a line splice (backslash, optional blanks,
// newline) at src[i:], or 0. GCC and clang accept blanks between the
// backslash and the newline (with a warning), so this does too.
func splice(src []byte, i int) int {
	if i >= len(src) || src[i] != '\\' {
		return 0
	}
	j := i + 1
	for j < len(src) && (src[j] == ' ' || src[j] == '\t' || src[j] == '\r' || src[j] == '\f' || src[j] == '\v') {
		j++
	}
	if j < len(src) && src[j] == '\n' {
		return j + 1 - i
	}
	return 0
}

// next returns the logical character at src[i:] after line splices, its
// position and the position after it. At the end it returns c = 0, p = len(src).
func next(src []byte, i int) (c byte, p, j int) {
	for {
		n := splice(src, i)
		if n == 0 {
			break
		}
		i += n
	}
	if i >= len(src) {
		return 0, len(src), len(src)
	}
	return src[i], i, i + 1
}

func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'
}

func isSpace(c byte) bool { return isBlank(c) || c == '\n' }

func isIdent(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// scanLiteral returns the end of the string or character literal whose
// opening quote is at src[i]. An unescaped newline ends it unterminated (as
// in GCC); the newline is not part of it.
func scanLiteral(src []byte, i int) int {
	q := src[i]
	_, _, j := next(src, i)
	for {
		c, p, k := next(src, j)
		switch {
		case p >= len(src), c == '\n':
			return p
		case c == q:
			return k
		case c == '\\':
			_, _, j = next(src, k)
			if j > len(src) {
				return len(src)
			}
		default:
			j = k
		}
	}
}

// scanBlock returns the end of the block comment opened at src[i] (after the
// "*/"), or -1 when it is not terminated.
func scanBlock(src []byte, i int) int {
	_, _, j := next(src, i)
	_, _, j = next(src, j) // past "/*"
	for {
		c, p, k := next(src, j)
		if p >= len(src) {
			return -1
		}
		if c == '*' {
			if c2, _, k2 := next(src, k); c2 == '/' {
				return k2
			}
		}
		j = k
	}
}

// scanLine returns the end of the // comment opened at src[i]: the position
// of the newline that ends its logical line, or len(src).
func scanLine(src []byte, i int) int {
	j := i
	for {
		c, p, k := next(src, j)
		if p >= len(src) || c == '\n' {
			return p
		}
		j = k
	}
}

// lexer walks src at the level of translation phase 3 (after splices) and
// reports, for each piece of text, whether it is a comment.
type lexer struct {
	src []byte
	i   int
	// lineStart: only blanks (or comments) since the start of the logical line.
	lineStart bool
	// directive: the logical line is a preprocessor directive; include:
	// it is #include / #include_next / #import, where <...> is a header name.
	directive, include bool
	// afterHash: the directive name is the next token.
	afterHash bool
}

type kind int

const (
	kEOF kind = iota
	kText
	kBlock
	kLine
	kNewline
)

// piece returns the next piece [p, q) of src and its kind. kText pieces are
// single tokens, literals or blank runs; comments are whole.
func (l *lexer) piece() (k kind, p, q int) {
	src := l.src
	c, p, j := next(src, l.i)
	if p >= len(src) {
		// Trailing splices are returned with kEOF.
		start := l.i
		l.i = len(src)
		return kEOF, start, len(src)
	}
	// A piece starts at l.i so that splices before it belong to it.
	start := l.i
	switch {
	case c == '\n':
		l.i = j
		l.lineStart, l.directive, l.include, l.afterHash = true, false, false, false
		return kNewline, start, j
	case c == '/':
		c2, _, _ := next(src, j)
		if c2 == '*' {
			e := scanBlock(src, p)
			if e < 0 {
				l.i = len(src)
				return kText, start, len(src)
			}
			l.i = e
			return kBlock, start, e
		}
		if c2 == '/' {
			e := scanLine(src, p)
			l.i = e
			return kLine, start, e
		}
	case c == '"' || c == '\'':
		e := scanLiteral(src, p)
		l.i = e
		l.lineStart, l.afterHash = false, false
		return kText, start, e
	case c == '<' && l.include:
		e := j
		for {
			c3, p3, k3 := next(src, e)
			if p3 >= len(src) || c3 == '\n' {
				e = p3
				break
			}
			e = k3
			if c3 == '>' {
				break
			}
		}
		l.i = e
		l.include = false
		return kText, start, e
	case isBlank(c):
		e := j
		for {
			c3, p3, k3 := next(src, e)
			if p3 >= len(src) || !isBlank(c3) {
				break
			}
			e = k3
		}
		l.i = e
		return kText, start, e
	case c == '#' && l.lineStart:
		l.i = j
		l.lineStart, l.directive, l.afterHash = false, true, true
		return kText, start, j
	case isIdent(c):
		e := j
		for {
			// Fast path: plain identifier characters, no splice.
			for e < len(src) && isIdent(src[e]) {
				e++
			}
			c3, p3, k3 := next(src, e)
			if p3 >= len(src) || !isIdent(c3) {
				break
			}
			e = k3
		}
		if l.afterHash {
			s := string(unsplice(src[p:e]))
			l.include = s == "include" || s == "include_next" || s == "import"
		}
		l.i = e
		l.lineStart, l.afterHash = false, false
		return kText, start, e
	}
	l.i = j
	l.lineStart, l.afterHash = false, false
	return kText, start, j
}

// Strip removes C comments from src: /* */ and // comments, except comments
// that contain "SPDX" (license identifiers), which are kept whole. Text in
// string and character literals and in #include <...> header names is never
// touched; line splices are understood everywhere. A removed comment becomes
// one space when it separated two non-blank characters, so no tokens are
// pasted together and the preprocessing-token stream (tokens and whether
// blanks precede them) is unchanged; otherwise it becomes nothing, and blanks
// it leaves at the end of a line are dropped. An unterminated comment is
// kept. The result shares no memory with src.
func (o Options) Strip(src []byte) []byte {
	out := make([]byte, 0, len(src))
	l := lexer{src: src, lineStart: true}
	// dropNL: a comment was removed right before the end of the line; if
	// the line is now empty its newline goes too (without KeepLines).
	dropNL := false
	for {
		k, p, q := l.piece()
		switch k {
		case kEOF:
			return append(out, src[p:q]...)
		case kNewline:
			if dropNL && !o.KeepLines && q-p == 1 && emptyLine(out) {
				dropNL = false
				continue
			}
			out = append(out, src[p:q]...)
			dropNL = false
			continue
		case kText:
			out = append(out, src[p:q]...)
			continue
		}
		// Leading splices of the piece stay.
		_, cp, _ := next(src, p)
		out = append(out, src[p:cp]...)
		text := src[cp:q]
		if bytes.Contains(text, spdx) {
			out = append(out, text...)
			continue
		}
		nc, np, _ := next(src, q)
		nextBlank := np >= len(src) || isSpace(nc)
		eol := np >= len(src) || nc == '\n'
		if eol && endsWithBackslash(out) {
			// Removing the comment would turn "\ /*c*/" + newline into a
			// line splice: keep it.
			out = append(out, text...)
			continue
		}
		prevBlank := prevIsBlank(out)
		nl := bytes.Count(text, []byte{'\n'})
		if o.KeepLines && nl > 0 {
			// Line breaks are kept as they are when the comment starts
			// its logical line or ends it. Otherwise (or when it holds
			// line splices, or is a spliced // comment) the logical line
			// must go on: line splices.
			if k == kLine || hasSplice(text) || !(eol || l.lineStart) {
				if !prevBlank && !nextBlank {
					out = append(out, ' ')
				}
				for range nl {
					out = append(out, '\\', '\n')
				}
			} else {
				for range nl {
					out = append(out, '\n')
				}
			}
			continue
		}
		if !prevBlank && !nextBlank {
			out = append(out, ' ')
			continue
		}
		if nextBlank && !eol && len(out) > 0 && isBlank(out[len(out)-1]) {
			// Blanks on both sides: keep only those after the comment.
			out = trimBlanks(out)
			continue
		}
		if eol {
			// Only the end of the line follows: drop the blanks before the
			// comment (unless a backslash precedes them: that would make
			// a splice).
			out = trimBlanks(out)
			dropNL = true
		}
	}
}

// emptyLine reports whether the last physical line of out is empty and is
// not the continuation of a spliced line.
func emptyLine(out []byte) bool {
	if len(out) == 0 {
		return true
	}
	return out[len(out)-1] == '\n' && !endsWithBackslash(out[:len(out)-1])
}

// prevIsBlank reports whether the last logical character of out (skipping
// line splices) is white space, or out is empty.
func prevIsBlank(out []byte) bool {
	for {
		n := len(out)
		if n == 0 {
			return true
		}
		if out[n-1] != '\n' {
			return isSpace(out[n-1])
		}
		m := n - 1
		for m > 0 && isBlank(out[m-1]) {
			m--
		}
		if m == 0 || out[m-1] != '\\' {
			return true // a real newline
		}
		out = out[:m-1]
	}
}

func hasSplice(b []byte) bool {
	for i := bytes.IndexByte(b, '\\'); i >= 0 && i < len(b); i++ {
		if splice(b, i) > 0 {
			return true
		}
	}
	return false
}

// trimBlanks removes trailing blanks from out unless that would leave a
// backslash at the end.
func trimBlanks(out []byte) []byte {
	n := len(out)
	for n > 0 && isBlank(out[n-1]) {
		n--
	}
	if n > 0 && out[n-1] == '\\' {
		return out
	}
	return out[:n]
}

// endsWithBackslash reports whether out ends with a backslash and blanks.
func endsWithBackslash(out []byte) bool {
	n := len(out)
	for n > 0 && isBlank(out[n-1]) {
		n--
	}
	return n > 0 && out[n-1] == '\\'
}
