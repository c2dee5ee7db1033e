#include "common/rocks/rocksdb_status.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rocksdb/status.h"

namespace aims {
namespace {

absl::StatusCode CodeOf(const rocksdb::Status& s) {
  return FromRocksDbStatus(s, "test").code();
}

TEST(RocksDbStatusTest, OkStaysOk) {
  EXPECT_TRUE(FromRocksDbStatus(rocksdb::Status::OK(), "spool append").ok());
}

TEST(RocksDbStatusTest, MessageIsContextThenRocksDbsText) {
  const rocksdb::Status s = rocksdb::Status::NoSpace("write to WAL");
  const absl::Status converted = FromRocksDbStatus(s, "spool append");
  EXPECT_EQ(converted.message(), absl::StrCat("spool append: ", s.ToString()));
  EXPECT_EQ(converted.message(),
            "spool append: IO error: No space left on device: write to WAL");
  EXPECT_EQ(FromRocksDbStatus(rocksdb::Status::Corruption("bad block"),
                              "reading rollups")
                .message(),
            "reading rollups: Corruption: bad block");
}

TEST(RocksDbStatusTest, CodesSayWhatACallerCanDo) {
  using rocksdb::Status;
  EXPECT_EQ(CodeOf(Status::NotFound("k")), absl::StatusCode::kNotFound);
  // Damaged bytes: the same on every retry.
  EXPECT_EQ(CodeOf(Status::Corruption("checksum mismatch")),
            absl::StatusCode::kDataLoss);
  // Disk full: the ingest stream answers RESOURCE_EXHAUSTED.
  EXPECT_EQ(CodeOf(Status::NoSpace()), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(CodeOf(Status::IOError(Status::kNoSpace)),
            absl::StatusCode::kResourceExhausted);
  // Transient: retried (rollup builds on the next pass, HTTP 503).
  for (const Status& s :
       {Status::IOError("read failed"), Status::IOError(Status::kPathNotFound),
        Status::Busy(), Status::TryAgain(), Status::TimedOut(),
        Status::ShutdownInProgress()}) {
    EXPECT_EQ(CodeOf(s), absl::StatusCode::kUnavailable) << s.ToString();
  }
  EXPECT_EQ(CodeOf(Status::InvalidArgument("Column families not opened")),
            absl::StatusCode::kFailedPrecondition);
  for (const Status& s : {Status::NotSupported(), Status::Aborted(),
                          Status::Incomplete(), Status::MergeInProgress(),
                          Status::Expired(), Status::ColumnFamilyDropped()}) {
    EXPECT_EQ(CodeOf(s), absl::StatusCode::kInternal) << s.ToString();
  }
}

}  // namespace
}  // namespace aims
