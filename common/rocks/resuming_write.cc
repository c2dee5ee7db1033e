#include "common/rocks/resuming_write.h"

#include "common/rocks/rocksdb_status.h"

namespace aims {

absl::Status WriteResuming(rocksdb::DB* db,
                           const rocksdb::WriteOptions& options,
                           rocksdb::WriteBatch* batch,
                           absl::string_view context) {
  rocksdb::Status status = db->Write(options, batch);
  if (!status.ok() && !status.IsInvalidArgument() && db->Resume().ok()) {
    status = db->Write(options, batch);
  }
  return FromRocksDbStatus(status, context);
}

}  // namespace aims
