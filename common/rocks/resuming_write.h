// WriteResuming: a RocksDB write that recovers from an earlier failed one.
//
// After a write fails (a full disk, an I/O error), RocksDB refuses every
// later write until the database is resumed. This write, when it fails, asks
// RocksDB to resume (DB::Resume) and tries once more: a database whose disk
// has room again recovers at its next write, with no restart and no state to
// keep. While the cause remains, both attempts fail and the second error is
// returned (converted by FromRocksDbStatus, naming `context`).
//
// Thread-safety: as rocksdb::DB::Write.
#ifndef AIMS_COMMON_ROCKS_RESUMING_WRITE_H_
#define AIMS_COMMON_ROCKS_RESUMING_WRITE_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace aims {

absl::Status WriteResuming(rocksdb::DB* db,
                           const rocksdb::WriteOptions& options,
                           rocksdb::WriteBatch* batch,
                           absl::string_view context);

}  // namespace aims

#endif  // AIMS_COMMON_ROCKS_RESUMING_WRITE_H_
