// Rollups and retention of RocksStorage: a query answered from 1 min / 1 h /
// 1 d rollups must equal the merge of the raw windows it covers, whatever
// the range, late windows included; retention deletes only what rollups
// already hold.
#include <filesystem>
#include <functional>
#include <map>
#include <random>

#include "collector/storage/rocks_storage.h"
#include "common/base/time_util.h"
#include "common/summary/window_accumulator.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "tests/testing/summary_compare.h"
#include "tests/testing/test_util.h"

namespace aims::collector {
namespace {

// 2026-01-01T00:00:00Z, a day boundary.
const absl::Time kT0 = absl::FromUnixSeconds(1767225600);

// Summaries of small random event sets; reports reuse them round robin.
std::vector<v1::WindowSummary> SummaryPool(int n) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<v1::WindowSummary> pool;
  for (int s = 0; s < n; ++s) {
    WindowAccumulator acc(std::make_shared<SummaryConfig>());
    for (int i = 0; i < 12; ++i) {
      Event e;
      // Values on a 1/64 grid keep sums exact in any merge order.
      auto grid = [&](double scale) {
        return std::floor(u(rng) * 64) / 64 * scale;
      };
      e.score = grid(1);
      e.prediction.kind = Outcome::Kind::kNumber;
      e.prediction.number = *e.score >= 0.5;
      e.label.kind = Outcome::Kind::kNumber;
      e.label.number = u(rng) < *e.score;
      e.features.emplace_back(
          "income", FeatureValue{FeatureValue::Kind::kNumber, grid(1e5), ""});
      e.features.emplace_back(
          "region",
          FeatureValue{FeatureValue::Kind::kCategory, 0, s % 3 ? "n" : "s"});
      e.attributes.emplace_back("gender", u(rng) < 0.5 ? "f" : "m");
      e.latency_seconds = grid(0.1);
      acc.Add(e);
    }
    pool.push_back(acc.Build());
  }
  return pool;
}

using testing::ExpectSameSummary;

v1::ModelRef Model() {
  v1::ModelRef m;
  m.set_name("credit");
  m.set_version("v1");
  m.set_environment("prod");
  return m;
}

class RollupTest : public ::testing::Test {
 protected:
  void Open(absl::Duration raw_retention = absl::ZeroDuration(),
            absl::Duration ten_second_retention = absl::ZeroDuration()) {
    storage_.reset();
    RocksStorageOptions options;
    options.path = dir_.path();
    options.sync_writes = false;
    options.raw_retention = raw_retention;
    options.rollup_retention[0] = ten_second_retention;
    options.rollup_retention[1] = absl::ZeroDuration();
    options.rollup_retention[2] = absl::ZeroDuration();
    options.rollup_retention[3] = absl::ZeroDuration();
    auto storage = RocksStorage::Open(options);
    ASSERT_TRUE(storage.ok()) << storage.status();
    storage_ = std::move(*storage);
    for (const std::string agent : {"a", "b", "c"}) {
      v1::Hello hello;
      hello.mutable_agent()->set_agent_id(agent);
      *hello.mutable_model() = Model();
      ASSERT_TRUE(storage_->RegisterAgent(hello, kT0).ok());
    }
  }

  // Opens the closed directory with RocksDB alone (every column family,
  // by name) and writes what `edit` puts in the batch: turns it into what
  // an older version wrote.
  void RewriteDirectory(
      const std::function<void(
          rocksdb::DB*, std::map<std::string, rocksdb::ColumnFamilyHandle*>&,
          rocksdb::WriteBatch*)>& edit) {
    ASSERT_EQ(storage_, nullptr);
    rocksdb::DB* raw = nullptr;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(),
                                                dir_.path(), &names)
                    .ok());
    for (const auto& n : names)
      cfs.push_back({n, rocksdb::ColumnFamilyOptions()});
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), dir_.path(), cfs,
                                  &handles, &raw)
                    .ok());
    std::map<std::string, rocksdb::ColumnFamilyHandle*> cf;
    for (auto* h : handles) cf[h->GetName()] = h;
    rocksdb::WriteBatch batch;
    edit(raw, cf, &batch);
    EXPECT_TRUE(raw->Write(rocksdb::WriteOptions(), &batch).ok());
    for (auto* h : handles) raw->DestroyColumnFamilyHandle(h);
    delete raw;
  }

  std::vector<WriteOutcome> Write(const std::string& agent, absl::Time start,
                                  absl::Duration length) {
    v1::WindowReport r;
    r.set_agent_id(agent);
    r.set_sequence(++sequences_[agent]);
    *r.mutable_window_start() = ToProto(start);
    *r.mutable_window_end() = ToProto(start + length);
    *r.mutable_summary() = pool_[r.sequence() % pool_.size()];
    const v1::WindowReport* ptr = &r;
    std::vector<WriteOutcome> outcomes;
    EXPECT_TRUE(storage_->WriteReports({&ptr, 1}, kT0, &outcomes).ok());
    return outcomes;
  }

  // Three agents over `days` days: 5-minute windows, plus 10-second ones
  // around every hour boundary (windows of any length share the buckets).
  void WriteDays(int days, int first_day = 0) {
    for (absl::Time t = kT0 + absl::Hours(24 * first_day);
         t < kT0 + absl::Hours(24 * (first_day + days));
         t += absl::Minutes(5)) {
      for (const char* agent : {"a", "b"}) Write(agent, t, absl::Minutes(5));
      if (absl::ToUnixSeconds(t) % 3600 == 0) {
        for (int i = -3; i < 3; ++i)
          Write("c", t + absl::Seconds(10 * i), absl::Seconds(10));
      }
    }
  }

  void Maintain(absl::Time now) {
    for (;;) {
      auto stats = storage_->Maintain(now, 500);
      ASSERT_TRUE(stats.ok()) << stats.status();
      built_ += stats->rollups_built;
      rebuilt_ += stats->rollups_rebuilt;
      deleted_ += stats->raw_reports_deleted;
      rollups_deleted_ += stats->rollups_deleted;
      EXPECT_EQ(stats->rollup_failures, 0u);
      if (!stats->budget_exhausted) return;
    }
  }

  // The range merged through rollups equals the raw merge (the base
  // implementation scans every raw report), and the report ids read from
  // the keys are those of the raw reports, in the same order.
  MergeStats ExpectRollupEqualsRaw(absl::Time from, absl::Time to) {
    SummaryMerger rolled, raw;
    MergeStats stats, raw_stats;
    std::vector<std::pair<std::string, uint64_t>> ids, raw_ids;
    stats.report_ids = &ids;
    raw_stats.report_ids = &raw_ids;
    EXPECT_TRUE(
        storage_->MergeReports(Model(), from, to, &rolled, &stats).ok());
    EXPECT_TRUE(
        storage_->Storage::MergeReports(Model(), from, to, &raw, &raw_stats)
            .ok());
    EXPECT_EQ(rolled.count(), raw.count())
        << absl::FormatTime(from) << " .. " << absl::FormatTime(to);
    EXPECT_EQ(raw.count(), raw_stats.raw_reports_read);
    if (raw.count() > 0) ExpectSameSummary(rolled.result(), raw.result());
    // As metrics read it, without the feature sketches (storage leaves them
    // out before parsing): the same, less the sketches.
    SummaryMerger lean(SummaryMerger::FeatureSketches::kDrop);
    EXPECT_TRUE(storage_->MergeReports(Model(), from, to, &lean, nullptr).ok());
    EXPECT_EQ(lean.count(), raw.count());
    if (raw.count() > 0) {
      v1::WindowSummary expected = raw.result();
      for (v1::FeatureSummary& f : *expected.mutable_features()) {
        f.clear_sketch();
      }
      ExpectSameSummary(lean.result(), expected);
    }
    EXPECT_EQ(ids, raw_ids);
    EXPECT_EQ(raw_ids.size(), raw.count());
    stats.report_ids = nullptr;
    return stats;
  }

  testing::TempDir dir_;
  std::unique_ptr<RocksStorage> storage_;
  std::vector<v1::WindowSummary> pool_ = SummaryPool(37);
  std::map<std::string, uint64_t> sequences_;
  uint64_t built_ = 0, rebuilt_ = 0, deleted_ = 0, rollups_deleted_ = 0;
};

TEST_F(RollupTest, QueriesAcrossRollupBoundariesEqualTheRawMerge) {
  // The summaries carry feature sketches (ExpectRollupEqualsRaw also merges
  // without them).
  ASSERT_GT(pool_[0].features_size(), 0);
  ASSERT_TRUE(pool_[0].features(0).has_sketch());
  Open();
  WriteDays(3);
  Maintain(kT0 + absl::Hours(24 * 3) + absl::Minutes(2));
  // Buckets with data: 10-second buckets holding a window start (864
  // five-minute starts, and five of agent c's six windows around each of
  // the 72 hours; the sixth starts on the hour with a and b's), minutes
  // holding a window start (864, and minute 59 of each hour, from c's
  // windows just before the hour), 432 ten-minute buckets, 72 hours and 3
  // days, plus the minute, 10 minutes, hour and day before kT0 (c's first
  // windows start 30 s earlier).
  EXPECT_EQ(built_, (864u + 360) + (864 + 72) + (432 + 1) + (72 + 1) + (3 + 1));

  // Whole days come from the day rollups alone.
  MergeStats days = ExpectRollupEqualsRaw(kT0, kT0 + absl::Hours(72));
  EXPECT_EQ(days.rollups_read[4], 3u);
  EXPECT_EQ(days.raw_reports_read, 0u);
  // Ragged edges: minutes and raw windows at both ends, hours and a day in
  // between.
  MergeStats ragged = ExpectRollupEqualsRaw(
      kT0 + absl::Seconds(3 * 3600 - 25),
      kT0 + absl::Hours(24 * 2 + 5) + absl::Seconds(7 * 60 + 37));
  EXPECT_GT(ragged.rollups_read[1], 0u);
  EXPECT_GT(ragged.rollups_read[3], 0u);
  EXPECT_EQ(ragged.rollups_read[4], 1u);
  EXPECT_LT(ragged.raw_reports_read, 20u);
  // Random ranges, including ones inside one minute.
  std::mt19937 rng(11);
  std::uniform_int_distribution<int64_t> offset(-600, 3 * 86400 + 600);
  for (int i = 0; i < 60; ++i) {
    int64_t a = offset(rng), b = offset(rng);
    if (a > b) std::swap(a, b);
    if (i % 5 == 0) b = a + 45;
    ExpectRollupEqualsRaw(kT0 + absl::Seconds(a), kT0 + absl::Seconds(b + 1));
  }
}

// Replicas of a model report the same 10 s windows: the 10-second rollups
// merge them, so the ragged edges of a range read one bucket per window
// instead of one report per replica. A window of a single agent keeps no
// 10 s rollup (it would copy the report); its raw report is read.
TEST_F(RollupTest, TenSecondRollupsMergeReplicasAtTheEdges) {
  Open();
  for (absl::Time t = kT0; t < kT0 + absl::Minutes(10);
       t += absl::Seconds(10)) {
    for (const char* agent : {"a", "b", "c"})
      Write(agent, t, absl::Seconds(10));
  }
  const absl::Time lone = kT0 + absl::Minutes(10);
  Write("a", lone, absl::Seconds(10));
  Maintain(kT0 + absl::Minutes(20));
  // 61 10 s buckets visited (60 stored, the lone one not), 11 minutes and
  // the first 10 minutes (the next ten, the hour and the day have not
  // ended).
  EXPECT_EQ(built_, 61u + 11 + 1);

  MergeStats ragged = ExpectRollupEqualsRaw(kT0 + absl::Seconds(15),
                                            kT0 + absl::Seconds(5 * 60 + 30));
  EXPECT_EQ(ragged.rollups_read[0], 4u + 3);  // 0:20..0:50, 5:00..5:20
  EXPECT_EQ(ragged.rollups_read[1], 4u);      // minutes 1..4
  EXPECT_EQ(ragged.raw_reports_read, 0u);
  // A range ending inside a 10 s bucket reads that bucket's reports raw.
  MergeStats partial =
      ExpectRollupEqualsRaw(kT0 + absl::Seconds(20), kT0 + absl::Seconds(45));
  EXPECT_EQ(partial.rollups_read[0], 2u);   // 0:20, 0:30
  EXPECT_EQ(partial.raw_reports_read, 3u);  // 0:40 of a, b and c
  MergeStats tail = ExpectRollupEqualsRaw(kT0 + absl::Seconds(9 * 60 + 45),
                                          lone + absl::Seconds(5));
  EXPECT_EQ(tail.rollups_read[0], 1u);   // 9:50
  EXPECT_EQ(tail.raw_reports_read, 1u);  // the lone window
}

// A directory of schema version 1 (three rollup levels) opens, is upgraded
// to version 2, and answers as before; its pending rebuilds move to their
// levels.
TEST_F(RollupTest, SchemaVersionOneIsUpgraded) {
  Open();
  WriteDays(1);
  Maintain(kT0 + absl::Hours(24) + absl::Minutes(2));
  ASSERT_EQ(Write("c", kT0 + absl::Hours(5) + absl::Seconds(17),
                  absl::Seconds(10))[0],
            WriteOutcome::kStored);
  storage_.reset();
  // Turn the directory back into version 1: no 10 s and 10 min rollups,
  // rollup states of three cursors (1m, 1h, 1d), dirty keys of levels 0..2
  // for them.
  RewriteDirectory([](rocksdb::DB* raw, auto& cf, rocksdb::WriteBatch* out) {
    rocksdb::WriteBatch& batch = *out;
    batch.Put(cf["default"], "schema_version", "1");
    std::unique_ptr<rocksdb::Iterator> it(
        raw->NewIterator(rocksdb::ReadOptions(), cf["default"]));
    int states = 0;
    for (it->Seek("rollup:"); it->Valid() && it->key().starts_with("rollup:");
         it->Next()) {
      ASSERT_EQ(it->value().size(), 48u);
      std::string v1(it->value().data() + 8, 8);  // 1 min
      v1.append(it->value().data() + 24, 24);     // 1 h, 1 d, raw
      batch.Put(cf["default"], it->key(), v1);
      ++states;
    }
    EXPECT_EQ(states, 1);
    it.reset(raw->NewIterator(rocksdb::ReadOptions(), cf["rollup_dirty"]));
    int dirty = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string key = it->key().ToString();
      batch.Delete(cf["rollup_dirty"], key);
      // 10 s and 10 min did not exist; 1 min, 1 h, 1 d were 0, 1, 2.
      if (key[0] == 0 || key[0] == 2) continue;
      key[0] = key[0] == 1 ? 0 : key[0] - 2;
      batch.Put(cf["rollup_dirty"], key, "");
      ++dirty;
    }
    EXPECT_EQ(dirty, 3);
    for (const char* name : {"rollup_10s", "rollup_10m"}) {
      batch.DeleteRange(cf[name], std::string(8, '\0'), std::string(8, '\xff'));
    }
  });
  Open();  // asserts that it opens
  ExpectRollupEqualsRaw(kT0 - absl::Minutes(5), kT0 + absl::Hours(24));
  rebuilt_ = 0;
  Maintain(kT0 + absl::Hours(24) + absl::Minutes(2));
  EXPECT_EQ(rebuilt_, 3u);  // the late window's minute, hour and day
  MergeStats day = ExpectRollupEqualsRaw(kT0, kT0 + absl::Hours(24));
  EXPECT_EQ(day.rollups_read[4], 1u);
  EXPECT_EQ(day.raw_reports_read, 0u);
  // The 10-minute level was built from the start.
  MergeStats hour = ExpectRollupEqualsRaw(
      kT0 + absl::Hours(5), kT0 + absl::Hours(5) + absl::Minutes(50));
  EXPECT_EQ(hour.rollups_read[2], 5u);
  storage_.reset();
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(
      rocksdb::DB::OpenForReadOnly(rocksdb::Options(), dir_.path(), &raw).ok());
  std::string version;
  ASSERT_TRUE(
      raw->Get(rocksdb::ReadOptions(), "schema_version", &version).ok());
  EXPECT_EQ(version, "3");
  delete raw;
}

TEST_F(RollupTest, SchemaVersionTwoGainsTheReportHeaders) {
  Open();
  WriteDays(1);
  const absl::Time from = kT0 - absl::Minutes(5);
  const absl::Time to = kT0 + absl::Hours(24);
  auto headers = [&] {
    std::vector<std::string> out;
    EXPECT_TRUE(storage_
                    ->ScanReportHeaders(Model(), from, to,
                                        [&](const StoredReport& r) {
                                          out.push_back(absl::StrCat(
                                              r.report.agent_id(), "/",
                                              r.report.sequence()));
                                          return true;
                                        })
                    .ok());
    return out;
  };
  const std::vector<std::string> before = headers();
  ASSERT_GT(before.size(), 100u);
  storage_.reset();
  // Turn the directory back into version 2: no report headers.
  RewriteDirectory([](rocksdb::DB*, auto& cf, rocksdb::WriteBatch* batch) {
    batch->Put(cf["default"], "schema_version", "2");
    batch->DeleteRange(cf["report_headers"], std::string(8, '\0'),
                       std::string(8, '\xff'));
  });
  Open();
  EXPECT_EQ(headers(), before);
  ExpectRollupEqualsRaw(from, to);  // report ids come from the headers
}

TEST_F(RollupTest, LateWindowInvalidatesItsBucketsUntilRebuilt) {
  Open();
  WriteDays(2);
  const absl::Time now = kT0 + absl::Hours(48) + absl::Minutes(2);
  Maintain(now);
  const absl::Time late = kT0 + absl::Hours(30) + absl::Seconds(17);
  ASSERT_EQ(Write("c", late, absl::Seconds(10))[0], WriteOutcome::kStored);
  // Before the rebuild the day, hour and minute of the late window are read
  // from finer data: still equal to the raw merge.
  MergeStats before =
      ExpectRollupEqualsRaw(kT0 + absl::Hours(24), kT0 + absl::Hours(48));
  EXPECT_EQ(before.rollups_read[4], 0u);
  EXPECT_EQ(before.rollups_read[3], 23u);
  Maintain(now);
  EXPECT_EQ(rebuilt_, 5u);  // its 10 s bucket, minute, 10 minutes, hour, day
  MergeStats after =
      ExpectRollupEqualsRaw(kT0 + absl::Hours(24), kT0 + absl::Hours(48));
  EXPECT_EQ(after.rollups_read[4], 1u);
  EXPECT_EQ(after.raw_reports_read, 0u);

  // The rollup state survives a restart: a late window after reopening
  // still invalidates the buckets already built.
  Open();
  ASSERT_EQ(Write("c", late + absl::Seconds(10), absl::Seconds(10))[0],
            WriteOutcome::kStored);
  EXPECT_EQ(ExpectRollupEqualsRaw(kT0 + absl::Hours(24), kT0 + absl::Hours(48))
                .rollups_read[4],
            0u);
  rebuilt_ = 0;
  Maintain(now);
  EXPECT_EQ(rebuilt_, 5u);
  ExpectRollupEqualsRaw(kT0, kT0 + absl::Hours(48));
}

TEST_F(RollupTest, RetentionDeletesRawOnlyBehindRollupsAndExpiresLateWindows) {
  Open(/*raw_retention=*/absl::Hours(24));
  WriteDays(3);
  SummaryMerger before;
  ASSERT_TRUE(
      storage_
          ->MergeReports(Model(), kT0, kT0 + absl::Hours(72), &before, nullptr)
          .ok());
  const absl::Time now = kT0 + absl::Hours(72) + absl::Minutes(2);
  Maintain(now);
  // Raw windows older than a day (before 2026-01-02T00:02, aligned to the
  // minute) are gone; the rollups answer for them.
  const absl::Time horizon = kT0 + absl::Hours(48) + absl::Minutes(2);
  int old_raw = 0, kept_raw = 0;
  ASSERT_TRUE(storage_
                  ->ScanReports(Model(), kT0 - absl::Hours(1), now,
                                [&](const StoredReport& r) {
                                  (FromProto(r.report.window_start()) < horizon
                                       ? old_raw
                                       : kept_raw)++;
                                  return true;
                                })
                  .ok());
  EXPECT_EQ(old_raw, 0);
  EXPECT_GT(kept_raw, 0);
  // Their headers went with them.
  int headers = 0;
  ASSERT_TRUE(storage_
                  ->ScanReportHeaders(
                      Model(), kT0 - absl::Hours(1), now,
                      [&](const StoredReport& r) {
                        EXPECT_GE(FromProto(r.report.window_start()), horizon);
                        ++headers;
                        return true;
                      })
                  .ok());
  EXPECT_EQ(headers, kept_raw);
  uint64_t written = 0;
  for (const auto& [agent, seq] : sequences_) written += seq;
  EXPECT_EQ(deleted_ + kept_raw, written);
  SummaryMerger after;
  MergeStats stats;
  ASSERT_TRUE(
      storage_
          ->MergeReports(Model(), kT0, kT0 + absl::Hours(72), &after, &stats)
          .ok());
  EXPECT_EQ(after.count(), before.count());
  ExpectSameSummary(after.result(), before.result());
  // A window behind the horizon cannot be stored any more (its raw data and
  // de-duplication entries are gone): acknowledged as expired, not counted.
  EXPECT_EQ(Write("a", kT0 + absl::Hours(10), absl::Minutes(5))[0],
            WriteOutcome::kExpired);
  EXPECT_EQ(Write("a", horizon + absl::Minutes(1), absl::Minutes(5))[0],
            WriteOutcome::kStored);
  // The horizon survives a restart.
  Open(absl::Hours(24));
  EXPECT_EQ(Write("b", kT0 + absl::Hours(47), absl::Minutes(5))[0],
            WriteOutcome::kExpired);
}

// 10-second rollups older than their retention are deleted once, the range
// still merges to the same summary (coarser levels answer), and a pass with
// nothing newly aged out deletes nothing.
TEST_F(RollupTest, RollupRetentionDeletesWhatAgedOutOnce) {
  Open(/*raw_retention=*/absl::Hours(24),
       /*ten_second_retention=*/absl::Hours(12));
  WriteDays(3);
  SummaryMerger before;
  ASSERT_TRUE(
      storage_
          ->MergeReports(Model(), kT0, kT0 + absl::Hours(72), &before, nullptr)
          .ok());
  const absl::Time now = kT0 + absl::Hours(72) + absl::Minutes(2);
  Maintain(now);
  const uint64_t first = rollups_deleted_;
  EXPECT_GT(first, 0u);
  Maintain(now + absl::Seconds(30));
  EXPECT_EQ(rollups_deleted_, first);
  // An hour later that hour's buckets have aged out (at most one per window
  // written in it: 12 each of agents a and b, 6 of c), once.
  Maintain(now + absl::Hours(1));
  const uint64_t hour = rollups_deleted_ - first;
  EXPECT_GT(hour, 0u);
  EXPECT_LE(hour, 30u);
  Maintain(now + absl::Hours(1));
  EXPECT_EQ(rollups_deleted_, first + hour);
  SummaryMerger after;
  ASSERT_TRUE(
      storage_
          ->MergeReports(Model(), kT0, kT0 + absl::Hours(72), &after, nullptr)
          .ok());
  EXPECT_EQ(after.count(), before.count());
  ExpectSameSummary(after.result(), before.result());
}

// Names and sizes of the blob files (where report values live) on disk.
std::map<std::string, uintmax_t> BlobFiles(const std::string& dir) {
  std::map<std::string, uintmax_t> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".blob") {
      files[entry.path().filename().string()] = entry.file_size();
    }
  }
  return files;
}

TEST_F(RollupTest, RetentionGivesTheSpaceOfDeletedReportsBack) {
  // Reports of more than min_blob_size (1 KB): more features, copies of the
  // first.
  for (v1::WindowSummary& summary : pool_) {
    const v1::FeatureSummary first = summary.features(0);
    for (int i = 1; i <= 8; ++i) {
      v1::FeatureSummary* copy = summary.add_features();
      *copy = first;
      copy->set_name(absl::StrCat(first.name(), "_", i));
    }
    ASSERT_GT(summary.ByteSizeLong(), 1024u);
  }
  // Each reopen flushes what the write-ahead log holds: day 0's reports go
  // to one blob file, day 1's to another.
  Open(absl::Hours(24));
  WriteDays(1);
  Open(absl::Hours(24));
  const std::map<std::string, uintmax_t> day0 = BlobFiles(dir_.path());
  ASSERT_EQ(day0.size(), 1u);
  ASSERT_GT(day0.begin()->second, 500u * 1024);  // 720 reports of ~1 KB
  WriteDays(1, /*first_day=*/1);
  Open(absl::Hours(24));
  uint64_t blob_bytes = 0;
  for (const auto& [name, size] : BlobFiles(dir_.path())) blob_bytes += size;
  ASSERT_EQ(BlobFiles(dir_.path()).size(), 2u);
  // The size the collector exports counts the blob files (the table files
  // of 1,440 keys are far smaller).
  EXPECT_GE(storage_->ApproximateSizeBytes(), blob_bytes);
  SummaryMerger before;
  ASSERT_TRUE(storage_
                  ->MergeReports(Model(), kT0 + absl::Hours(24),
                                 kT0 + absl::Hours(48), &before, nullptr)
                  .ok());

  // Retention deletes day 0 and the windows that start in the first two
  // minutes of day 1 (a and b's at 00:00, c's six around midnight); the
  // reopen flushes the deletions, dense enough that RocksDB compacts them
  // away at once, and day 0's blob file, no longer referenced, is deleted.
  Maintain(kT0 + absl::Hours(48) + absl::Minutes(2));
  EXPECT_EQ(deleted_, 720u + 8);
  Open(absl::Hours(24));
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (BlobFiles(dir_.path()).count(day0.begin()->first) &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));  // a background compaction
  }
  const std::map<std::string, uintmax_t> after = BlobFiles(dir_.path());
  EXPECT_EQ(after.count(day0.begin()->first), 0u)
      << "day 0's blob file is still there";
  EXPECT_EQ(after.size(), 1u);

  // Day 1 reads as before, from what remains.
  SummaryMerger merged;
  ASSERT_TRUE(storage_
                  ->MergeReports(Model(), kT0 + absl::Hours(24),
                                 kT0 + absl::Hours(48), &merged, nullptr)
                  .ok());
  EXPECT_EQ(merged.count(), before.count());
  ExpectSameSummary(merged.result(), before.result());
  int raw_day1 = 0;
  ASSERT_TRUE(storage_
                  ->ScanReports(Model(), kT0, kT0 + absl::Hours(48),
                                [&](const StoredReport&) {
                                  ++raw_day1;
                                  return true;
                                })
                  .ok());
  EXPECT_EQ(raw_day1, 720 - 8);
}

// Label reports (the central label join's credit to a window): stored raw
// beside the window's reports and replaced, with the window's rollups
// rebuilt; past raw retention their delta is merged into the rollups that
// still hold the window, so the credit is counted.
TEST_F(RollupTest, LabelReportsReplaceWhileRawAndMergeIntoRollupsAfter) {
  Open(/*raw_retention=*/absl::Hours(24));
  WriteDays(2);
  Maintain(kT0 + absl::Hours(24) + absl::Minutes(2));
  const absl::Time window = kT0 + absl::Hours(30);  // raw still
  auto labelled = [&](absl::Time from, absl::Time to) {
    SummaryMerger merger;
    EXPECT_TRUE(
        storage_->MergeReports(Model(), from, to, &merger, nullptr).ok());
    return merger.result().performance().labelled_count();
  };
  const absl::Time day = kT0 + absl::Hours(24);
  const uint64_t day_before = labelled(day, day + absl::Hours(24));
  auto put = [&](absl::Time start, uint64_t labels, uint64_t delta_labels) {
    v1::WindowReport r;
    r.set_agent_id(kLabelReportAgent);
    *r.mutable_window_start() = ToProto(start);
    *r.mutable_window_end() = ToProto(start + absl::Minutes(5));
    r.mutable_summary()->mutable_performance()->set_labelled_count(labels);
    v1::WindowSummary delta;
    delta.mutable_performance()->set_labelled_count(delta_labels);
    auto outcome =
        storage_->PutLabelReport(Model(), EncodeReport(r), delta, {});
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    return outcome.ok() ? *outcome : WriteOutcome::kDuplicate;
  };
  EXPECT_EQ(put(window, 5, 5), WriteOutcome::kStored);
  EXPECT_EQ(put(window, 7, 2), WriteOutcome::kStored);  // replaces: 7, not 12
  EXPECT_EQ(labelled(day, day + absl::Hours(24)), day_before + 7);
  // Rollups of the window, rebuilt, hold it once.
  Maintain(kT0 + absl::Hours(31));
  EXPECT_EQ(labelled(day, day + absl::Hours(24)), day_before + 7);
  // Days later the window's raw reports are gone: a new credit of 3 labels
  // reaches the rollups holding the window (minute to day) once.
  Maintain(kT0 + absl::Hours(24 * 3));
  const uint64_t hour = labelled(window, window + absl::Hours(1));
  const uint64_t minute = labelled(window, window + absl::Minutes(1));
  EXPECT_EQ(put(window, 10, 3), WriteOutcome::kExpired);
  EXPECT_EQ(labelled(day, day + absl::Hours(24)), day_before + 10);
  EXPECT_EQ(labelled(window, window + absl::Hours(1)), hour + 3);
  EXPECT_EQ(labelled(window, window + absl::Minutes(1)), minute + 3);
}

}  // namespace
}  // namespace aims::collector
