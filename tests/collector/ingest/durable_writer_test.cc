#include "collector/ingest/durable_writer.h"

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace aims::collector {
namespace {

// A Storage fake that blocks writes until released, to observe batching and
// the queue bound without timing.
class GatedStorage : public Storage {
 public:
  absl::StatusOr<uint64_t> RegisterAgent(const v1::Hello&,
                                         absl::Time) override {
    return 0;
  }
  absl::Status WriteEncodedReports(
      absl::Span<const EncodedReport* const> reports, absl::Time,
      std::vector<WriteOutcome>* outcomes) override {
    if (!entered_.HasBeenNotified()) entered_.Notify();
    release_.WaitForNotification();
    absl::MutexLock lock(&mu_);
    batches_.push_back(reports.size());
    outcomes->assign(reports.size(), WriteOutcome::kStored);
    return fail_ ? absl::ResourceExhaustedError("disk full") : absl::OkStatus();
  }
  absl::StatusOr<uint64_t> RecordGap(const v1::GapNotice&,
                                     absl::Time) override {
    return 0;
  }
  absl::StatusOr<v1::ReferenceProfile> PutProfile(const v1::ReferenceProfile& p,
                                                  bool, bool*) override {
    return p;
  }
  absl::StatusOr<v1::ReferenceProfile> GetProfile(
      const v1::ModelRef&) const override {
    return absl::NotFoundError("none");
  }
  std::vector<v1::ModelInfo> ListModels(
      const v1::ModelSelector&) const override {
    return {};
  }
  std::vector<v1::AgentInfo> ListAgents(
      const v1::ModelSelector&) const override {
    return {};
  }
  absl::Status ScanReports(
      const v1::ModelRef&, absl::Time, absl::Time,
      const std::function<bool(const StoredReport&)>&) const override {
    return absl::OkStatus();
  }
  absl::Status ScanReportHeaders(
      const v1::ModelRef&, absl::Time, absl::Time,
      const std::function<bool(const StoredReport&)>&) const override {
    return absl::OkStatus();
  }
  std::vector<v1::GapNotice> ListGaps(const v1::ModelSelector&) const override {
    return {};
  }
  absl::Status Apply(const std::vector<Mutation>&) override {
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> Get(Table, absl::string_view) const override {
    return absl::NotFoundError("none");
  }
  absl::Status Scan(
      Table, absl::string_view,
      const std::function<bool(absl::string_view, absl::string_view)>&)
      const override {
    return absl::OkStatus();
  }
  absl::StatusOr<std::pair<std::string, std::string>> Last(
      Table) const override {
    return absl::NotFoundError("empty");
  }

  absl::Notification entered_;
  absl::Notification release_;
  absl::Mutex mu_;
  std::vector<size_t> batches_;
  bool fail_ = false;
};

TEST(DurableWriterTest, BatchesQueuedReportsAndBoundsTheQueue) {
  GatedStorage storage;
  FakeClock clock;
  std::atomic<int> done{0};
  {
    DurableWriter writer(&storage, &clock, /*capacity=*/4, /*max_batch=*/256);
    auto count = [&](const WriteResult& r) {
      EXPECT_TRUE(r.status.ok());
      ++done;
    };
    ASSERT_TRUE(writer.SubmitReport(EncodedReport(), count));
    storage.entered_.WaitForNotification();  // first write holds the thread
    for (int i = 0; i < 4; ++i)
      ASSERT_TRUE(writer.SubmitReport(EncodedReport(), count));
    EXPECT_EQ(writer.depth(), 4u);
    EXPECT_FALSE(writer.SubmitReport(EncodedReport(), count));  // full
    storage.release_.Notify();
  }  // destructor drains
  EXPECT_EQ(done.load(), 5);
  EXPECT_EQ(storage.batches_, (std::vector<size_t>{1, 4}));
}

TEST(DurableWriterTest, BoundsTheQueuedReportBytes) {
  GatedStorage storage;
  FakeClock clock;
  std::atomic<int> done{0};
  auto report = [](size_t bytes) {
    EncodedReport r;
    r.bytes.assign(bytes, 'x');
    return r;
  };
  {
    DurableWriter writer(&storage, &clock, /*capacity=*/100, /*max_batch=*/256,
                         nullptr, /*max_queued_bytes=*/1000);
    auto count = [&](const WriteResult&) { ++done; };
    ASSERT_TRUE(writer.SubmitReport(report(10), count));
    storage.entered_.WaitForNotification();  // first write holds the thread
    // Alone, a report larger than the bound is taken.
    ASSERT_TRUE(writer.SubmitReport(report(1500), count));
    EXPECT_EQ(writer.queued_bytes(), 1500u);
    EXPECT_FALSE(writer.SubmitReport(report(1), count));
    storage.release_.Notify();
  }
  EXPECT_EQ(done.load(), 2);
  GatedStorage storage2;
  {
    DurableWriter writer(&storage2, &clock, 100, 256, nullptr, 1000);
    auto count = [&](const WriteResult&) { ++done; };
    ASSERT_TRUE(writer.SubmitReport(report(10), count));
    storage2.entered_.WaitForNotification();
    ASSERT_TRUE(writer.SubmitReport(report(600), count));
    ASSERT_TRUE(writer.SubmitReport(report(400), count));  // exactly 1000
    EXPECT_FALSE(writer.SubmitReport(report(1), count));   // over
    EXPECT_EQ(writer.depth(), 2u);
    EXPECT_EQ(writer.queued_bytes(), 1000u);
    storage2.release_.Notify();
  }
  EXPECT_EQ(done.load(), 5);
  EXPECT_EQ(storage2.batches_, (std::vector<size_t>{1, 2}));
}

TEST(DurableWriterTest, StorageErrorsReachEveryCompletion) {
  GatedStorage storage;
  storage.fail_ = true;
  storage.release_.Notify();
  FakeClock clock;
  std::atomic<int> failed{0};
  {
    DurableWriter writer(&storage, &clock, 8);
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(
          writer.SubmitReport(EncodedReport(), [&](const WriteResult& r) {
            if (r.status.code() == absl::StatusCode::kResourceExhausted)
              ++failed;
          }));
    }
  }
  EXPECT_EQ(failed.load(), 3);
}

}  // namespace
}  // namespace aims::collector
