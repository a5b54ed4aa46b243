package cstrip

import (
	"bytes"
	"fmt"
)

// Token is one preprocessing token as the C preprocessor sees it after
// translation phase 3: comments are white space, line splices are gone.
type Token struct {
	Text  string // the token, splices removed
	Space bool   // white space or a comment precedes it on its logical line (never set when BOL)
	BOL   bool   // first token of its logical line
	Line  int    // physical line (1-based) where it starts
}

// Tokens splits src into preprocessing tokens. Identifiers and numbers are
// maximal runs of identifier characters, literals and #include header names
// are whole, every other character is a token of its own (so two punctuators
// pasted together show up as a change of Space). An unterminated comment is
// one token.
func Tokens(src []byte) []Token {
	var toks []Token
	l := lexer{src: src, lineStart: true}
	space, bol := false, true
	line, at := 1, 0
	for {
		k, p, q := l.piece()
		if k == kEOF {
			return toks
		}
		switch k {
		case kNewline:
			space, bol = false, true
			continue
		case kBlock, kLine:
			space = true
			continue
		}
		_, cp, _ := next(src, p)
		if isBlank(src[cp]) {
			space = true
			continue
		}
		line += bytes.Count(src[at:cp], []byte{'\n'})
		at = cp
		// White space before the first token of a logical line has no
		// effect on preprocessing or compilation.
		toks = append(toks, Token{Text: string(unsplice(src[cp:q])), Space: space && !bol, BOL: bol, Line: line})
		space, bol = false, false
	}
}

// unsplice removes line splices from b.
func unsplice(b []byte) []byte {
	if bytes.IndexByte(b, '\\') < 0 {
		return b
	}
	var out []byte
	for i := 0; i < len(b); {
		if n := splice(b, i); n > 0 {
			i += n
			continue
		}
		out = append(out, b[i])
		i++
	}
	return out
}

// SameTokens compares the token streams of a and b (see Tokens) and
// describes the first difference; "" means they are the same. With lines,
// tokens must also start on the same physical lines.
func SameTokens(a, b []byte, lines bool) string {
	ta, tb := Tokens(a), Tokens(b)
	for i := 0; i < len(ta) && i < len(tb); i++ {
		x, y := ta[i], tb[i]
		if !lines {
			x.Line, y.Line = 0, 0
		}
		if x != y {
			return fmt.Sprintf("token %d: %+v became %+v", i, ta[i], tb[i])
		}
	}
	if len(ta) != len(tb) {
		return fmt.Sprintf("%d tokens became %d", len(ta), len(tb))
	}
	return ""
}

// Comments counts the comments Strip would remove from src: block (/* */)
// and line (//) comments, SPDX ones excluded.
func Comments(src []byte) (block, line int) {
	l := lexer{src: src, lineStart: true}
	for {
		k, p, q := l.piece()
		switch k {
		case kEOF:
			return block, line
		case kBlock, kLine:
			if bytes.Contains(src[p:q], spdx) {
				continue
			}
			if k == kBlock {
				block++
			} else {
				line++
			}
		}
	}
}
