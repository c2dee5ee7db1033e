// Structured logs on stderr, one line per record in logfmt:
//   ts=2026-11-23T05:00:00.123Z level=info msg="stored report" agent=a1 seq=7
// Values with spaces, quotes or '=' are quoted and escaped, so every line
// parses back into key/value pairs.
//
// Thread-safety: Log() may be called from any thread; lines never interleave.
#ifndef AIMS_COMMON_BASE_LOG_H_
#define AIMS_COMMON_BASE_LOG_H_

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"

namespace aims {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// One key/value of a log record; any value absl::StrCat accepts.
struct LogField {
  template <typename T>
  LogField(absl::string_view k, const T& v) : key(k), value(absl::StrCat(v)) {}
  LogField(absl::string_view k, bool v) : key(k), value(v ? "true" : "false") {}
  absl::string_view key;
  std::string value;
};

// Records below `level` are dropped. Default: kInfo.
void SetLogLevel(LogLevel level);
// Whether records of `level` are written (to skip building dropped ones).
bool LogEnabled(LogLevel level);
// Parses "debug", "info", "warn", "error".
bool ParseLogLevel(absl::string_view text, LogLevel* level);

void Log(LogLevel level, absl::string_view msg,
         std::initializer_list<LogField> fields = {});

inline void LogInfo(absl::string_view msg,
                    std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kInfo, msg, fields);
}
inline void LogWarn(absl::string_view msg,
                    std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kWarn, msg, fields);
}
inline void LogError(absl::string_view msg,
                     std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kError, msg, fields);
}

// Formats one record without the timestamp (exposed for tests).
std::string FormatLogRecord(LogLevel level, absl::string_view msg,
                            std::initializer_list<LogField> fields);

}  // namespace aims

#endif  // AIMS_COMMON_BASE_LOG_H_
