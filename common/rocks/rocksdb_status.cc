#include "common/rocks/rocksdb_status.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "rocksdb/status.h"

namespace aims {
namespace {

absl::StatusCode CodeOf(const rocksdb::Status& s) {
  // IsNoSpace() before IsIOError(): "no space" is an IOError subcode.
  if (s.IsNoSpace()) return absl::StatusCode::kResourceExhausted;
  if (s.IsNotFound()) return absl::StatusCode::kNotFound;
  if (s.IsCorruption()) return absl::StatusCode::kDataLoss;
  if (s.IsIOError() || s.IsBusy() || s.IsTryAgain() || s.IsTimedOut() ||
      s.IsShutdownInProgress()) {
    return absl::StatusCode::kUnavailable;
  }
  if (s.IsInvalidArgument()) return absl::StatusCode::kFailedPrecondition;
  return absl::StatusCode::kInternal;
}

}  // namespace

absl::Status FromRocksDbStatus(const rocksdb::Status& status,
                               absl::string_view context) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(CodeOf(status),
                      absl::StrCat(context, ": ", status.ToString()));
}

}  // namespace aims
