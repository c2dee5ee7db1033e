// The replicator (queue, semi-synchronous copies, catch-up from the peer's
// persisted position, series state, join records and labels into the
// peer's label join) against a real ReplicationService over two real
// RocksDB storages; the network is a fake that can be cut.
#include "collector/fleet/replicator.h"

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "collector/fleet/rendezvous.h"
#include "collector/fleet/replication_service.h"
#include "collector/labels/label_join.h"
#include "collector/storage/rocks_storage.h"
#include "common/base/grpc_status.h"
#include "common/base/time_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "tests/testing/test_util.h"

namespace aims::collector::fleet {
namespace {

using aims::fleet::v1::PositionRequest;
using aims::fleet::v1::PositionResponse;
using aims::fleet::v1::ReplicateRequest;
using aims::fleet::v1::ReplicateResponse;

constexpr char kPeer[] = "10.0.0.2:4317";
// The next collector by rendezvous once kPeer is lost (the same replica
// storage stands for it).
constexpr char kNextPeer[] = "10.0.0.3:4317";

// Calls the peer's service in process; `down` fails every call,
// `down_peer` the calls to that one.
class FakePeers : public ReplicationPeers {
 public:
  explicit FakePeers(ReplicationService* service) : service_(service) {}

  absl::StatusOr<PositionResponse> Position(
      const std::string& peer, const PositionRequest& request) override {
    if (!Up(peer)) return absl::UnavailableError("peer down");
    grpc::ServerContext ctx;
    PositionResponse response;
    grpc::Status s = service_->Position(&ctx, &request, &response);
    if (!s.ok()) return absl::InternalError(s.error_message());
    return response;
  }
  absl::StatusOr<ReplicateResponse> Replicate(const std::string& peer,
                                              const ReplicateRequest& request,
                                              absl::Duration) override {
    ++calls;
    if (request.labels_size() > 0) label_calls.push_back(peer);
    largest = std::max(largest, request.ByteSizeLong());
    if (!Up(peer)) return absl::UnavailableError("peer down");
    grpc::ServerContext ctx;
    ReplicateResponse response;
    grpc::Status s = service_->Replicate(&ctx, &request, &response);
    if (!s.ok()) return absl::InternalError(s.error_message());
    return response;
  }
  absl::StatusOr<aims::fleet::v1::HandoverResponse> Handover(
      const std::string& peer, const aims::fleet::v1::HandoverRequest& request,
      absl::Duration) override {
    if (!Up(peer)) return absl::UnavailableError("peer down");
    grpc::ServerContext ctx;
    aims::fleet::v1::HandoverResponse response;
    grpc::Status s = service_->Handover(&ctx, &request, &response);
    if (!s.ok()) return FromGrpcStatus(s);
    return response;
  }

  bool down = false;
  std::string down_peer;
  int calls = 0;
  std::vector<std::string> label_calls;  // the peer of each label copy
  size_t largest = 0;  // bytes of the largest Replicate request

 private:
  bool Up(const std::string& peer) const {
    return !down && peer != down_peer && (peer == kPeer || peer == kNextPeer);
  }

  ReplicationService* service_;
};

std::unique_ptr<RocksStorage> OpenStorage(const std::string& path) {
  RocksStorageOptions options;
  options.path = path;
  options.sync_writes = false;
  auto storage = RocksStorage::Open(options);
  EXPECT_TRUE(storage.ok()) << storage.status();
  return std::move(*storage);
}

double Value(prometheus::Registry& registry, const std::string& name) {
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    if (f.name != name || f.metric.empty()) continue;
    return f.type == prometheus::MetricType::Counter ? f.metric[0].counter.value
                                                     : f.metric[0].gauge.value;
  }
  return -1;
}

// A window report of agent-1 (3 events), carrying join records of
// `predictions` and labels for `labelled`.
v1::WindowReport Carrying(uint64_t sequence,
                          std::vector<std::string> predictions,
                          std::vector<std::string> labelled) {
  v1::WindowReport r;
  r.set_agent_id("agent-1");
  r.set_sequence(sequence);
  const absl::Time start = absl::Now() - absl::Minutes(30) +
                           absl::Seconds(static_cast<int64_t>(sequence));
  *r.mutable_window_start() = ToProto(start);
  *r.mutable_window_end() = ToProto(start + absl::Seconds(1));
  r.mutable_summary()->mutable_operational()->set_event_count(3);
  for (const std::string& id : predictions) {
    v1::PendingPrediction* p = r.add_predictions();
    p->set_prediction_id(id);
    p->mutable_prediction()->set_class_label("1");
  }
  for (const std::string& id : labelled) {
    v1::LabelEvent* label = r.add_labels();
    label->set_prediction_id(id);
    label->mutable_label()->set_class_label("0");
    *label->mutable_timestamp() = ToProto(absl::Now());
  }
  return r;
}

class ReplicatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    owner_ = OpenStorage(dir_.File("owner"));
    replica_ = OpenStorage(dir_.File("replica"));
    service_ = std::make_unique<ReplicationService>(
        replica_.get(), nullptr, &RealClock::Get(),
        [this](const std::string& model) { return model == replica_owns_; });
    peers_ = std::make_unique<FakePeers>(service_.get());
    hello_.mutable_agent()->set_agent_id("agent-1");
    hello_.mutable_model()->set_name("credit");
    hello_.mutable_model()->set_version("v1");
    hello_.mutable_model()->set_environment("prod");
    hello_.set_protocol_version(1);
    ASSERT_TRUE(owner_->RegisterAgent(hello_, absl::Now()).ok());
  }

  std::unique_ptr<Replicator> NewReplicator(size_t max_queue = 100,
                                            bool sync = false) {
    ReplicatorOptions options;
    options.self = "10.0.0.1:4317";
    options.max_queue = max_queue;
    options.sync_timeout = sync ? absl::Seconds(1) : absl::ZeroDuration();
    registry_ = std::make_unique<prometheus::Registry>();
    return std::make_unique<Replicator>(
        options, owner_.get(), peers_.get(),
        [this](const std::string& model) {
          return model == "credit" ? peer_ : std::string();
        },
        [](const std::string& model) { return model == "credit"; }, *registry_);
  }

  // Stores report `sequence` of agent-1 on the owner; its encoded form.
  EncodedReport Store(uint64_t sequence) {
    const v1::WindowReport report = Carrying(sequence, {}, {});
    std::vector<WriteOutcome> outcomes;
    EXPECT_TRUE(owner_->WriteReports({&report}, absl::Now(), &outcomes).ok());
    return EncodeReport(report);
  }

  // The replica's service stores copies through a label join on the
  // replica's storage, posted labels too (defined below the helpers).
  std::unique_ptr<LabelJoin> ServeThroughLabelJoin();

  // The replica's (report count, highest sequence) of agent-1.
  std::pair<uint64_t, uint64_t> AtReplica() {
    for (const v1::AgentInfo& a : replica_->ListAgents({})) {
      if (a.agent().agent_id() == "agent-1")
        return {a.report_count(), a.durable_sequence()};
    }
    return {0, 0};
  }

  testing::TempDir dir_;
  std::unique_ptr<RocksStorage> owner_, replica_;
  std::unique_ptr<ReplicationService> service_;
  std::unique_ptr<FakePeers> peers_;
  std::unique_ptr<prometheus::Registry> registry_;
  std::string replica_owns_;
  std::string peer_ = kPeer;  // the model's peer by rendezvous
  v1::Hello hello_;
};

TEST_F(ReplicatorTest, QueueCopiesEachStoredReportToThePeerExactlyOnce) {
  auto replicator = NewReplicator();
  std::vector<EncodedReport> reports;
  for (uint64_t seq = 1; seq <= 5; ++seq) reports.push_back(Store(seq));
  for (const EncodedReport& r : reports) replicator->OnStored(r);
  EXPECT_EQ(Value(*registry_, "aims_fleet_replication_queue"), 5);
  ASSERT_TRUE(replicator->RunOnce().ok());
  EXPECT_EQ(AtReplica(), std::make_pair(uint64_t{5}, uint64_t{5}));
  EXPECT_EQ(Value(*registry_, "aims_fleet_replication_queue"), 0);
  EXPECT_EQ(Value(*registry_, "aims_fleet_replicated_reports_total"), 5);
  EXPECT_EQ(Value(*registry_, "aims_fleet_replication_lag_seconds"), 0);
  // Sent again (e.g. by a catch-up): the replica stores nothing twice.
  for (const EncodedReport& r : reports) replicator->OnStored(r);
  ASSERT_TRUE(replicator->RunOnce().ok());
  EXPECT_EQ(AtReplica(), std::make_pair(uint64_t{5}, uint64_t{5}));
  EXPECT_EQ(Value(*registry_, "aims_fleet_replicated_reports_total"), 5);
}

// A label join over `storage` and a writer into it.
std::unique_ptr<LabelJoin> OpenJoin(Storage* storage) {
  auto join =
      LabelJoin::Open(storage, &RealClock::Get(), LabelJoinOptions(), nullptr);
  EXPECT_TRUE(join.ok()) << join.status();
  return std::move(*join);
}

ReplicationService::ReportWriter WriterOf(LabelJoin* join) {
  return [join](absl::Span<EncodedReport* const> reports, absl::Time now,
                std::vector<WriteOutcome>* outcomes) {
    return join->WriteReports(reports, now, outcomes);
  };
}

// The label join's Submit, for copies of posted labels.
ReplicationService::LabelWriter LabelWriterOf(LabelJoin* join) {
  return [join](const v1::ModelRef& model,
                const google::protobuf::RepeatedPtrField<v1::LabelEvent>& in,
                absl::Time now) -> absl::StatusOr<size_t> {
    std::vector<LabelEvent> labels;
    for (const v1::LabelEvent& l : in) {
      LabelEvent label;
      EventError error;
      if (LabelFromProto(l, EventLimits(), &label, &error))
        labels.push_back(label);
    }
    if (absl::Status s = join->Submit(model, labels, now); !s.ok()) return s;
    return labels.size();
  };
}

std::unique_ptr<LabelJoin> ReplicatorTest::ServeThroughLabelJoin() {
  std::unique_ptr<LabelJoin> join = OpenJoin(replica_.get());
  service_ = std::make_unique<ReplicationService>(
      replica_.get(), nullptr, &RealClock::Get(),
      [](const std::string&) { return false; }, WriterOf(join.get()),
      LabelWriterOf(join.get()));
  peers_ = std::make_unique<FakePeers>(service_.get());
  return join;
}

v1::LabelEvent Label(const std::string& prediction_id) {
  v1::LabelEvent label;
  label.set_prediction_id(prediction_id);
  label.mutable_label()->set_class_label("0");
  *label.mutable_timestamp() = ToProto(absl::Now());
  return label;
}

// Labels posted to the owner before their prediction arrived wait in the
// peer's join too, and join the record when the report copy brings it; a
// send that fails keeps them for the next round.
TEST_F(ReplicatorTest, PostedLabelsWaitOnThePeerAndJoinTheirPrediction) {
  std::unique_ptr<LabelJoin> join = ServeThroughLabelJoin();
  auto replicator = NewReplicator();
  replicator->OnLabels(hello_.model(), {Label("a"), Label("b")});
  peers_->down = true;
  EXPECT_FALSE(replicator->RunOnce().ok());
  EXPECT_EQ(join->counts().pending, 0u);
  EXPECT_EQ(Value(*registry_, "aims_fleet_replication_label_queue"), 2);
  peers_->down = false;
  ASSERT_TRUE(replicator->RunOnce().ok());
  EXPECT_EQ(join->counts().pending, 2u);
  EXPECT_EQ(Value(*registry_, "aims_fleet_replication_label_queue"), 0);
  EXPECT_EQ(Value(*registry_, "aims_fleet_replicated_labels_total"), 2);

  const v1::WindowReport report = Carrying(1, {"a", "c"}, {});
  EncodedReport encoded = EncodeReport(report);
  std::vector<WriteOutcome> outcomes;
  ASSERT_TRUE(
      owner_->WriteEncodedReports({&encoded}, absl::Now(), &outcomes).ok());
  replicator->OnStored(encoded);
  ASSERT_TRUE(replicator->RunOnce().ok());
  const LabelJoinCounts counts = join->counts();
  EXPECT_EQ(counts.records, 2u);
  EXPECT_EQ(counts.joins, 1u);
  EXPECT_EQ(counts.pending, 1u);  // "b" still waits for its prediction
}

// Labels posted while the owner is fenced (no peer) wait until the fence
// lifts, then reach the peer.
TEST_F(ReplicatorTest, LabelsPostedWhileFencedWaitForThePeer) {
  std::unique_ptr<LabelJoin> join = ServeThroughLabelJoin();
  auto replicator = NewReplicator();
  bool fenced = true;
  replicator->HoldLabelsWhile([&] { return fenced; });
  peer_ = "";  // a fenced collector has no peer
  replicator->OnLabels(hello_.model(), {Label("a"), Label("b")});
  ASSERT_TRUE(replicator->RunOnce().ok());
  EXPECT_EQ(join->counts().pending, 0u);
  EXPECT_EQ(Value(*registry_, "aims_fleet_replication_label_queue"), 2);
  fenced = false;
  peer_ = kPeer;
  ASSERT_TRUE(replicator->RunOnce().ok());
  EXPECT_EQ(join->counts().pending, 2u);
  EXPECT_EQ(Value(*registry_, "aims_fleet_replication_label_queue"), 0);
}

// Labels that waited out a fence for a model that moved away for good
// meanwhile go to both of its holders; one that fails gets them at the next
// round (the other again, which changes nothing).
TEST_F(ReplicatorTest, LabelsOfAModelThatMovedAwayGoToBothItsHolders) {
  std::unique_ptr<LabelJoin> join = ServeThroughLabelJoin();
  auto replicator = NewReplicator();
  bool fenced = true;
  replicator->HoldLabelsWhile([&] { return fenced; });
  std::vector<std::string> holders;
  replicator->SetLabelHolders([&](const std::string&) { return holders; });
  replicator->OnLabels(hello_.model(), {Label("a"), Label("b")});
  ASSERT_TRUE(replicator->RunOnce().ok());
  EXPECT_TRUE(peers_->label_calls.empty());
  fenced = false;
  holders = {kPeer, kNextPeer};  // neither is this collector
  peers_->down_peer = kNextPeer;
  EXPECT_FALSE(replicator->RunOnce().ok());
  EXPECT_EQ(join->counts().pending, 2u);  // on kPeer
  EXPECT_EQ(Value(*registry_, "aims_fleet_replication_label_queue"), 2);
  peers_->down_peer.clear();
  ASSERT_TRUE(replicator->RunOnce().ok());
  EXPECT_EQ(join->counts().pending, 2u);
  EXPECT_EQ(Value(*registry_, "aims_fleet_replication_label_queue"), 0);
  EXPECT_EQ(peers_->label_calls,
            (std::vector<std::string>{kPeer, kNextPeer, kPeer, kNextPeer}));
}

// A copied report keeps its join records and forwarded labels: the peer's
// label join stores the records and joins a later report's label to one, as
// the owner's does, so a takeover finds them.
TEST_F(ReplicatorTest, JoinRecordsAndLabelsReachThePeersLabelJoin) {
  std::unique_ptr<LabelJoin> join = OpenJoin(replica_.get());
  service_ = std::make_unique<ReplicationService>(
      replica_.get(), nullptr, &RealClock::Get(),
      [](const std::string&) { return false; }, WriterOf(join.get()));
  peers_ = std::make_unique<FakePeers>(service_.get());
  auto replicator = NewReplicator(100, /*sync=*/true);
  const v1::WindowReport first = Carrying(1, {"a", "b", "c"}, {});
  const v1::WindowReport second = Carrying(2, {}, {"b"});
  std::vector<EncodedReport> stored;
  stored.reserve(2);  // the pointers handed out stay valid
  for (const v1::WindowReport* r : {&first, &second}) {
    stored.push_back(EncodeReport(*r));
    EncodedReport* e = &stored.back();
    std::vector<WriteOutcome> outcomes;
    ASSERT_TRUE(owner_->WriteEncodedReports({e}, absl::Now(), &outcomes).ok());
    ASSERT_FALSE(e->label_bytes.empty());
    replicator->OnStoredBatch({e});
  }
  EXPECT_EQ(AtReplica(), std::make_pair(uint64_t{2}, uint64_t{2}));
  const LabelJoinCounts counts = join->counts();
  EXPECT_EQ(counts.records, 3u);
  EXPECT_EQ(counts.joins, 1u);
  EXPECT_EQ(counts.pending, 0u);
}

// A catch-up copy is read back from storage, which keeps join records
// apart: the window's records, with the label in force of each, go with the
// first copy of the window.
TEST_F(ReplicatorTest, CatchUpCopiesCarryTheirWindowsJoinRecords) {
  std::unique_ptr<LabelJoin> owner_join = OpenJoin(owner_.get());
  std::unique_ptr<LabelJoin> replica_join = OpenJoin(replica_.get());
  service_ = std::make_unique<ReplicationService>(
      replica_.get(), nullptr, &RealClock::Get(),
      [](const std::string&) { return false; }, WriterOf(replica_join.get()));
  peers_ = std::make_unique<FakePeers>(service_.get());
  for (const v1::WindowReport& r :
       {Carrying(1, {"a", "b", "c"}, {}), Carrying(2, {"d"}, {"b"})}) {
    EncodedReport e = EncodeReport(r);
    std::vector<WriteOutcome> outcomes;
    ASSERT_TRUE(owner_join->WriteReports({&e}, absl::Now(), &outcomes).ok());
  }
  ASSERT_EQ(owner_join->counts().joins, 1u);
  auto replicator = NewReplicator();
  replicator->SetJoinRecords(
      [j = owner_join.get()](const v1::ModelRef& model, absl::Time start) {
        return j->CarriedBytes(model, start);
      });
  replicator->CatchUpAll();
  ASSERT_TRUE(replicator->RunOnce().ok());
  EXPECT_EQ(AtReplica(), std::make_pair(uint64_t{2}, uint64_t{2}));
  const LabelJoinCounts counts = replica_join->counts();
  EXPECT_EQ(counts.records, 4u);
  EXPECT_EQ(counts.joins, 1u);  // b's label, in force on the owner
  EXPECT_EQ(counts.pending, 0u);
}

TEST_F(ReplicatorTest, SemiSynchronousCopyIsOnThePeerWhenTheHookReturns) {
  auto replicator = NewReplicator(100, /*sync=*/true);
  const EncodedReport r1 = Store(1), r2 = Store(2);
  replicator->OnStoredBatch({&r1, &r2});
  EXPECT_EQ(AtReplica(), std::make_pair(uint64_t{2}, uint64_t{2}));
  EXPECT_EQ(replicator->queued(), 0u);
  // The peer is down: the copy waits in the queue, later ones too (the
  // pause), and all arrive once it is back.
  peers_->down = true;
  const EncodedReport r3 = Store(3);
  replicator->OnStoredBatch({&r3});
  EXPECT_EQ(replicator->queued(), 1u);
  const int calls = peers_->calls;
  const EncodedReport r4 = Store(4);
  replicator->OnStoredBatch({&r4});
  EXPECT_EQ(peers_->calls, calls);  // paused: not tried synchronously
  EXPECT_EQ(Value(*registry_, "aims_fleet_replication_failures_total"), 1);
  peers_->down = false;
  ASSERT_TRUE(replicator->RunOnce().ok());
  EXPECT_EQ(AtReplica(), std::make_pair(uint64_t{4}, uint64_t{4}));
}

TEST_F(ReplicatorTest, PauseAfterAFailedCopyIsForThatPeerOnly) {
  auto replicator = NewReplicator(100, /*sync=*/true);
  // The model's peer is lost: its copy waits in the queue.
  peers_->down_peer = kPeer;
  const EncodedReport r1 = Store(1);
  replicator->OnStoredBatch({&r1});
  EXPECT_EQ(replicator->queued(), 1u);
  EXPECT_EQ(AtReplica(), std::make_pair(uint64_t{0}, uint64_t{0}));
  // The fleet moves the copies to the next collector: they are synchronous
  // again at once, not after the lost peer's pause (a second loss soon
  // after would lose the windows acknowledged meanwhile).
  peer_ = kNextPeer;
  const EncodedReport r2 = Store(2);
  replicator->OnStoredBatch({&r2});
  EXPECT_EQ(AtReplica(), std::make_pair(uint64_t{1}, uint64_t{2}));
  EXPECT_EQ(replicator->queued(), 1u);
}

TEST_F(ReplicatorTest, FullQueueDropsCopiesAndCatchUpSendsThem) {
  auto replicator = NewReplicator(/*max_queue=*/2);
  for (uint64_t seq = 1; seq <= 5; ++seq) replicator->OnStored(Store(seq));
  EXPECT_EQ(replicator->queued(), 2u);
  EXPECT_EQ(Value(*registry_, "aims_fleet_replication_dropped_total"), 3);
  // The queue's two (1, 2) and the model's catch-up (3..5).
  ASSERT_TRUE(replicator->RunOnce().ok());
  EXPECT_EQ(AtReplica(), std::make_pair(uint64_t{5}, uint64_t{5}));
}

TEST_F(ReplicatorTest, CatchUpResumesFromThePeersPositionAndFillsHoles) {
  {
    auto replicator = NewReplicator();
    for (uint64_t seq = 1; seq <= 3; ++seq) replicator->OnStored(Store(seq));
    peers_->down = true;
    EXPECT_FALSE(replicator->RunOnce().ok());
    // The send, then the catch-up it calls for in the same round.
    EXPECT_EQ(Value(*registry_, "aims_fleet_replication_failures_total"), 2);
    EXPECT_GT(Value(*registry_, "aims_fleet_replication_lag_seconds"), 0);
    EXPECT_EQ(AtReplica(), std::make_pair(uint64_t{0}, uint64_t{0}));
  }  // the owner restarts: nothing of the queue survives
  peers_->down = false;
  // The replica holds 5 but not 4 (a copy lost on the way).
  const EncodedReport r4 = Store(4), r5 = Store(5);
  {
    auto replicator = NewReplicator(100, /*sync=*/true);
    replicator->OnStoredBatch({&r5});
    EXPECT_EQ(AtReplica(), std::make_pair(uint64_t{1}, uint64_t{5}));
    // What every start does: catch up from the replica's own storage.
    replicator->CatchUpAll();
    ASSERT_TRUE(replicator->RunOnce().ok());
    EXPECT_EQ(AtReplica(), std::make_pair(uint64_t{5}, uint64_t{5}));
    EXPECT_EQ(Value(*registry_, "aims_fleet_replicated_reports_total"), 5);
  }
}

TEST_F(ReplicatorTest, SendsChangedSeriesStateOfOwnedModelsOnly) {
  auto replicator = NewReplicator();
  v1::ObjectiveStatus firing;
  firing.set_objective_id("busy");
  *firing.mutable_model() = hello_.model();
  firing.set_state(v1::OBJECTIVE_STATE_FIRING);
  firing.set_nonconformity_id("NC-000001");
  v1::ObjectiveStatus other = firing;
  other.mutable_model()->set_name("fraud");  // not owned here
  ASSERT_TRUE(
      owner_
          ->Apply(
              {{Table::kEvaluation, "busy/credit", firing.SerializeAsString()},
               {Table::kEvaluation, "busy/fraud", other.SerializeAsString()}})
          .ok());
  ASSERT_TRUE(replicator->RunOnce().ok());
  absl::StatusOr<std::string> copy =
      replica_->Get(Table::kEvaluation, "busy/credit");
  ASSERT_TRUE(copy.ok());
  v1::ObjectiveStatus copied;
  ASSERT_TRUE(copied.ParseFromString(*copy));
  EXPECT_EQ(copied.state(), v1::OBJECTIVE_STATE_FIRING);
  // The record's id as it is: the replica adopts the record with the model.
  EXPECT_EQ(copied.nonconformity_id(), "NC-000001");
  EXPECT_FALSE(replica_->Get(Table::kEvaluation, "busy/fraud").ok());
  // Unchanged: not sent again.
  const int calls = peers_->calls;
  ASSERT_TRUE(replicator->RunOnce().ok());
  EXPECT_EQ(peers_->calls, calls);
  // A replica that owns the model now keeps its own state.
  replica_owns_ = "credit";
  firing.set_state(v1::OBJECTIVE_STATE_RESOLVED);
  ASSERT_TRUE(owner_
                  ->Apply({{Table::kEvaluation, "busy/credit",
                            firing.SerializeAsString()}})
                  .ok());
  ASSERT_TRUE(replicator->RunOnce().ok());
  v1::ObjectiveStatus kept;
  ASSERT_TRUE(
      kept.ParseFromString(*replica_->Get(Table::kEvaluation, "busy/credit")));
  EXPECT_EQ(kept.state(), v1::OBJECTIVE_STATE_FIRING);
}

TEST_F(ReplicatorTest, CopiesTheRecordsOfOwnedModelsAsTheyChange) {
  auto replicator = NewReplicator();
  v1::Nonconformity nc;
  nc.set_id("NC-c1-000001");
  nc.set_objective_id("busy");
  *nc.mutable_model() = hello_.model();
  nc.set_stage(v1::NONCONFORMITY_STAGE_OPEN);
  nc.add_history()->set_to(v1::NONCONFORMITY_STAGE_OPEN);
  v1::Nonconformity fraud = nc;  // a model not owned here
  fraud.set_id("NC-c1-000002");
  fraud.mutable_model()->set_name("fraud");
  ASSERT_TRUE(
      owner_
          ->Apply({{Table::kNonconformities, nc.id(), nc.SerializeAsString()},
                   {Table::kNonconformities, fraud.id(),
                    fraud.SerializeAsString()}})
          .ok());
  ASSERT_TRUE(replicator->RunOnce().ok());
  v1::Nonconformity copy;
  ASSERT_TRUE(copy.ParseFromString(
      *replica_->Get(Table::kNonconformityCopies, nc.id())));
  EXPECT_EQ(copy.stage(), v1::NONCONFORMITY_STAGE_OPEN);
  // A copy, not a record of the replica's own.
  EXPECT_FALSE(replica_->Get(Table::kNonconformities, nc.id()).ok());
  EXPECT_FALSE(replica_->Get(Table::kNonconformityCopies, fraud.id()).ok());
  // Unchanged: not sent again; a step: sent.
  const int calls = peers_->calls;
  ASSERT_TRUE(replicator->RunOnce().ok());
  EXPECT_EQ(peers_->calls, calls);
  nc.set_stage(v1::NONCONFORMITY_STAGE_ACKNOWLEDGED);
  nc.add_history()->set_to(v1::NONCONFORMITY_STAGE_ACKNOWLEDGED);
  ASSERT_TRUE(
      owner_
          ->Apply({{Table::kNonconformities, nc.id(), nc.SerializeAsString()}})
          .ok());
  ASSERT_TRUE(replicator->RunOnce().ok());
  ASSERT_TRUE(copy.ParseFromString(
      *replica_->Get(Table::kNonconformityCopies, nc.id())));
  EXPECT_EQ(copy.stage(), v1::NONCONFORMITY_STAGE_ACKNOWLEDGED);
  EXPECT_EQ(copy.history_size(), 2);
}

// However many records there are (they are never deleted, and all go
// again after a restart), they travel in requests the peer accepts.
TEST_F(ReplicatorTest, ManyRecordsTravelInRequestsOfBoundedSize) {
  auto replicator = NewReplicator();
  std::vector<Mutation> rows;
  for (int i = 0; i < 3000; ++i) {
    v1::Nonconformity nc;
    nc.set_id(absl::StrCat("NC-c1-", i));
    *nc.mutable_model() = hello_.model();
    nc.set_title(std::string(1000, 'x'));  // about 1 KB each
    rows.push_back({Table::kNonconformities, nc.id(), nc.SerializeAsString()});
  }
  ASSERT_TRUE(owner_->Apply(rows).ok());
  ASSERT_TRUE(replicator->RunOnce().ok());
  EXPECT_GE(peers_->calls, 3);
  EXPECT_LE(peers_->largest, size_t{1100} << 10);
  int copies = 0;
  ASSERT_TRUE(replica_
                  ->Scan(Table::kNonconformityCopies, "",
                         [&](absl::string_view, absl::string_view) {
                           ++copies;
                           return true;
                         })
                  .ok());
  EXPECT_EQ(copies, 3000);
}

// A collector that gains models asks the others for their state, records
// and profiles of them: a member answers only those the asker owns under
// the asker's list, and only once its own list is the same.
TEST_F(ReplicatorTest, HandoverAnswersTheAskersModelsOnceTheListsAgree) {
  const std::vector<std::string> members = {"10.0.0.1:4317", kPeer};
  // Models by their owner under `members`.
  std::string mine, theirs;
  for (int i = 0; mine.empty() || theirs.empty(); ++i) {
    const std::string model = absl::StrCat("model-", i);
    (RendezvousOwner(model, members) == members[0] ? mine : theirs) = model;
  }
  std::vector<Mutation> rows;
  int n = 0;
  for (const std::string& model : {mine, theirs}) {
    v1::ObjectiveStatus status;
    status.set_objective_id("busy");
    status.mutable_model()->set_name(model);
    status.set_state(v1::OBJECTIVE_STATE_FIRING);
    rows.push_back(
        {Table::kEvaluation, "busy/" + model, status.SerializeAsString()});
    v1::Nonconformity nc;
    nc.set_id(absl::StrCat("NC-c2-00000", ++n));
    *nc.mutable_model() = status.model();
    rows.push_back({Table::kNonconformities, nc.id(), nc.SerializeAsString()});
    nc.set_id(absl::StrCat("NC-c3-00000", n));  // a copy kept as replica
    rows.push_back(
        {Table::kNonconformityCopies, nc.id(), nc.SerializeAsString()});
  }
  ASSERT_TRUE(replica_->Apply(rows).ok());
  for (const std::string& model : {mine, theirs}) {
    v1::Hello hello = hello_;
    hello.mutable_agent()->set_agent_id(model + "-agent");
    hello.mutable_model()->set_name(model);
    ASSERT_TRUE(replica_->RegisterAgent(hello, absl::Now()).ok());
    v1::ReferenceProfile profile;
    *profile.mutable_model() = hello.model();
    profile.mutable_model()->set_environment("any");
    profile.set_profile_id("p-" + model);
    profile.set_row_count(100);
    bool created = false;
    ASSERT_TRUE(replica_->PutProfile(profile, false, &created).ok());
  }
  std::vector<std::string> listed = {kPeer};  // not seen the asker yet
  int awaited = 0;
  service_->SetMembers([&] { return listed; }, [&] { ++awaited; });
  aims::fleet::v1::HandoverRequest request;
  request.set_from(members[0]);
  for (const std::string& m : members) request.add_members(m);
  absl::StatusOr<aims::fleet::v1::HandoverResponse> answer =
      peers_->Handover(kPeer, request, absl::Seconds(1));
  EXPECT_TRUE(absl::IsFailedPrecondition(answer.status())) << answer.status();
  listed = members;
  answer = peers_->Handover(kPeer, request, absl::Seconds(1));
  ASSERT_TRUE(answer.ok()) << answer.status();
  ASSERT_EQ(answer->state_size(), 1);
  EXPECT_EQ(answer->state(0).key(), "busy/" + mine);
  std::set<std::string> ids;
  for (const v1::Nonconformity& nc : answer->nonconformities()) {
    EXPECT_EQ(nc.model().name(), mine);
    ids.insert(nc.id());
  }
  EXPECT_EQ(ids.size(), 2u);  // its own record and its copy
  EXPECT_EQ(awaited, 1);      // the answer waited for a pass under way
  ASSERT_EQ(answer->profiles_size(), 1);
  EXPECT_EQ(answer->profiles(0).profile_id(), "p-" + mine);
  // One that evaluates nothing (fenced, leaving) answers whatever the list.
  listed.clear();
  EXPECT_TRUE(peers_->Handover(kPeer, request, absl::Seconds(1)).ok());
}

TEST_F(ReplicatorTest, SendsTheProfilesOfOwnedModelsOnceEach) {
  auto replicator = NewReplicator();
  v1::ReferenceProfile profile;
  profile.mutable_model()->set_name("credit");
  profile.mutable_model()->set_version("v1");
  profile.mutable_model()->set_environment("any");
  profile.set_profile_id("p-first");
  profile.set_row_count(100);
  bool created = false;
  ASSERT_TRUE(owner_->PutProfile(profile, false, &created).ok());
  v1::ReferenceProfile fraud = profile;  // a model not owned here
  fraud.mutable_model()->set_name("fraud");
  ASSERT_TRUE(owner_->PutProfile(fraud, false, &created).ok());
  v1::Hello fraud_hello = hello_;
  fraud_hello.mutable_agent()->set_agent_id("agent-2");
  fraud_hello.mutable_model()->set_name("fraud");
  ASSERT_TRUE(owner_->RegisterAgent(fraud_hello, absl::Now()).ok());

  ASSERT_TRUE(replicator->RunOnce().ok());
  absl::StatusOr<v1::ReferenceProfile> copy =
      replica_->GetProfile(hello_.model());
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_EQ(copy->profile_id(), "p-first");
  EXPECT_FALSE(replica_->GetProfile(fraud_hello.model()).ok());
  // Unchanged: not sent again.
  const int calls = peers_->calls;
  ASSERT_TRUE(replicator->RunOnce().ok());
  EXPECT_EQ(peers_->calls, calls);
  // Replaced on the owner: the replica gets the new one.
  profile.set_profile_id("p-second");
  ASSERT_TRUE(owner_->PutProfile(profile, false, &created).ok());
  ASSERT_TRUE(replicator->RunOnce().ok());
  EXPECT_EQ(replica_->GetProfile(hello_.model())->profile_id(), "p-second");
  // One stored on the replica later than the owner's (the owner came back
  // without it) is kept; a later one from the owner replaces it.
  v1::ReferenceProfile later = profile;
  later.set_profile_id("p-on-replica");
  *later.mutable_stored_at() = ToProto(absl::Now());
  ASSERT_TRUE(replica_->PutProfile(later, false, &created).ok());
  profile.set_profile_id("p-older");
  *profile.mutable_stored_at() = ToProto(absl::Now() - absl::Hours(1));
  ASSERT_TRUE(owner_->PutProfile(profile, false, &created).ok());
  ASSERT_TRUE(replicator->RunOnce().ok());
  EXPECT_EQ(replica_->GetProfile(hello_.model())->profile_id(), "p-on-replica");
  profile.set_profile_id("p-newer");
  *profile.mutable_stored_at() = ToProto(absl::Now() + absl::Seconds(1));
  ASSERT_TRUE(owner_->PutProfile(profile, false, &created).ok());
  ASSERT_TRUE(replicator->RunOnce().ok());
  EXPECT_EQ(replica_->GetProfile(hello_.model())->profile_id(), "p-newer");
  // A replica that owns the model now keeps its own.
  replica_owns_ = "credit";
  profile.set_profile_id("p-third");
  ASSERT_TRUE(owner_->PutProfile(profile, false, &created).ok());
  ASSERT_TRUE(replicator->RunOnce().ok());
  EXPECT_EQ(replica_->GetProfile(hello_.model())->profile_id(), "p-newer");
}

// Over real gRPC: the peer's answers reach the replicator (a response
// copied before the call was made read as empty: no position, nothing
// stored).
TEST_F(ReplicatorTest, PeersAnswersArriveOverGrpc) {
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(service_.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(port, 0);
  const std::string address = absl::StrCat("127.0.0.1:", port);
  std::unique_ptr<ReplicationPeers> peers =
      GrpcReplicationPeers(grpc::InsecureChannelCredentials(), "");
  ReplicateRequest request;
  request.set_from("10.0.0.1:4317");
  for (uint64_t sequence : {1, 2, 3}) {
    aims::fleet::v1::ReplicatedReport* r = request.add_reports();
    *r->mutable_hello() = hello_;
    r->set_report(Carrying(sequence, {}, {}).SerializeAsString());
  }
  absl::StatusOr<ReplicateResponse> replicated =
      peers->Replicate(address, request, absl::Seconds(5));
  ASSERT_TRUE(replicated.ok()) << replicated.status();
  EXPECT_EQ(replicated->stored(), 3u);
  PositionRequest position;
  position.set_model_name("credit");
  absl::StatusOr<PositionResponse> at = peers->Position(address, position);
  ASSERT_TRUE(at.ok()) << at.status();
  ASSERT_EQ(at->agents_size(), 1);
  EXPECT_EQ(at->agents(0).agent_id(), "agent-1");
  EXPECT_EQ(at->agents(0).durable_sequence(), 3u);
  EXPECT_EQ(at->agents(0).report_count(), 3u);
  server->Shutdown();
}

// After an evaluation pass the state goes at once (Wake), not at the next
// tick, so that a successor does not open a fired breach again.
TEST_F(ReplicatorTest, WakeSendsTheStateBeforeTheNextTick) {
  ReplicatorOptions options;
  options.self = "10.0.0.1:4317";
  options.tick = absl::Hours(1);
  registry_ = std::make_unique<prometheus::Registry>();
  Replicator replicator(
      options, owner_.get(), peers_.get(),
      [](const std::string&) { return std::string(kPeer); },
      [](const std::string&) { return true; }, *registry_);
  replicator.Start();  // no round for an hour unless woken
  v1::ObjectiveStatus firing;
  firing.set_objective_id("busy");
  *firing.mutable_model() = hello_.model();
  firing.set_state(v1::OBJECTIVE_STATE_FIRING);
  ASSERT_TRUE(owner_
                  ->Apply({{Table::kEvaluation, "busy/credit",
                            firing.SerializeAsString()}})
                  .ok());
  replicator.Wake();
  EXPECT_TRUE(testing::WaitFor(
      [&] { return replica_->Get(Table::kEvaluation, "busy/credit").ok(); },
      absl::Seconds(10)));
  replicator.Stop();
}

}  // namespace
}  // namespace aims::collector::fleet
