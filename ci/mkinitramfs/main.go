// Command mkinitramfs writes a Linux initramfs: a cpio archive in the
// "newc" format (optionally gzip-compressed) built from a list of entries
// given on the command line. It needs no cpio(1), no fakeroot and no
// special privileges: every entry is owned by root and has mtime 0, so the
// output only depends on the arguments and the host files' contents and
// permission bits.
//
// Usage:
//
//	mkinitramfs -o OUT [-z] ENTRY...
//
// Entries (GUEST is an absolute path inside the archive):
//
//	GUEST=HOST              regular file with the contents and permission
//	                        bits of the host file HOST (symlinks followed)
//	file:GUEST=HOST         the same, spelled out
//	dir:GUEST[=MODE]        directory, octal MODE (default 0755)
//	link:GUEST=TARGET       symbolic link to TARGET
//	dev:GUEST=c,MAJ,MIN[,MODE]  character (c) or block (b) device node
//	                        (default mode 0600)
//	tree:GUEST=HOSTDIR      the directory HOSTDIR with everything under it
//	                        (directories, regular files, symlinks)
//
// Missing parent directories are created with mode 0755. Directories are
// written first, parents before children, so the kernel's unpacker (which
// does not create parents) accepts the archive.
package main

import (
	"bufio"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// File type bits of st_mode, as used in cpio headers.
const (
	sIFDIR  = 0o040000
	sIFREG  = 0o100000
	sIFLNK  = 0o120000
	sIFCHR  = 0o020000
	sIFBLK  = 0o060000
	permMax = 0o7777
)

type entry struct {
	name     string // archive path without leading slash
	mode     uint32 // type and permission bits
	host     string // for regular files: host path to copy from
	target   string // for symlinks
	rmajor   uint32 // for device nodes
	rminor   uint32
	explicit bool // directory given on the command line (vs. implied parent)
}

func main() {
	out := flag.String("o", "", "output `file` (required)")
	gz := flag.Bool("z", false, "gzip-compress the archive")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: mkinitramfs -o OUT [-z] ENTRY...\n"+
			"entries: GUEST=HOST | file:GUEST=HOST | dir:GUEST[=MODE] | link:GUEST=TARGET |\n"+
			"         dev:GUEST=c|b,MAJ,MIN[,MODE] | tree:GUEST=HOSTDIR\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	entries, err := parseEntries(flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkinitramfs:", err)
		os.Exit(2)
	}
	if err := writeFile(*out, *gz, entries); err != nil {
		fmt.Fprintln(os.Stderr, "mkinitramfs:", err)
		os.Exit(1)
	}
}

// cleanGuest turns a guest path into the archive's relative form
// ("bin/sh"), rejecting the root itself and paths escaping it.
func cleanGuest(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("guest path %q is not absolute", p)
	}
	c := strings.TrimPrefix(path.Clean(p), "/")
	if c == "" || c == "." {
		return "", fmt.Errorf("guest path %q names the root", p)
	}
	return c, nil
}

func parseEntries(args []string) ([]*entry, error) {
	var list []*entry
	for _, a := range args {
		kind := "file"
		if i := strings.Index(a, ":"); i > 0 && !strings.HasPrefix(a, "/") {
			kind, a = a[:i], a[i+1:]
		}
		guest, val, hasVal := strings.Cut(a, "=")
		name, err := cleanGuest(guest)
		if err != nil {
			return nil, err
		}
		e := &entry{name: name}
		switch kind {
		case "file":
			if !hasVal || val == "" {
				return nil, fmt.Errorf("entry %q: want GUEST=HOST", a)
			}
			fi, err := os.Stat(val)
			if err != nil {
				return nil, err
			}
			if !fi.Mode().IsRegular() {
				return nil, fmt.Errorf("%s: not a regular file", val)
			}
			e.host = val
			e.mode = sIFREG | unixPerm(fi.Mode())
		case "dir":
			mode := uint64(0o755)
			if hasVal {
				if mode, err = strconv.ParseUint(val, 8, 32); err != nil || mode > permMax {
					return nil, fmt.Errorf("entry %q: bad mode", a)
				}
			}
			e.mode = sIFDIR | uint32(mode)
			e.explicit = true
		case "link":
			if !hasVal || val == "" {
				return nil, fmt.Errorf("entry %q: want link:GUEST=TARGET", a)
			}
			e.mode = sIFLNK | 0o777
			e.target = val
		case "dev":
			f := strings.Split(val, ",")
			if !hasVal || len(f) < 3 || len(f) > 4 || (f[0] != "c" && f[0] != "b") {
				return nil, fmt.Errorf("entry %q: want dev:GUEST=c|b,MAJ,MIN[,MODE]", a)
			}
			maj, err1 := strconv.ParseUint(f[1], 10, 32)
			min, err2 := strconv.ParseUint(f[2], 10, 32)
			mode := uint64(0o600)
			var err3 error
			if len(f) == 4 {
				mode, err3 = strconv.ParseUint(f[3], 8, 32)
			}
			if err1 != nil || err2 != nil || err3 != nil || mode > permMax {
				return nil, fmt.Errorf("entry %q: bad numbers", a)
			}
			e.mode = uint32(mode)
			if f[0] == "c" {
				e.mode |= sIFCHR
			} else {
				e.mode |= sIFBLK
			}
			e.rmajor, e.rminor = uint32(maj), uint32(min)
		case "tree":
			if !hasVal || val == "" {
				return nil, fmt.Errorf("entry %q: want tree:GUEST=HOSTDIR", a)
			}
			t, err := walkTree(name, val)
			if err != nil {
				return nil, err
			}
			list = append(list, t...)
			continue
		default:
			return nil, fmt.Errorf("entry %q: unknown kind %q", a, kind)
		}
		list = append(list, e)
	}

	// Directories: explicit ones plus every missing parent; written first,
	// sorted so that parents precede children. Later entries for the same
	// path win, except that a non-directory may not shadow a directory.
	dirs := map[string]*entry{}
	byName := map[string]*entry{}
	var others []*entry
	for _, e := range list {
		if e.mode&0o170000 == sIFDIR {
			dirs[e.name] = e
			continue
		}
		if prev, ok := byName[e.name]; ok {
			*prev = *e // replace in place, keep first position
			continue
		}
		byName[e.name] = e
		others = append(others, e)
	}
	for _, e := range list {
		for p := path.Dir(e.name); p != "."; p = path.Dir(p) {
			if _, ok := dirs[p]; !ok {
				dirs[p] = &entry{name: p, mode: sIFDIR | 0o755}
			}
		}
	}
	for n := range dirs {
		if _, ok := byName[n]; ok {
			return nil, fmt.Errorf("guest path /%s is both a directory and a non-directory", n)
		}
	}
	names := make([]string, 0, len(dirs))
	for n := range dirs {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		// Fewer components first, then lexical: parents before children.
		ci, cj := strings.Count(names[i], "/"), strings.Count(names[j], "/")
		if ci != cj {
			return ci < cj
		}
		return names[i] < names[j]
	})
	out := make([]*entry, 0, len(names)+len(others))
	for _, n := range names {
		out = append(out, dirs[n])
	}
	return append(out, others...), nil
}

// walkTree lists the host directory dir as entries under the guest path
// name (in its relative form).
func walkTree(name, dir string) ([]*entry, error) {
	var list []*entry
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		e := &entry{name: path.Join(name, filepath.ToSlash(rel))}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			e.mode = sIFDIR | unixPerm(fi.Mode())
			e.explicit = true
		case d.Type()&os.ModeSymlink != 0:
			if e.target, err = os.Readlink(p); err != nil {
				return err
			}
			e.mode = sIFLNK | 0o777
		case d.Type().IsRegular():
			e.mode = sIFREG | unixPerm(fi.Mode())
			e.host = p
		default:
			return nil // sockets, fifos, devices: skipped
		}
		list = append(list, e)
		return nil
	})
	return list, err
}

func unixPerm(m os.FileMode) uint32 {
	p := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		p |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		p |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		p |= 0o1000
	}
	return p
}

func writeFile(out string, gz bool, entries []*entry) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(out), ".mkinitramfs-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	var w io.Writer = bw
	var zw *gzip.Writer
	if gz {
		zw, _ = gzip.NewWriterLevel(bw, gzip.BestSpeed)
		w = zw
	}
	cw := &cpioWriter{w: w}
	for _, e := range entries {
		if err := cw.add(e); err != nil {
			return err
		}
	}
	if err := cw.trailer(); err != nil {
		return err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}

const trailerName = "TRAILER!!!"

type cpioWriter struct {
	w   io.Writer
	off int64
	ino uint32
}

func (c *cpioWriter) write(b []byte) error {
	n, err := c.w.Write(b)
	c.off += int64(n)
	return err
}

func (c *cpioWriter) pad() error {
	if r := c.off % 4; r != 0 {
		return c.write(make([]byte, 4-r))
	}
	return nil
}

// header writes a newc header followed by the NUL-terminated name, padded
// to a multiple of four bytes.
func (c *cpioWriter) header(name string, mode uint32, nlink uint32, size int64, rmajor, rminor uint32) error {
	if size < 0 || size > 0xffffffff {
		return fmt.Errorf("/%s: size %d does not fit a newc header", name, size)
	}
	ino := uint32(0) // the trailer conventionally has inode 0
	if name != trailerName {
		c.ino++
		ino = c.ino
	}
	h := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, 0, size, 0, 0, rmajor, rminor, len(name)+1, 0)
	if err := c.write([]byte(h + name + "\x00")); err != nil {
		return err
	}
	return c.pad()
}

func (c *cpioWriter) add(e *entry) error {
	switch e.mode & 0o170000 {
	case sIFDIR:
		return c.header(e.name, e.mode, 2, 0, 0, 0)
	case sIFLNK:
		if err := c.header(e.name, e.mode, 1, int64(len(e.target)), 0, 0); err != nil {
			return err
		}
		if err := c.write([]byte(e.target)); err != nil {
			return err
		}
		return c.pad()
	case sIFCHR, sIFBLK:
		return c.header(e.name, e.mode, 1, 0, e.rmajor, e.rminor)
	case sIFREG:
		f, err := os.Open(e.host)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if err := c.header(e.name, e.mode, 1, fi.Size(), 0, 0); err != nil {
			return err
		}
		n, err := io.Copy(writerFunc(c.write), f)
		if err != nil {
			return err
		}
		if n != fi.Size() {
			return fmt.Errorf("%s: changed size while being archived", e.host)
		}
		return c.pad()
	}
	return fmt.Errorf("/%s: unsupported mode %o", e.name, e.mode)
}

func (c *cpioWriter) trailer() error {
	if err := c.header(trailerName, 0, 1, 0, 0, 0); err != nil {
		return err
	}
	// Pad the archive to a 512-byte boundary like cpio(1) does.
	if r := c.off % 512; r != 0 {
		return c.write(make([]byte, 512-r))
	}
	return nil
}

type writerFunc func([]byte) error

func (f writerFunc) Write(b []byte) (int, error) {
	if err := f(b); err != nil {
		return 0, err
	}
	return len(b), nil
}
