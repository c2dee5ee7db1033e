#include "collector/storage/rocks_storage.h"

#include <algorithm>
#include <map>

#include "absl/strings/escaping.h"
#include "common/base/time_util.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/testing/test_util.h"

namespace aims::collector {
namespace {

v1::Hello MakeHello(const std::string& agent, const std::string& version) {
  v1::Hello hello;
  hello.mutable_agent()->set_agent_id(agent);
  hello.mutable_model()->set_name("credit");
  hello.mutable_model()->set_version(version);
  hello.mutable_model()->set_environment("prod");
  hello.set_protocol_version(1);
  return hello;
}

v1::WindowReport MakeReport(const std::string& agent, uint64_t seq,
                            int64_t start_s, uint64_t events) {
  v1::WindowReport r;
  r.set_agent_id(agent);
  r.set_sequence(seq);
  *r.mutable_window_start() = ToProto(absl::FromUnixSeconds(start_s));
  *r.mutable_window_end() = ToProto(absl::FromUnixSeconds(start_s + 10));
  r.mutable_summary()->mutable_operational()->set_event_count(events);
  return r;
}

absl::Status Write(RocksStorage& s, std::vector<v1::WindowReport> reports,
                   std::vector<WriteOutcome>* outcomes) {
  std::vector<const v1::WindowReport*> ptrs;
  for (const auto& r : reports) ptrs.push_back(&r);
  return s.WriteReports(ptrs, absl::FromUnixSeconds(2000), outcomes);
}

TEST(RocksStorageTest, StoresDedupesAndSurvivesReopen) {
  testing::TempDir dir;
  RocksStorageOptions options;
  options.path = dir.path();
  {
    auto storage = RocksStorage::Open(options);
    ASSERT_TRUE(storage.ok()) << storage.status();
    auto seq = (*storage)->RegisterAgent(MakeHello("a1", "v1"),
                                         absl::FromUnixSeconds(1000));
    ASSERT_TRUE(seq.ok());
    EXPECT_EQ(*seq, 0u);
    std::vector<WriteOutcome> outcomes;
    // Seq 2 twice in one batch: the second is a duplicate.
    ASSERT_TRUE(Write(**storage,
                      {MakeReport("a1", 1, 100, 5), MakeReport("a1", 2, 110, 7),
                       MakeReport("a1", 2, 110, 7)},
                      &outcomes)
                    .ok());
    EXPECT_EQ(outcomes, (std::vector<WriteOutcome>{WriteOutcome::kStored,
                                                   WriteOutcome::kStored,
                                                   WriteOutcome::kDuplicate}));
    ASSERT_TRUE(
        Write(**storage, {MakeReport("a1", 1, 100, 5)}, &outcomes).ok());
    EXPECT_EQ(outcomes[0], WriteOutcome::kDuplicate);
  }
  auto storage = RocksStorage::Open(options);
  ASSERT_TRUE(storage.ok()) << storage.status();
  auto agents = (*storage)->ListAgents(v1::ModelSelector());
  ASSERT_EQ(agents.size(), 1u);
  EXPECT_EQ(agents[0].report_count(), 2u);
  EXPECT_EQ(agents[0].duplicate_count(), 2u);
  EXPECT_EQ(agents[0].durable_sequence(), 2u);
  EXPECT_EQ(agents[0].event_count(), 12u);
  // The sequence index survives too: a resend after restart is a duplicate.
  auto seq = (*storage)->RegisterAgent(MakeHello("a1", "v1"),
                                       absl::FromUnixSeconds(3000));
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, 2u);
  std::vector<WriteOutcome> outcomes;
  ASSERT_TRUE(Write(**storage, {MakeReport("a1", 2, 110, 7)}, &outcomes).ok());
  EXPECT_EQ(outcomes[0], WriteOutcome::kDuplicate);
  auto models = (*storage)->ListModels(v1::ModelSelector());
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0].report_count(), 2u);
  EXPECT_EQ(models[0].event_count(), 12u);
  EXPECT_EQ(models[0].agent_count(), 1u);
  EXPECT_EQ(FromProto(models[0].last_window_end()), absl::FromUnixSeconds(120));
}

TEST(RocksStorageTest, ScanIsPerModelAndInTimeOrder) {
  testing::TempDir dir;
  RocksStorageOptions options;
  options.path = dir.path();
  options.sync_writes = false;
  auto storage = RocksStorage::Open(options);
  ASSERT_TRUE(storage.ok());
  ASSERT_TRUE(
      (*storage)->RegisterAgent(MakeHello("a1", "v1"), absl::Now()).ok());
  ASSERT_TRUE(
      (*storage)->RegisterAgent(MakeHello("a2", "v1"), absl::Now()).ok());
  ASSERT_TRUE(
      (*storage)->RegisterAgent(MakeHello("b1", "v2"), absl::Now()).ok());
  std::vector<WriteOutcome> outcomes;
  ASSERT_TRUE(Write(**storage,
                    {MakeReport("a1", 1, 120, 1), MakeReport("a2", 1, 100, 2),
                     MakeReport("a1", 2, 130, 3), MakeReport("b1", 1, 100, 4),
                     MakeReport("a2", 2, -50, 5)},
                    &outcomes)
                  .ok());
  v1::ModelRef v1_model = MakeHello("x", "v1").model();
  std::vector<int64_t> starts;
  ASSERT_TRUE((*storage)
                  ->ScanReports(v1_model, absl::FromUnixSeconds(-100),
                                absl::FromUnixSeconds(130),
                                [&](const StoredReport& r) {
                                  starts.push_back(
                                      r.report.window_start().seconds());
                                  return true;
                                })
                  .ok());
  // [from, to): 130 is excluded, the negative (pre-1970) start sorts first.
  EXPECT_EQ(starts, (std::vector<int64_t>{-50, 100, 120}));
  v1::ModelSelector v2;
  v2.set_version("v2");
  ASSERT_EQ((*storage)->ListAgents(v2).size(), 1u);
}

TEST(RocksStorageTest, HeaderScanReadsTheSameReportsWithoutSummaries) {
  testing::TempDir dir;
  RocksStorageOptions options;
  options.path = dir.path();
  options.sync_writes = false;
  auto storage = RocksStorage::Open(options);
  ASSERT_TRUE(storage.ok());
  for (const char* agent : {"a1", "a2"}) {
    ASSERT_TRUE(
        (*storage)->RegisterAgent(MakeHello(agent, "v1"), absl::Now()).ok());
  }
  std::vector<WriteOutcome> outcomes;
  ASSERT_TRUE(Write(**storage,
                    {MakeReport("a1", 1, 100, 1), MakeReport("a2", 1, 100, 2),
                     MakeReport("a1", 2, 110, 3), MakeReport("a2", 2, 130, 4)},
                    &outcomes)
                  .ok());
  const v1::ModelRef model = MakeHello("x", "v1").model();
  std::vector<v1::WindowReport> whole, headers;
  auto scan = [&](bool with_summary, std::vector<v1::WindowReport>* out) {
    auto fn = [&](const StoredReport& r) {
      out->push_back(r.report);
      return true;
    };
    const absl::Time from = absl::FromUnixSeconds(0);
    const absl::Time to = absl::FromUnixSeconds(130);
    return with_summary ? (*storage)->ScanReports(model, from, to, fn)
                        : (*storage)->ScanReportHeaders(model, from, to, fn);
  };
  ASSERT_TRUE(scan(true, &whole).ok());
  ASSERT_TRUE(scan(false, &headers).ok());
  ASSERT_EQ(headers.size(), 3u);  // [from, to): the window at 130 is out
  ASSERT_EQ(whole.size(), headers.size());
  for (size_t i = 0; i < whole.size(); ++i) {
    EXPECT_TRUE(whole[i].has_summary());
    EXPECT_FALSE(headers[i].has_summary()) << i;
    v1::WindowReport without = whole[i];
    without.clear_summary();
    EXPECT_EQ(headers[i].SerializeAsString(), without.SerializeAsString()) << i;
  }
}

TEST(RocksStorageTest, UnregisteredAgentIsAnError) {
  testing::TempDir dir;
  RocksStorageOptions options;
  options.path = dir.path();
  auto storage = RocksStorage::Open(options);
  ASSERT_TRUE(storage.ok());
  std::vector<WriteOutcome> outcomes;
  absl::Status s = Write(**storage, {MakeReport("ghost", 1, 0, 1)}, &outcomes);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
}

TEST(RocksStorageTest, NewerSchemaIsRefusedWithAClearError) {
  testing::TempDir dir;
  RocksStorageOptions options;
  options.path = dir.path();
  ASSERT_TRUE(RocksStorage::Open(options).ok());
  {
    // Pretend a future aims wrote this directory.
    rocksdb::DB* raw = nullptr;
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(),
                                                dir.path(), &names)
                    .ok());
    for (const std::string& name : names)
      cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
    ASSERT_TRUE(
        rocksdb::DB::Open(rocksdb::DBOptions(), dir.path(), cfs, &handles, &raw)
            .ok());
    ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), "schema_version", "99").ok());
    for (auto* h : handles) raw->DestroyColumnFamilyHandle(h);
    delete raw;
  }
  auto storage = RocksStorage::Open(options);
  ASSERT_FALSE(storage.ok());
  EXPECT_EQ(storage.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(storage.status().message().find("schema version 99"),
            absl::string_view::npos);
}

// The directory layout of docs/storage.md, byte for byte: a directory that
// earlier versions wrote must still read (the key encoding is
// common/rocks/keys.h; tests/common/rocks/keys_test.cc pins it alone).
TEST(RocksStorageTest, KeysAndFamiliesAreThoseEarlierVersionsWrote) {
  testing::TempDir dir;
  RocksStorageOptions options;
  options.path = dir.path();
  {
    auto storage = RocksStorage::Open(options);
    ASSERT_TRUE(storage.ok()) << storage.status();
    ASSERT_TRUE(
        (*storage)
            ->RegisterAgent(MakeHello("a1", "v1"), absl::FromUnixSeconds(2000))
            .ok());
    std::vector<WriteOutcome> outcomes;
    ASSERT_TRUE(
        Write(**storage, {MakeReport("a1", 1, 1000, 5)}, &outcomes).ok());
  }
  std::vector<std::string> names;
  ASSERT_TRUE(
      rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.path(), &names)
          .ok());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"agents",
                                             "audit",
                                             "default",
                                             "evaluation",
                                             "gaps",
                                             "label_dirty",
                                             "label_ids",
                                             "label_pending",
                                             "label_records",
                                             "meta",
                                             "models",
                                             "nonconformities",
                                             "nonconformity_copies",
                                             "outbox",
                                             "plans",
                                             "profiles",
                                             "report_headers",
                                             "reports",
                                             "rollup_10m",
                                             "rollup_10s",
                                             "rollup_1d",
                                             "rollup_1h",
                                             "rollup_1m",
                                             "rollup_dirty",
                                             "sequences"}));
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const std::string& name : names) {
    cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  ASSERT_TRUE(
      rocksdb::DB::Open(rocksdb::DBOptions(), dir.path(), cfs, &handles, &raw)
          .ok());
  std::map<std::string, rocksdb::ColumnFamilyHandle*> cf;
  for (auto* h : handles) cf[h->GetName()] = h;
  // Every record of a family, keys and values in hex.
  auto dump = [&](const std::string& family) {
    std::map<std::string, std::string> out;
    std::unique_ptr<rocksdb::Iterator> it(
        raw->NewIterator(rocksdb::ReadOptions(), cf[family]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      out[absl::BytesToHexString(it->key().ToString())] =
          absl::BytesToHexString(it->value().ToString());
    }
    return out;
  };
  // Model id 1, agent number 2 (one counter), window start 1000 s =
  // 1,000,000 ms = 0xf4240, sign bit flipped; sequence 1.
  const std::string report_key =
      "0000000000000001"
      "80000000000f4240"
      "0000000000000002"
      "0000000000000001";
  const std::map<std::string, std::string> reports = dump("reports");
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports.begin()->first, report_key);
  const std::map<std::string, std::string> headers = dump("report_headers");
  ASSERT_EQ(headers.size(), 1u);
  EXPECT_EQ(headers.begin()->first, report_key);
  EXPECT_EQ(dump("sequences"),
            (std::map<std::string, std::string>{
                {"00000000000000020000000000000001", report_key}}));
  const std::map<std::string, std::string> defaults = dump("default");
  EXPECT_EQ(defaults.at(absl::BytesToHexString(
                std::string("model:credit\0v1\0prod", 20))),
            "0000000000000001");
  EXPECT_EQ(defaults.at(absl::BytesToHexString("agent:a1")),
            "0000000000000002");
  EXPECT_EQ(defaults.at(absl::BytesToHexString("next_id")), "0000000000000003");
  EXPECT_EQ(dump("agents").begin()->first, "0000000000000002");
  EXPECT_EQ(dump("models").begin()->first, "0000000000000001");
  for (auto* h : handles) raw->DestroyColumnFamilyHandle(h);
  delete raw;
}

}  // namespace
}  // namespace aims::collector
