#include "common/rocks/rocksdb_logger.h"

#include <cstdio>

#include "absl/strings/strip.h"
#include "common/base/log.h"

namespace aims {
namespace {

LogLevel LevelOf(rocksdb::InfoLogLevel level) {
  switch (level) {
    case rocksdb::InfoLogLevel::DEBUG_LEVEL:
    case rocksdb::InfoLogLevel::INFO_LEVEL:
    case rocksdb::InfoLogLevel::HEADER_LEVEL:
      return LogLevel::kDebug;
    case rocksdb::InfoLogLevel::WARN_LEVEL:
      return LogLevel::kWarn;
    default:
      return LogLevel::kError;
  }
}

}  // namespace

RocksDbLogger::RocksDbLogger(std::string database)
    : rocksdb::Logger(rocksdb::InfoLogLevel::DEBUG_LEVEL),
      database_(std::move(database)) {}

void RocksDbLogger::Logv(const char* format, va_list ap) {
  Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
}

void RocksDbLogger::Logv(const rocksdb::InfoLogLevel level, const char* format,
                         va_list ap) {
  const LogLevel ours = LevelOf(level);
  if (!LogEnabled(ours)) return;
  char line[1024];
  const int n = std::vsnprintf(line, sizeof(line), format, ap);
  if (n < 0) return;
  Log(ours, "rocksdb",
      {{"db", database_}, {"text", absl::StripTrailingAsciiWhitespace(line)}});
}

std::shared_ptr<rocksdb::Logger> NewRocksDbLogger(std::string database) {
  return std::make_shared<RocksDbLogger>(std::move(database));
}

}  // namespace aims
