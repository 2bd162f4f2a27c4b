package nbd

// Wire constants of the NBD protocol (NetworkBlockDevice/nbd, doc/proto.md).
// Only what this client sends or must recognise is listed.
const (
	magicNBD        = 0x4e42444d41474943 // "NBDMAGIC"
	magicOpt        = 0x49484156454F5054 // "IHAVEOPT"
	magicOldstyle   = 0x00420281861253   // cliserv_magic: oldstyle server, unsupported
	magicOptReply   = 0x3e889045565a9
	magicRequest    = 0x25609513
	magicSimple     = 0x67446698
	magicStructured = 0x668e33ef

	flagFixedNewstyle = 1 << 0 // handshake flag, and the client flag of the same value
	flagNoZeroes      = 1 << 1

	optGo              = 7
	optStructuredReply = 8
	optSetMetaContext  = 10
	repAck             = 1
	repInfo            = 3
	repMetaContext     = 4
	repErrBit          = 1 << 31
	repErrUnsup        = repErrBit | 1
	infoExport         = 0
	infoBlockSize      = 3

	cmdRead        = 0
	cmdDisc        = 2
	cmdBlockStatus = 7

	replyFlagDone        = 1 << 0
	replyTypeNone        = 0
	replyTypeOffsetData  = 1
	replyTypeOffsetHole  = 2
	replyTypeBlockStatus = 5
	replyTypeErrBit      = 1 << 15
	replyTypeErrorOffset = replyTypeErrBit | 2
	requestHeaderSize    = 28
	structuredHeaderSize = 20 // 4 magic + 2 flags + 2 type + 8 handle + 4 length

	// maxString bounds strings from the server (names, error messages): the
	// spec caps them at 4096 bytes.
	maxString = 4096
	// maxOptReply bounds an option reply: the largest legitimate one is a
	// meta context reply (4 + name) or an error with a message.
	maxOptReply = 4 + maxString
	// maxStatusDescriptors is the spec's limit on descriptors in one
	// NBD_REPLY_TYPE_BLOCK_STATUS chunk (2^20); a longer chunk is an error.
	maxStatusDescriptors = 1 << 20
	// defaultMaxRequest is what the spec tells clients to stay under when
	// the server advertises no maximum block size.
	defaultMaxRequest = 32 << 20
	// maxStatusRequest is the longest range asked for in one BLOCK_STATUS:
	// the length field has 32 bits; 2 GiB keeps every power-of-two minimum
	// block size aligned.
	maxStatusRequest = 1 << 31
)

// Status flags of the base:allocation meta context.
const (
	StateHole = 1 << 0 // NBD_STATE_HOLE: not allocated
	StateZero = 1 << 1 // NBD_STATE_ZERO: reads as zeros
)

// StateDirty is bit 0 of QEMU's qemu:dirty-bitmap:NAME meta context: the
// block was written since the bitmap was enabled.
const StateDirty = 1 << 0

// ContextAllocation is the standard meta context of allocation status.
const ContextAllocation = "base:allocation"

// DirtyBitmapContext names QEMU's meta context for a dirty bitmap; libvirt's
// pull-mode backup exposes "backup-<disk>" for the export of disk <disk>.
func DirtyBitmapContext(bitmap string) string { return "qemu:dirty-bitmap:" + bitmap }
