// RocksDbLogger: RocksDB's info log as lines of aims' log (common/base/log.h)
// instead of a LOG file beside the data. Errors and warnings are written as
// such; RocksDB's info and debug messages (flushes, compactions, statistics)
// only with --log_level=debug.
//
// Why not the LOG file: it lives on the data's disk, and when that disk is
// full RocksDB's own file logger fails, and the next message it logs about
// the error aborts the process (Debian's librocksdb keeps its assertions).
// A log on stderr cannot fill the data's disk, and containers collect it.
//
// Thread-safety: safe; RocksDB logs from its background threads.
#ifndef AIMS_COMMON_ROCKS_ROCKSDB_LOGGER_H_
#define AIMS_COMMON_ROCKS_ROCKSDB_LOGGER_H_

#include <cstdarg>
#include <memory>
#include <string>

#include "rocksdb/env.h"

namespace aims {

class RocksDbLogger final : public rocksdb::Logger {
 public:
  // `database` names the database in each line ("spool", "collector").
  explicit RocksDbLogger(std::string database);

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override;
  void Logv(const rocksdb::InfoLogLevel level, const char* format,
            va_list ap) override;

 private:
  const std::string database_;
};

// A logger for Options::info_log.
std::shared_ptr<rocksdb::Logger> NewRocksDbLogger(std::string database);

}  // namespace aims

#endif  // AIMS_COMMON_ROCKS_ROCKSDB_LOGGER_H_
