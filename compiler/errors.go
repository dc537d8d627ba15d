package compiler

import (
	"fmt"
	"sort"
	"strings"

	"github.com/vaec/vaec/internal/termtext"
)

// Error is one problem found in a spec, reported at a position.
type Error struct {
	Pos  Pos
	Path string // key path, e.g. "encoder[1].activation"; "" for the document
	Msg  string
	Hint string // e.g. `did you mean "relu"?`; printed in parentheses
	// Suppressed, when positive, makes this entry stand for that many
	// problems past the recording cap, from Pos on; it prints as a count.
	Suppressed int
}

// Error formats e as `file:line:col: path: msg (hint)`. Control characters
// from the spec (an ESC in a key) are escaped, so that printing the
// message cannot drive the terminal.
func (e *Error) Error() string {
	if e.Suppressed > 0 {
		return termtext.Escape(fmt.Sprintf("%s: %d more problems from here on were not recorded", e.Pos, e.Suppressed))
	}
	var b strings.Builder
	b.WriteString(e.Pos.String())
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return termtext.Escape(b.String())
}

// ErrorList is every problem found in one spec. Compile returns it sorted
// by position and without duplicates.
type ErrorList []*Error

// MaxPrinted is how many problems ErrorList.Error prints before saying
// how many more there are.
const MaxPrinted = 50

// Error prints one problem per line, the first MaxPrinted of them, then
// how many more were suppressed.
func (l ErrorList) Error() string {
	var lines []string
	more := 0
	for _, e := range l {
		switch {
		case e.Suppressed > 0:
			more += e.Suppressed
		case len(lines) < MaxPrinted:
			lines = append(lines, e.Error())
		default:
			more++
		}
	}
	if more > 0 {
		lines = append(lines, fmt.Sprintf("... %d more problems suppressed (fix the ones above first)", more))
	}
	return strings.Join(lines, "\n")
}

// Sort orders l by file, line, column, then path and message, so that
// output is stable whatever order the checks ran in.
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.Pos.File != b.Pos.File {
			return a.Pos.File < b.Pos.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Col != b.Pos.Col {
			return a.Pos.Col < b.Pos.Col
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Msg < b.Msg
	})
}

// normalize sorts l and drops exact repeats (the same problem can be found
// by two checks, e.g. through a YAML alias used twice).
func (l ErrorList) normalize() ErrorList {
	l.Sort()
	out := l[:0]
	for i, e := range l {
		if i > 0 && *e == *l[i-1] {
			continue
		}
		out = append(out, e)
	}
	return out
}

// Err returns l as an error, or nil when l is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// suggest returns the candidate closest to word when it is close enough to
// be a likely typo, else "".
func suggest(word string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(word), strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	// Allow about one edit per three letters: "rleu"→"relu" yes, "foo"→"elu" no.
	limit := 1 + len(word)/4
	if bestD < 0 || bestD > limit || bestD >= len(word) {
		return ""
	}
	return best
}

// didYouMean returns a hint naming the closest candidate, or "".
func didYouMean(word string, candidates []string) string {
	if s := suggest(word, candidates); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	return ""
}

// editDistance is the optimal-string-alignment distance: insertions,
// deletions, substitutions and transpositions of neighbours each cost 1,
// so the common typo of swapped letters counts as one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Long inputs cannot be typos of short keywords; bound the work.
	if len(ra) > 64 || len(rb) > 64 {
		if len(ra) > len(rb) {
			return len(ra)
		}
		return len(rb)
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// Suggest returns the candidate closest to word when it is close enough to
// be a likely typo, else "": the rule spec keys use, for the command line
// to reuse on flags.
func Suggest(word string, candidates []string) string { return suggest(word, candidates) }
