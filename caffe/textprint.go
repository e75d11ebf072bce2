package caffe

import (
	"bytes"
	"math"
	"sort"
	"strconv"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// MarshalText formats m in protobuf text format the way Caffe's C++
// TextFormat printer does: fields in field-number order, two-space indent,
// "name {" for messages, enums by name, floats in their shortest %g form
// that reads back exactly, strings C-escaped. Unknown fields (from binary
// input with fields this schema lacks) are not printed.
//
// The output is stable: the same message always prints the same bytes.
func MarshalText(m proto.Message) []byte {
	var buf bytes.Buffer
	printMessage(&buf, m.ProtoReflect(), 0)
	return buf.Bytes()
}

func printMessage(buf *bytes.Buffer, m protoreflect.Message, indent int) {
	var fields []protoreflect.FieldDescriptor
	m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		fields = append(fields, fd)
		return true
	})
	sort.Slice(fields, func(i, j int) bool { return fields[i].Number() < fields[j].Number() })
	for _, fd := range fields {
		v := m.Get(fd)
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				printField(buf, fd, l.Get(i), indent)
			}
			continue
		}
		printField(buf, fd, v, indent)
	}
}

func printField(buf *bytes.Buffer, fd protoreflect.FieldDescriptor, v protoreflect.Value, indent int) {
	writeIndent(buf, indent)
	buf.WriteString(string(fd.Name()))
	if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
		buf.WriteString(" {\n")
		printMessage(buf, v.Message(), indent+1)
		writeIndent(buf, indent)
		buf.WriteString("}\n")
		return
	}
	buf.WriteString(": ")
	switch fd.Kind() {
	case protoreflect.StringKind:
		writeQuoted(buf, []byte(v.String()))
	case protoreflect.BytesKind:
		writeQuoted(buf, v.Bytes())
	case protoreflect.EnumKind:
		buf.WriteString(enumName(fd, v.Enum()))
	case protoreflect.BoolKind:
		buf.WriteString(strconv.FormatBool(v.Bool()))
	case protoreflect.FloatKind:
		buf.WriteString(FormatFloat32(float32(v.Float())))
	case protoreflect.DoubleKind:
		buf.WriteString(formatFloat(v.Float(), 64))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		buf.WriteString(strconv.FormatInt(v.Int(), 10))
	default:
		buf.WriteString(strconv.FormatUint(v.Uint(), 10))
	}
	buf.WriteByte('\n')
}

func writeIndent(buf *bytes.Buffer, n int) {
	for range n {
		buf.WriteString("  ")
	}
}

// FormatFloat32 formats f as Caffe's text output does (C++ SimpleFtoa): %g
// with 6 significant digits, or 9 when 6 do not read back exactly; inf,
// -inf and nan for the special values.
func FormatFloat32(f float32) string { return formatFloat(float64(f), 32) }

func formatFloat(f float64, bits int) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	short, long := 6, 9 // FLT_DIG, FLT_DIG+3
	if bits == 64 {
		short, long = 15, 17 // DBL_DIG, DBL_DIG+2
	}
	s := strconv.FormatFloat(f, 'g', short, bits)
	if back, err := strconv.ParseFloat(s, bits); err != nil || back != f {
		s = strconv.FormatFloat(f, 'g', long, bits)
	}
	return s
}

// writeQuoted writes s double-quoted with C escapes, as C++ CEscape: \n \r
// \t \" \' \\ and three-digit octal for every other byte outside printable
// ASCII.
func writeQuoted(buf *bytes.Buffer, s []byte) {
	buf.WriteByte('"')
	for _, c := range s {
		switch c {
		case '\n':
			buf.WriteString(`\n`)
		case '\r':
			buf.WriteString(`\r`)
		case '\t':
			buf.WriteString(`\t`)
		case '"':
			buf.WriteString(`\"`)
		case '\'':
			buf.WriteString(`\'`)
		case '\\':
			buf.WriteString(`\\`)
		default:
			if c < 0x20 || c >= 0x7f {
				buf.WriteByte('\\')
				buf.WriteByte('0' + c>>6)
				buf.WriteByte('0' + c>>3&7)
				buf.WriteByte('0' + c&7)
			} else {
				buf.WriteByte(c)
			}
		}
	}
	buf.WriteByte('"')
}
