package bucket

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strconv"
	"time"
)

// formatVersion is written into every file so that a later layout can tell
// old files apart; it is also the "v1" directory of the layout.
const formatVersion = 1

const (
	historyDir = "history"
	versionDir = "v1"
	turnsDir   = "turns"
	clearedDir = "cleared"
	fileSuffix = ".json"

	// millisDigits is wide enough for any instant up to the year 318857, so
	// every name has the same length and sorts like the number it holds.
	millisDigits = 16
	maxMillis    = 9_999_999_999_999_999
	// messageHashDigits is the length of the message id's hash in a turn
	// file name: 64 bits keep two messages of one owner asked in the same
	// millisecond apart; the full id inside the file settles the rest.
	messageHashDigits = 16

	turnNameLen   = millisDigits + 1 + messageHashDigits + len(fileSuffix)
	markerNameLen = millisDigits + len(fileSuffix)
)

// ownerKey is the directory name of an owner: the hex SHA-256 of the owner
// string, so that any owner (with "/", "..", NUL or kilobytes of junk) is a
// fixed-length, safe path component.
func ownerKey(owner string) string {
	sum := sha256.Sum256([]byte(owner))
	return hex.EncodeToString(sum[:])
}

// messageKey is the message id's part of a turn file name.
func messageKey(messageID string) string {
	sum := sha256.Sum256([]byte(messageID))
	return hex.EncodeToString(sum[:])[:messageHashDigits]
}

// millis is the instant as the number that names files: Unix milliseconds
// (DingTalk's createAt precision), clamped into what 16 digits can hold so
// that a zero or absurd time still sorts (first or last) instead of breaking
// the ordering by name.
func millis(t time.Time) int64 {
	ms := t.UnixMilli()
	switch {
	case ms < 0:
		return 0
	case ms > maxMillis:
		return maxMillis
	}
	return ms
}

func formatMillis(ms int64) string {
	return fmt.Sprintf("%0*d", millisDigits, ms)
}

// turnFile is a turn file name taken apart.
type turnFile struct {
	name       string
	askedAtMs  int64
	messageKey string
}

func newTurnFile(askedAt time.Time, messageID string) turnFile {
	ms := millis(askedAt)
	key := messageKey(messageID)
	return turnFile{name: formatMillis(ms) + "-" + key + fileSuffix, askedAtMs: ms, messageKey: key}
}

// parseTurnFile reads a turn file name; ok is false for any other name
// (which the store then ignores rather than guesses about).
func parseTurnFile(name string) (f turnFile, ok bool) {
	if len(name) != turnNameLen || name[millisDigits] != '-' || name[turnNameLen-len(fileSuffix):] != fileSuffix {
		return turnFile{}, false
	}
	ms, ok := parseMillis(name[:millisDigits])
	if !ok {
		return turnFile{}, false
	}
	key := name[millisDigits+1 : millisDigits+1+messageHashDigits]
	if !isLowerHex(key) {
		return turnFile{}, false
	}
	return turnFile{name: name, askedAtMs: ms, messageKey: key}, true
}

func markerName(ms int64) string { return formatMillis(ms) + fileSuffix }

// parseMarkerName reads a clear marker's name: the clear time in Unix ms.
func parseMarkerName(name string) (ms int64, ok bool) {
	if len(name) != markerNameLen || name[millisDigits:] != fileSuffix {
		return 0, false
	}
	return parseMillis(name[:millisDigits])
}

func parseMillis(digits string) (int64, bool) {
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	ms, err := strconv.ParseInt(digits, 10, 64)
	return ms, err == nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ownerDirs are the two directories of one owner.
type ownerDirs struct {
	key     string // hex SHA-256 of the owner
	turns   string
	cleared string
}

func dirsOf(owner string) ownerDirs {
	key := ownerKey(owner)
	base := path.Join(historyDir, versionDir, key)
	return ownerDirs{key: key, turns: path.Join(base, turnsDir), cleared: path.Join(base, clearedDir)}
}
