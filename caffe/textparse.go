package caffe

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

var utf8BOM = []byte("\xef\xbb\xbf")

// maxTextDepth bounds message nesting in text input. Caffe's deepest real
// nesting (solver > net_param > layer > convolution_param > weight_filler)
// is 5 levels; the bound keeps hostile input from exhausting the stack.
const maxTextDepth = 64

// SyntaxError is a malformed or invalid protobuf text file. Its message reads
// "FILE:LINE:COL: [layer "NAME" (TYPE): ]MSG".
type SyntaxError struct {
	File string // file name as given to the parser
	Line int    // 1-based line
	Col  int    // 1-based byte column
	// Layer describes the layer the error is in, as `layer "conv1"
	// (Convolution)`, or is empty outside layers.
	Layer string
	Msg   string // what was wrong or expected
}

func (e *SyntaxError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s:%d:%d: ", e.File, e.Line, e.Col)
	if e.Layer != "" {
		sb.WriteString(e.Layer)
		sb.WriteString(": ")
	}
	sb.WriteString(e.Msg)
	return sb.String()
}

// UnmarshalText parses protobuf text format into m (which is reset first),
// with the leniency of the C++ TextFormat parser Caffe uses: '#' comments,
// optional ':' before messages, '{}' or '<>' around messages, '[a, b]'
// lists, repeated fields written repeatedly, enums by name or number,
// single- or double-quoted strings with C escapes (adjacent strings are
// joined), integers in decimal, hex or octal, floats with exponents, a
// trailing 'f' or no digits before/after the point, inf/infinity/nan, and
// ',' or ';' after any field. A non-repeated field given twice, an unknown
// field or enum value, a missing required field and values out of range are
// errors. name is used as FILE in error messages.
func UnmarshalText(name string, text []byte, m proto.Message) error {
	proto.Reset(m)
	p := &textParser{file: name, src: text, line: 1, col: 1}
	if bytes.HasPrefix(text, utf8BOM) {
		p.pos = len(utf8BOM) // editors on Windows add one; skip it
	}
	if err := p.next(); err != nil {
		return err
	}
	return p.message(m.ProtoReflect(), 0, 0)
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokInt
	tokFloat
	tokString // text holds the decoded value
	tokSymbol
)

type token struct {
	kind      tokKind
	text      string
	line, col int
	off       int // byte offset of the token's first character
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of file"
	case tokString:
		return "string " + strconv.Quote(t.text)
	default:
		return strconv.Quote(t.text)
	}
}

// layerFrame is an open layer message, for naming the layer in errors.
type layerFrame struct {
	msg protoreflect.Message
	off int // offset just after the layer's opening delimiter
}

type textParser struct {
	file      string
	src       []byte
	pos       int // next unread byte
	line, col int // position of src[pos]
	tok       token
	layers    []layerFrame
}

// errAt returns a SyntaxError at the given position, naming the innermost
// open layer.
func (p *textParser) errAt(line, col int, format string, args ...any) error {
	e := &SyntaxError{File: p.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
	if n := len(p.layers); n > 0 {
		e.Layer = p.describeLayer(p.layers[n-1])
	}
	return e
}

func (p *textParser) errTok(t token, format string, args ...any) error {
	return p.errAt(t.line, t.col, format, args...)
}

// describeLayer names a layer by its name and type fields; when they have
// not been parsed yet it scans ahead in the layer's text for them.
func (p *textParser) describeLayer(f layerFrame) string {
	md := f.msg.Descriptor()
	var name, typ string
	if fd := md.Fields().ByName("name"); fd != nil && f.msg.Has(fd) {
		name = f.msg.Get(fd).String()
	}
	if fd := md.Fields().ByName("type"); fd != nil && f.msg.Has(fd) {
		if fd.Kind() == protoreflect.EnumKind {
			typ = enumName(fd, f.msg.Get(fd).Enum())
		} else {
			typ = f.msg.Get(fd).String()
		}
	}
	if name == "" || typ == "" {
		n, t := scanLayerHeader(p.src, f.off)
		if name == "" {
			name = n
		}
		if typ == "" {
			typ = t
		}
	}
	var sb strings.Builder
	sb.WriteString("layer")
	if name != "" {
		sb.WriteString(" " + strconv.Quote(name))
	}
	if typ != "" {
		sb.WriteString(" (" + typeLabel(typ) + ")")
	}
	return sb.String()
}

// typeLabel returns a layer type for messages: as is when it is printable,
// else quoted, so that messages stay on one line.
func typeLabel(t string) string {
	if q := strconv.Quote(t); q[1:len(q)-1] != t {
		return q
	}
	return t
}

// scanLayerHeader looks for top-level `name: "..."` and `type: ...` fields
// in the layer body starting at off, tolerating any later error.
func scanLayerHeader(src []byte, off int) (name, typ string) {
	s := &textParser{src: src, pos: off, line: 1, col: 1}
	depth := 0
	var prev [2]token
	for {
		if s.next() != nil || s.tok.kind == tokEOF {
			return
		}
		t := s.tok
		if t.kind == tokSymbol {
			switch t.text {
			case "{", "<", "[":
				depth++
			case "}", ">", "]":
				depth--
				if depth < 0 {
					return
				}
			}
		}
		if depth == 0 && prev[0].kind == tokIdent && prev[1].kind == tokSymbol && prev[1].text == ":" &&
			(t.kind == tokString || t.kind == tokIdent) {
			switch prev[0].text {
			case "name":
				if name == "" {
					name = t.text
				}
			case "type":
				if typ == "" {
					typ = t.text
				}
			}
			if name != "" && typ != "" {
				return
			}
		}
		prev[0], prev[1] = prev[1], t
	}
}

func enumName(fd protoreflect.FieldDescriptor, n protoreflect.EnumNumber) string {
	if v := fd.Enum().Values().ByNumber(n); v != nil {
		return string(v.Name())
	}
	return strconv.Itoa(int(n))
}

func isLayerMessage(md protoreflect.MessageDescriptor) bool {
	switch md.FullName() {
	case "caffe.LayerParameter", "caffe.V1LayerParameter", "caffe.V0LayerParameter":
		return true
	}
	return false
}

// message parses fields into m until the closing delimiter end (0: end of
// input).
func (p *textParser) message(m protoreflect.Message, end byte, depth int) error {
	md := m.Descriptor()
	for {
		t := p.tok
		if t.kind == tokEOF {
			if end != 0 {
				return p.errTok(t, "unexpected end of file: expected %q to close %s", string(end), md.Name())
			}
			return p.checkRequired(m, t)
		}
		if t.kind == tokSymbol && end != 0 && t.text == string(end) {
			if err := p.checkRequired(m, t); err != nil {
				return err
			}
			return p.next()
		}
		if t.kind != tokIdent {
			if t.kind == tokSymbol && t.text == "[" {
				return p.errTok(t, "extensions and Any expansions are not supported")
			}
			if t.kind == tokSymbol && (t.text == "}" || t.text == ">") {
				return p.errTok(t, "unexpected %q: no message is open", t.text)
			}
			return p.errTok(t, "expected a field name, found %s", t)
		}
		fd := md.Fields().ByName(protoreflect.Name(t.text))
		if fd == nil {
			return p.errTok(t, "%s", unknownFieldMsg(md, t.text))
		}
		if err := p.next(); err != nil {
			return err
		}
		if err := p.field(m, fd, t, depth); err != nil {
			return err
		}
		if p.tok.kind == tokSymbol && (p.tok.text == ";" || p.tok.text == ",") {
			if err := p.next(); err != nil {
				return err
			}
		}
	}
}

func (p *textParser) checkRequired(m protoreflect.Message, at token) error {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.Cardinality() == protoreflect.Required && !m.Has(fd) {
			return p.errTok(at, "missing required field %q in %s", fd.Name(), m.Descriptor().Name())
		}
	}
	return nil
}

func unknownFieldMsg(md protoreflect.MessageDescriptor, name string) string {
	msg := fmt.Sprintf("unknown field %q in %s", name, md.Name())
	if s := suggestField(md, name); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return msg
}

// suggestField returns the field of md closest to name by edit distance,
// when it is close enough to be a likely typo.
func suggestField(md protoreflect.MessageDescriptor, name string) string {
	best, bestD := "", 1<<30
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		cand := string(fields.Get(i).Name())
		d := editDistance(strings.ToLower(name), cand)
		if strings.ReplaceAll(cand, "_", "") == strings.ToLower(strings.ReplaceAll(name, "_", "")) {
			d = 0
		}
		if d < bestD {
			best, bestD = cand, d
		}
	}
	if bestD <= max(1, len(name)/4) {
		return best
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// field parses the value(s) of fd after its name (nameTok).
func (p *textParser) field(m protoreflect.Message, fd protoreflect.FieldDescriptor, nameTok token, depth int) error {
	if !fd.IsList() && m.Has(fd) {
		return p.errTok(nameTok, "non-repeated field %q is specified more than once", fd.Name())
	}
	isMsg := fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind
	colon := p.isSym(":")
	if colon {
		if err := p.next(); err != nil {
			return err
		}
	} else if !isMsg {
		return p.errTok(p.tok, "expected ':' after field name %q, found %s", fd.Name(), p.tok)
	}
	if p.isSym("[") {
		open := p.tok
		if !fd.IsList() {
			return p.errTok(open, "field %q is not repeated; a [...] list cannot be used", fd.Name())
		}
		if err := p.next(); err != nil {
			return err
		}
		if p.isSym("]") {
			return p.next()
		}
		for {
			if err := p.value(m, fd, depth); err != nil {
				return err
			}
			if p.isSym("]") {
				return p.next()
			}
			if !p.isSym(",") {
				return p.errTok(p.tok, "expected ',' or ']' in the list of %q, found %s", fd.Name(), p.tok)
			}
			if err := p.next(); err != nil {
				return err
			}
		}
	}
	return p.value(m, fd, depth)
}

func (p *textParser) isSym(s string) bool {
	return p.tok.kind == tokSymbol && p.tok.text == s
}

// value parses one value of fd and sets or appends it.
func (p *textParser) value(m protoreflect.Message, fd protoreflect.FieldDescriptor, depth int) error {
	if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
		return p.messageValue(m, fd, depth)
	}
	v, err := p.scalar(fd)
	if err != nil {
		return err
	}
	if fd.IsList() {
		m.Mutable(fd).List().Append(v)
	} else {
		m.Set(fd, v)
	}
	return nil
}

func (p *textParser) messageValue(m protoreflect.Message, fd protoreflect.FieldDescriptor, depth int) error {
	open := p.tok
	var end byte
	switch {
	case p.isSym("{"):
		end = '}'
	case p.isSym("<"):
		end = '>'
	default:
		return p.errTok(open, "expected '{' to open %q (%s), found %s", fd.Name(), fd.Message().Name(), open)
	}
	if depth+1 > maxTextDepth {
		return p.errTok(open, "messages nested more than %d deep", maxTextDepth)
	}
	if err := p.next(); err != nil {
		return err
	}
	var sub protoreflect.Message
	var list protoreflect.List
	var elem protoreflect.Value
	if fd.IsList() {
		list = m.Mutable(fd).List()
		elem = list.NewElement()
		sub = elem.Message()
	} else {
		sub = m.Mutable(fd).Message()
	}
	layer := isLayerMessage(sub.Descriptor())
	if layer {
		p.layers = append(p.layers, layerFrame{msg: sub, off: open.off + 1})
	}
	if err := p.message(sub, end, depth+1); err != nil {
		return err
	}
	if layer {
		p.layers = p.layers[:len(p.layers)-1]
	}
	if list != nil {
		list.Append(elem)
	}
	return nil
}

// scalar parses a non-message value for fd.
func (p *textParser) scalar(fd protoreflect.FieldDescriptor) (protoreflect.Value, error) {
	start := p.tok
	neg := false
	if p.isSym("-") {
		neg = true
		if err := p.next(); err != nil {
			return protoreflect.Value{}, err
		}
	}
	t := p.tok
	bad := func(what string) (protoreflect.Value, error) {
		return protoreflect.Value{}, p.errTok(start, "invalid value for %q: expected %s, found %s", fd.Name(), what, describeValue(neg, t))
	}
	switch fd.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind:
		if neg || t.kind != tokString {
			return bad("a quoted string")
		}
		var sb strings.Builder
		for p.tok.kind == tokString {
			sb.WriteString(p.tok.text)
			if err := p.next(); err != nil {
				return protoreflect.Value{}, err
			}
		}
		if fd.Kind() == protoreflect.BytesKind {
			return protoreflect.ValueOfBytes([]byte(sb.String())), nil
		}
		return protoreflect.ValueOfString(sb.String()), nil

	case protoreflect.BoolKind:
		if neg {
			return bad("true or false")
		}
		var b bool
		switch {
		case t.kind == tokIdent && (t.text == "true" || t.text == "True" || t.text == "t"):
			b = true
		case t.kind == tokIdent && (t.text == "false" || t.text == "False" || t.text == "f"):
		case t.kind == tokInt && (t.text == "1" || t.text == "0"):
			b = t.text == "1"
		default:
			return bad("true or false")
		}
		return protoreflect.ValueOfBool(b), p.next()

	case protoreflect.EnumKind:
		ed := fd.Enum()
		switch t.kind {
		case tokIdent:
			if neg {
				return bad("an enum value")
			}
			v := ed.Values().ByName(protoreflect.Name(t.text))
			if v == nil {
				return protoreflect.Value{}, p.errTok(t, "unknown value %q for enum field %q; expected one of %s", t.text, fd.Name(), enumNames(ed))
			}
			return protoreflect.ValueOfEnum(v.Number()), p.next()
		case tokInt:
			n, ok := parseInt(t.text, neg, 32)
			if !ok || ed.Values().ByNumber(protoreflect.EnumNumber(n)) == nil {
				return protoreflect.Value{}, p.errTok(start, "unknown value %s for enum field %q; expected one of %s", describeValue(neg, t), fd.Name(), enumNames(ed))
			}
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), p.next()
		case tokString:
			if fd.FullName() == "caffe.V1LayerParameter.type" {
				return protoreflect.Value{}, p.errTok(t, "V1 'layers' entries take an enum type such as CONVOLUTION, not the string %q; write V2 layers as 'layer { type: %q }'", t.text, t.text)
			}
		}
		return bad("an enum value")

	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		if t.kind != tokInt {
			return bad("an integer")
		}
		n, ok := parseInt(t.text, neg, 32)
		if !ok {
			return protoreflect.Value{}, p.errTok(start, "value %s out of range for int32 field %q", describeValue(neg, t), fd.Name())
		}
		return protoreflect.ValueOfInt32(int32(n)), p.next()

	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		if t.kind != tokInt {
			return bad("an integer")
		}
		n, ok := parseInt(t.text, neg, 64)
		if !ok {
			return protoreflect.Value{}, p.errTok(start, "value %s out of range for int64 field %q", describeValue(neg, t), fd.Name())
		}
		return protoreflect.ValueOfInt64(n), p.next()

	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		if t.kind != tokInt || neg {
			return bad("a non-negative integer")
		}
		n, ok := parseUint(t.text, 32)
		if !ok {
			return protoreflect.Value{}, p.errTok(start, "value %s out of range for uint32 field %q", t.text, fd.Name())
		}
		return protoreflect.ValueOfUint32(uint32(n)), p.next()

	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if t.kind != tokInt || neg {
			return bad("a non-negative integer")
		}
		n, ok := parseUint(t.text, 64)
		if !ok {
			return protoreflect.Value{}, p.errTok(start, "value %s out of range for uint64 field %q", t.text, fd.Name())
		}
		return protoreflect.ValueOfUint64(n), p.next()

	case protoreflect.FloatKind, protoreflect.DoubleKind:
		var f float64
		switch t.kind {
		case tokFloat:
			s := strings.TrimRight(t.text, "fF")
			v, err := strconv.ParseFloat(s, 64)
			if err != nil && !isRangeErr(err) {
				return bad("a number")
			}
			f = v
		case tokInt:
			if len(t.text) > 1 && (t.text[1] == 'x' || t.text[1] == 'X') {
				return bad("a decimal number")
			}
			u, ok := parseUint(t.text, 64)
			switch {
			case ok:
				f = float64(u)
			case t.text[0] != '0':
				// Decimal integers too long for uint64 are still numbers.
				v, err := strconv.ParseFloat(t.text, 64)
				if err != nil && !isRangeErr(err) {
					return bad("a number")
				}
				f = v
			default:
				return bad("a number")
			}
		case tokIdent:
			switch strings.ToLower(t.text) {
			case "inf", "infinity":
				f = math.Inf(1)
			case "nan":
				f = math.NaN()
			default:
				return bad("a number")
			}
		default:
			return bad("a number")
		}
		if neg {
			f = -f
		}
		if fd.Kind() == protoreflect.FloatKind {
			return protoreflect.ValueOfFloat32(float32(f)), p.next()
		}
		return protoreflect.ValueOfFloat64(f), p.next()
	}
	return protoreflect.Value{}, p.errTok(start, "field %q has unsupported kind %v", fd.Name(), fd.Kind())
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func describeValue(neg bool, t token) string {
	if neg {
		if t.kind == tokEOF {
			return "'-' then end of file"
		}
		return strconv.Quote("-" + t.text)
	}
	return t.String()
}

func enumNames(ed protoreflect.EnumDescriptor) string {
	vals := ed.Values()
	names := make([]string, vals.Len())
	for i := range names {
		names[i] = string(vals.Get(i).Name())
	}
	return strings.Join(names, ", ")
}

// parseUint parses a decimal, 0x-hex or 0-octal integer that fits in bits.
func parseUint(s string, bits int) (uint64, bool) {
	base := 10
	switch {
	case len(s) > 2 && (s[1] == 'x' || s[1] == 'X'):
		base, s = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, s = 8, s[1:]
	}
	n, err := strconv.ParseUint(s, base, bits)
	return n, err == nil
}

// parseInt parses an integer token with an optional preceding '-' into a
// signed value of the given width.
func parseInt(s string, neg bool, bits int) (int64, bool) {
	u, ok := parseUint(s, 64)
	if !ok {
		return 0, false
	}
	limit := uint64(1) << (bits - 1)
	if neg {
		if u > limit {
			return 0, false
		}
		return -int64(u-1) - 1, true
	}
	if u >= limit {
		return 0, false
	}
	return int64(u), true
}

// next reads the following token into p.tok.
func (p *textParser) next() error {
	src := p.src
	// Skip whitespace and comments.
	for p.pos < len(src) {
		c := src[p.pos]
		switch {
		case c == '\n':
			p.pos++
			p.line++
			p.col = 1
		case c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f':
			p.pos++
			p.col++
		case c == '#':
			for p.pos < len(src) && src[p.pos] != '\n' {
				p.pos++
				p.col++
			}
		default:
			goto token
		}
	}
	p.tok = token{kind: tokEOF, line: p.line, col: p.col, off: p.pos}
	return nil

token:
	start, line, col := p.pos, p.line, p.col
	c := src[p.pos]
	tok := token{line: line, col: col, off: start}
	switch {
	case isLetter(c):
		for p.pos < len(src) && (isLetter(src[p.pos]) || isDigit(src[p.pos])) {
			p.pos++
		}
		tok.kind, tok.text = tokIdent, string(src[start:p.pos])
	case isDigit(c) || c == '.' && p.pos+1 < len(src) && isDigit(src[p.pos+1]):
		kind, err := p.number()
		if err != nil {
			return err
		}
		tok.kind, tok.text = kind, string(src[start:p.pos])
	case c == '"' || c == '\'':
		s, err := p.quoted()
		if err != nil {
			return err
		}
		tok.kind, tok.text = tokString, s
		p.col = col + (p.pos - start)
		p.tok = tok
		return nil
	case c < utf8.RuneSelf:
		p.pos++
		tok.kind, tok.text = tokSymbol, string(c)
	default:
		r, size := utf8.DecodeRune(src[p.pos:])
		if r == utf8.RuneError {
			return p.errAt(line, col, "invalid byte 0x%02x", c)
		}
		return p.errAt(line, col, "unexpected character %q", string(src[p.pos:p.pos+size]))
	}
	p.col = col + (p.pos - start)
	p.tok = tok
	return nil
}

func isLetter(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isHex(c byte) bool    { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// number scans an integer or floating-point literal at p.pos.
func (p *textParser) number() (tokKind, error) {
	src, start := p.src, p.pos
	kind := tokInt
	if src[p.pos] == '0' && p.pos+1 < len(src) && (src[p.pos+1] == 'x' || src[p.pos+1] == 'X') {
		p.pos += 2
		for p.pos < len(src) && isHex(src[p.pos]) {
			p.pos++
		}
		if p.pos == start+2 {
			return 0, p.errAt(p.line, p.col, "%q must be followed by hex digits", string(src[start:p.pos]))
		}
	} else {
		for p.pos < len(src) && isDigit(src[p.pos]) {
			p.pos++
		}
		if p.pos < len(src) && src[p.pos] == '.' {
			kind = tokFloat
			p.pos++
			for p.pos < len(src) && isDigit(src[p.pos]) {
				p.pos++
			}
		}
		if p.pos < len(src) && (src[p.pos] == 'e' || src[p.pos] == 'E') {
			kind = tokFloat
			p.pos++
			if p.pos < len(src) && (src[p.pos] == '+' || src[p.pos] == '-') {
				p.pos++
			}
			d := p.pos
			for p.pos < len(src) && isDigit(src[p.pos]) {
				p.pos++
			}
			if p.pos == d {
				return 0, p.errAt(p.line, p.col, "exponent in %q has no digits", string(src[start:p.pos]))
			}
		}
		if p.pos < len(src) && (src[p.pos] == 'f' || src[p.pos] == 'F') {
			kind = tokFloat
			p.pos++
		}
		if kind == tokInt && src[start] == '0' {
			for _, c := range src[start+1 : p.pos] {
				if c > '7' {
					return 0, p.errAt(p.line, p.col, "invalid octal number %q", string(src[start:p.pos]))
				}
			}
		}
	}
	if p.pos < len(src) && (isLetter(src[p.pos]) || isDigit(src[p.pos]) || src[p.pos] == '.') {
		return 0, p.errAt(p.line, p.col, "malformed number %q: need space between a number and what follows", string(src[start:p.pos+1]))
	}
	return kind, nil
}

// quoted scans a quoted string at p.pos and returns its decoded value.
func (p *textParser) quoted() (string, error) {
	src := p.src
	q := src[p.pos]
	line, col := p.line, p.col
	i := p.pos + 1
	var sb strings.Builder
	for {
		if i >= len(src) || src[i] == '\n' {
			return "", p.errAt(line, col, "string literal is not terminated on its line")
		}
		c := src[i]
		if c == q {
			p.pos = i + 1
			return sb.String(), nil
		}
		if c != '\\' {
			sb.WriteByte(c)
			i++
			continue
		}
		ecol := col + (i - p.pos)
		i++
		if i >= len(src) || src[i] == '\n' {
			return "", p.errAt(line, col, "string literal is not terminated on its line")
		}
		e := src[i]
		i++
		switch e {
		case 'n':
			sb.WriteByte('\n')
		case 't':
			sb.WriteByte('\t')
		case 'r':
			sb.WriteByte('\r')
		case 'a':
			sb.WriteByte('\a')
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'v':
			sb.WriteByte('\v')
		case '\\', '\'', '"', '?':
			sb.WriteByte(e)
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(e - '0')
			for k := 0; k < 2 && i < len(src) && '0' <= src[i] && src[i] <= '7'; k++ {
				v = v*8 + int(src[i]-'0')
				i++
			}
			if v > 0xff {
				return "", p.errAt(line, ecol, "octal escape \\%o is larger than a byte", v)
			}
			sb.WriteByte(byte(v))
		case 'x', 'X':
			v, n := 0, 0
			for n < 2 && i < len(src) && isHex(src[i]) {
				v = v*16 + hexVal(src[i])
				i++
				n++
			}
			if n == 0 {
				return "", p.errAt(line, ecol, "\\x escape without hex digits")
			}
			sb.WriteByte(byte(v))
		case 'u', 'U':
			n := 4
			if e == 'U' {
				n = 8
			}
			if i+n > len(src) {
				return "", p.errAt(line, ecol, "\\%c escape needs %d hex digits", e, n)
			}
			v := 0
			for _, h := range src[i : i+n] {
				if !isHex(h) {
					return "", p.errAt(line, ecol, "\\%c escape needs %d hex digits", e, n)
				}
				v = v*16 + hexVal(h)
			}
			i += n
			if v > utf8.MaxRune || 0xD800 <= v && v < 0xE000 {
				return "", p.errAt(line, ecol, "\\%c escape is not a valid code point", e)
			}
			sb.WriteRune(rune(v))
		default:
			if e < 0x20 || e >= 0x7f {
				return "", p.errAt(line, ecol, "invalid escape sequence: backslash before byte 0x%02x in string", e)
			}
			return "", p.errAt(line, ecol, "invalid escape sequence \\%c in string", e)
		}
	}
}

func hexVal(c byte) int {
	switch {
	case isDigit(c):
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	default:
		return int(c-'A') + 10
	}
}
