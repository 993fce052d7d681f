// Package documenttest builds sample files in memory — .docx, .pptx, .xlsx,
// .pdf, GBK text, zip bombs — for the tests of package document and for
// end-to-end tests that send a file to the robot.
//
// Every builder returns the file's bytes and panics on a failure, which can
// only be a bug in the builder: they are meant to be called from tests, with
// literal arguments.
package documenttest

import (
	"archive/zip"
	"bytes"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// ZipEntry is one file of an archive built by Zip.
type ZipEntry struct {
	Name string
	Data []byte
}

// Zip returns a zip archive holding entries, deflated, in the order given.
// It is the raw material of the OOXML builders, exported so that a test can
// assemble a package with hand-written XML (a table, a text box, a part that
// is missing or malformed).
func Zip(entries ...ZipEntry) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.Create(e.Name)
		if err != nil {
			panic(err)
		}
		if _, err := w.Write(e.Data); err != nil {
			panic(err)
		}
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// GBK returns s encoded in GBK, the code page that Chinese Windows still
// writes by default (a .csv saved by Chinese Excel, a .txt saved by an old
// Notepad). It panics if s has a character GBK cannot encode.
func GBK(s string) []byte {
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	if err != nil {
		panic(err)
	}
	return b
}

// EncryptedOOXML returns the start of a password-protected Office file as
// Office writes it: not a zip but an OLE compound file (signature
// D0 CF 11 E0 A1 B1 1A E1) whose streams are named EncryptionInfo and
// EncryptedPackage. It is not a complete compound file — nothing here can
// decrypt it — only enough for a reader to recognize one.
func EncryptedOOXML() []byte {
	data := make([]byte, 1536)
	copy(data, cfbSignature)
	// Directory entries start the second sector; each name is UTF-16LE.
	for i, name := range []string{"Root Entry", "EncryptionInfo", "EncryptedPackage"} {
		entry := data[512+128*i:]
		for j, r := range name {
			entry[2*j] = byte(r)
		}
		entry[64] = byte(2*len(name) + 2) // name length in bytes, with the NUL
	}
	return data
}

// cfbSignature opens every OLE compound file (a legacy .doc/.xls/.ppt, or an
// encrypted .docx/.xlsx/.pptx).
var cfbSignature = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}
