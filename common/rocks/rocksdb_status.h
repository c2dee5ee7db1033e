// FromRocksDbStatus: the one conversion of a rocksdb::Status into the
// absl::Status that aims code passes on.
//
// Contract:
//  - OK stays OK (the context is ignored).
//  - Otherwise the message is "<context>: <RocksDB's own text>", e.g.
//    "spool append: IO error: No space left on device", so logs say what
//    aims was doing and what RocksDB found.
//  - The code says what a caller can do about it (absl's meanings):
//      NotFound                -> NOT_FOUND: the key or file is not there.
//      Corruption              -> DATA_LOSS: stored bytes are damaged (a
//                                 checksum or format check failed); trying
//                                 again reads the same bytes.
//      IOError "no space"      -> RESOURCE_EXHAUSTED: the disk is full; it
//                                 passes once space returns (the ingest
//                                 stream answers RESOURCE_EXHAUSTED and the
//                                 agent keeps its spool and backs off).
//      other IOError, Busy,    -> UNAVAILABLE: transient; retry later (the
//      TryAgain, TimedOut,        rollup builder retries on the next pass,
//      ShutdownInProgress         HTTP answers 503).
//      InvalidArgument         -> FAILED_PRECONDITION: RocksDB refuses the
//                                 directory with these options (e.g. column
//                                 families that do not match); it is never
//                                 a caller's request that is wrong, and a
//                                 retry fails the same way.
//      anything else           -> INTERNAL: states aims never asks for
//                                 (merge operators, transactions, ...).
//
// Thread-safety: stateless.
#ifndef AIMS_COMMON_ROCKS_ROCKSDB_STATUS_H_
#define AIMS_COMMON_ROCKS_ROCKSDB_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace rocksdb {
class Status;
}  // namespace rocksdb

namespace aims {

absl::Status FromRocksDbStatus(const rocksdb::Status& status,
                               absl::string_view context);

}  // namespace aims

#endif  // AIMS_COMMON_ROCKS_ROCKSDB_STATUS_H_
