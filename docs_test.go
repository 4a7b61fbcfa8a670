package spawn

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/matryer/is"
)

// TestExportedDocs fails on an exported name without a doc comment in any
// library package of the module (the root and internal/...; commands and
// test files aside): every exported function, method of an exported type,
// type, constant, variable and struct field or interface method of an
// exported type. A constant or variable in a group is documented by the
// group's comment; a spec or a field also by a comment at the end of its
// line. A field is also documented by the comment above the field it
// follows with no blank line (Stdout and Stderr under one comment), or by
// the type's doc comment when that names it. All files are read whatever their build
// constraints, so the check is the same on every platform. staticcheck
// (ST1020-ST1022, see staticcheck.conf) checks that the comments begin with
// the name.
func TestExportedDocs(t *testing.T) {
	is := is.New(t)
	if _, err := os.Stat("doc.go"); err != nil {
		// A test binary run away from the source tree (the kernel matrix's
		// guest has it as init) has nothing to read; go test ./... runs it.
		t.Skipf("no source tree in the working directory: %v", err)
	}
	var missing []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch {
			case path == ".":
			case path == "ci", path == "cmd", path == "testdata", strings.HasPrefix(d.Name(), "."):
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		if f.Name.Name == "main" {
			return nil
		}
		missing = append(missing, undocumented(fset, f)...)
		return nil
	})
	is.NoErr(err) // every Go file of the module parses
	for _, m := range missing {
		t.Errorf("%s has no doc comment", m)
	}
}

// undocumented lists the exported names of f that have no doc comment, as
// "file:line: name".
func undocumented(fset *token.FileSet, f *ast.File) []string {
	var out []string
	miss := func(n ast.Node, name string) {
		out = append(out, fset.Position(n.Pos()).String()+": "+name)
	}
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() {
				continue
			}
			name := d.Name.Name
			if d.Recv != nil {
				recv := receiverType(d.Recv.List[0].Type)
				if !ast.IsExported(recv) {
					continue
				}
				name = recv + "." + name
			}
			if d.Doc == nil {
				miss(d, name)
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					if !s.Name.IsExported() {
						continue
					}
					if s.Doc == nil && s.Comment == nil && d.Doc == nil {
						miss(s, s.Name.Name)
					}
					doc := s.Doc
					if doc == nil {
						doc = d.Doc
					}
					out = append(out, undocumentedMembers(fset, s, doc)...)
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() && s.Doc == nil && s.Comment == nil && d.Doc == nil {
							miss(n, n.Name)
						}
					}
				}
			}
		}
	}
	return out
}

// undocumentedMembers lists the exported fields and interface methods of an
// exported type that no comment documents; doc is the type's doc comment.
func undocumentedMembers(fset *token.FileSet, s *ast.TypeSpec, doc *ast.CommentGroup) []string {
	var list *ast.FieldList
	switch t := s.Type.(type) {
	case *ast.StructType:
		list = t.Fields
	case *ast.InterfaceType:
		list = t.Methods
	default:
		return nil
	}
	var typeDoc []string
	if doc != nil {
		typeDoc = strings.FieldsFunc(doc.Text(), func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_'
		})
	}
	var out []string
	grouped := false // under a doc comment, with no blank line between
	prevLine := 0
	for _, field := range list.List {
		line := fset.Position(field.Pos()).Line
		grouped = field.Doc != nil || (grouped && field.Comment == nil && line == prevLine+1)
		prevLine = fset.Position(field.End()).Line
		if grouped || field.Comment != nil {
			continue
		}
		for _, n := range field.Names {
			if n.IsExported() && !slices.Contains(typeDoc, n.Name) {
				out = append(out, fset.Position(n.Pos()).String()+": "+s.Name.Name+"."+n.Name)
			}
		}
	}
	return out
}

// receiverType is the name of a method's receiver type: T for T, *T, T[P].
func receiverType(e ast.Expr) string {
	for {
		switch t := e.(type) {
		case *ast.StarExpr:
			e = t.X
		case *ast.IndexExpr:
			e = t.X
		case *ast.IndexListExpr:
			e = t.X
		case *ast.Ident:
			return t.Name
		default:
			return ""
		}
	}
}
