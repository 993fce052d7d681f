// Package bucket is the reply function's storage on OSS: the conversation
// histories, the receipts, claims and tool rounds of messages, the daily
// questions, the conversations' settings, the files waiting for the next
// question, the \stop requests, the month's tally of OpenAPI calls, and
// what the buttons of the robot's cards need: which question each card
// answers, the votes on answers, the decisions on tools, and the card
// callback's registration. It reads and writes objects below one folder of
// one bucket and knows nothing of DingTalk, FC or the model. Each store's file gives its layout, where
// <root> is the stores' folder: OSS_BUCKET_PATH in the bucket, which FC
// mounts at OSS_MOUNT_POINT. The layout is what deployed buckets hold: a
// key that changes loses their data.
//
// # Two ways to the bucket
//
// Every store reads and writes through Objects, which has two
// implementations over the same keys, so a deployment can switch between
// them and keep its data:
//
//   - The OSS API (package oss, chosen by OSS_BUCKET): one round trip a
//     call, and Create is PutObject with x-oss-forbid-overwrite, so
//     create-if-absent holds across instances (on a bucket without
//     versioning, which cmd/reply checks at start). Claims (Receipts) and the
//     daily slots (Questions) are then exclusive across instances, and the
//     first record of a message's tool round or of the calls about to be
//     made (Receipts.RecordRound, RecordIntent) is the one every instance
//     continues from, so each tool call is made once. A voter's first vote
//     on an answer is the one counted (Votes), and a card's first record
//     the one kept (Cards). No directory is needed.
//   - The mount (package ossmount, when OSS_BUCKET is not set): the bucket
//     folder that FC mounts into the function as a directory, or any local
//     folder (make run, the tests). On a local folder Create links a whole
//     file into place and is exclusive; on FC's OSS mount (ossfs) it is a
//     lookup and then an upload, exclusive within one instance only (a
//     claim, a slot, and so a tool call made once, or one vote per
//     person, hold within one instance only), and a reader may meet a
//     file empty for a moment (docs/protocols.md §12).
//     The directory is checked at start (ossmount.New), so a missing mount
//     says so instead of losing the first message.
//
// The rules below hold either way.
//
// # Write once
//
// The mount is a FUSE file system over OSS objects: rename is not atomic,
// rewriting or appending to a file uploads the whole object again, metadata
// operations (stat, readdir, mkdir) are slow, and nothing locks a file
// against another instance. Several instances of the reply function, and
// several requests inside one instance, may write the same history at the
// same moment. So the store never modifies a file: every turn and every
// \clear is a file of its own, created exclusively, written in full and
// closed (closing uploads it), and never touched again except to be
// deleted. Writers of different turns then never race on one object; the
// worst a crash leaves behind is a torn file, which readers skip and a
// retried Save of the same message replaces.
package bucket
