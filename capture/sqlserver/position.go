package sqlserver

import "github.com/syncd-dev/syncd/capture"

// Positions. Change tracking numbers versions only, but a scope's stream
// needs a position of its own for each transaction, growing (targets
// skip a transaction at or below their checkpoint, and a replay's
// messages at or below the stream's last are taken as stored already):
// the changes of version v go at versionPos(v), and the snapshot
// transactions taken at a poll whose current version is v at
// versionPos(v)+1, +2, ..., after the version's changes and before the
// next version's, numbered on across polls that find v still current,
// and across restarts (state.Copies). A version's transactions are
// acknowledged by their positions; the checkpoint is their version.
// Positions written before copies were numbered were the versions
// themselves, below every position of the same version since.

// copyBits is how many low bits of a position number the snapshot
// transactions of one version: at most 65,535 copies per version; more
// wait for the next version.
const copyBits = 16

// versionPos is the position of version v's changes.
func versionPos(v int64) capture.Position { return capture.Position(v) << copyBits }

// posVersion is the version of position p.
func posVersion(p capture.Position) int64 { return int64(p >> copyBits) }

// maxCopy is the last position for a copy at version v.
func maxCopy(v int64) capture.Position { return versionPos(v+1) - 1 }
