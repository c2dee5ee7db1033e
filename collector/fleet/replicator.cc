#include "collector/fleet/replicator.h"

#include <algorithm>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/grpc_status.h"
#include "common/base/log.h"
#include "common/base/time_util.h"
#include "common/net/bearer_token.h"
#include "grpcpp/grpcpp.h"
#include "prometheus/family.h"

namespace aims::collector::fleet {
namespace {

using aims::fleet::v1::HandoverRequest;
using aims::fleet::v1::HandoverResponse;
using aims::fleet::v1::PositionRequest;
using aims::fleet::v1::PositionResponse;
using aims::fleet::v1::ReplicateRequest;
using aims::fleet::v1::ReplicateResponse;

// A stored report with the join records and labels the storage keeps apart
// (EncodedReport::label_bytes): both are WindowReport fields, so their wire
// forms concatenate into the whole report, which the peer's label join
// splits again.
std::string WholeReport(const EncodedReport& report) {
  return report.label_bytes.empty()
             ? report.bytes
             : absl::StrCat(report.bytes, report.label_bytes);
}

class GrpcPeers : public ReplicationPeers {
 public:
  GrpcPeers(std::shared_ptr<grpc::ChannelCredentials> credentials,
            std::string token)
      : credentials_(std::move(credentials)), token_(std::move(token)) {}

  absl::StatusOr<PositionResponse> Position(
      const std::string& peer, const PositionRequest& request) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    PositionResponse response;
    const grpc::Status s = Stub(peer)->Position(&ctx, request, &response);
    return Check(s, std::move(response));
  }

  absl::StatusOr<ReplicateResponse> Replicate(const std::string& peer,
                                              const ReplicateRequest& request,
                                              absl::Duration timeout) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    ReplicateResponse response;
    const grpc::Status s = Stub(peer)->Replicate(&ctx, request, &response);
    return Check(s, std::move(response));
  }

  absl::StatusOr<HandoverResponse> Handover(const std::string& peer,
                                            const HandoverRequest& request,
                                            absl::Duration timeout) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    HandoverResponse response;
    const grpc::Status s = Stub(peer)->Handover(&ctx, request, &response);
    return Check(s, std::move(response));
  }

 private:
  // The call must be made before `response` is passed: the order in which
  // arguments are evaluated is unspecified, and GCC copied the empty
  // response first (the peer's position and stored count read as none).
  template <typename T>
  static absl::StatusOr<T> Check(const grpc::Status& s, T response) {
    if (s.ok()) return response;
    return FromGrpcStatus(s);
  }

  aims::fleet::v1::Replication::Stub* Stub(const std::string& peer) {
    absl::MutexLock lock(&mu_);
    auto& stub = stubs_[peer];
    if (stub == nullptr) {
      grpc::ChannelArguments args;
      args.SetMaxSendMessageSize(-1);
      // A handover's answer holds every record of the models asked for.
      args.SetMaxReceiveMessageSize(-1);
      stub = aims::fleet::v1::Replication::NewStub(
          WithBearerToken(peer, credentials_, args, token_));
    }
    return stub.get();
  }

  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  const std::string token_;
  absl::Mutex mu_;
  // Stubs are never removed, so a pointer stays valid after the lock.
  std::map<std::string, std::unique_ptr<aims::fleet::v1::Replication::Stub>>
      stubs_ ABSL_GUARDED_BY(mu_);
};

prometheus::Gauge& NewGauge(prometheus::Registry& r, const std::string& name,
                            const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

prometheus::Counter& NewCounter(prometheus::Registry& r,
                                const std::string& name,
                                const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}

// Every stored report starts in this span (windows are at most a day).
absl::Time Earliest() { return absl::UnixEpoch(); }
absl::Time Latest() { return absl::Now() + absl::Hours(48); }

}  // namespace

std::unique_ptr<ReplicationPeers> GrpcReplicationPeers(
    std::shared_ptr<grpc::ChannelCredentials> credentials, std::string token) {
  return std::make_unique<GrpcPeers>(std::move(credentials), std::move(token));
}

Replicator::Replicator(ReplicatorOptions options, Storage* storage,
                       ReplicationPeers* peers,
                       std::function<std::string(const std::string&)> peer_for,
                       std::function<bool(const std::string&)> owns,
                       prometheus::Registry& registry)
    : options_(std::move(options)),
      storage_(storage),
      peers_(peers),
      peer_for_(std::move(peer_for)),
      owns_(std::move(owns)),
      queue_gauge_(NewGauge(registry, "aims_fleet_replication_queue",
                            "Stored reports waiting to be copied to their "
                            "model's peer collector.")),
      lag_gauge_(NewGauge(registry, "aims_fleet_replication_lag_seconds",
                          "How long data has been waiting to reach the "
                          "peer collectors (0: caught up).")),
      failures_(NewCounter(registry, "aims_fleet_replication_failures_total",
                           "Failed calls to a peer collector (the data is "
                           "sent again by catch-up).")),
      dropped_(NewCounter(registry, "aims_fleet_replication_dropped_total",
                          "Copies dropped by a full queue: reports (sent "
                          "again by catch-up) and batches of posted labels "
                          "(not resent).")),
      replicated_(NewCounter(registry, "aims_fleet_replicated_reports_total",
                             "Reports the peer collectors stored.")),
      state_rows_(NewCounter(registry, "aims_fleet_replicated_state_rows_total",
                             "Series state rows sent to the peer "
                             "collectors.")),
      state_synced_(NewGauge(
          registry, "aims_fleet_replication_state_synced_timestamp_seconds",
          "Start of the last round after which the state of every series "
          "this collector owns was on its peer (Unix seconds).")),
      label_queue_gauge_(NewGauge(registry,
                                  "aims_fleet_replication_label_queue",
                                  "Labels posted here waiting to be copied "
                                  "to their model's peer collector.")),
      replicated_labels_(NewCounter(registry,
                                    "aims_fleet_replicated_labels_total",
                                    "Posted labels the peer collectors "
                                    "stored.")) {}

Replicator::~Replicator() { Stop(); }

void Replicator::Start() {
  CatchUpAll();
  thread_ = std::thread([this] { Run(); });
}

void Replicator::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (!thread_.joinable()) return;
  thread_.join();
  // Labels are not resent by catch-up: the last ones go now.
  (void)SendLabels();
}

void Replicator::OnStored(const EncodedReport& report) {
  absl::MutexLock lock(&mu_);
  if (behind_since_ == absl::InfiniteFuture()) behind_since_ = absl::Now();
  const size_t bytes = report.bytes.size() + report.label_bytes.size();
  if (queue_.size() >= options_.max_queue ||
      queued_bytes_ + bytes > options_.max_queue_bytes) {
    dropped_.Increment();
    overflow_agents_.insert(report.agent_id);
    return;
  }
  queued_bytes_ += bytes;
  queue_.push_back({report.agent_id, report.sequence, WholeReport(report)});
  queue_gauge_.Set(static_cast<double>(queue_.size()));
}

void Replicator::OnStoredBatch(
    const std::vector<const EncodedReport*>& reports) {
  if (options_.sync_timeout <= absl::ZeroDuration()) {
    for (const EncodedReport* r : reports) OnStored(*r);
    return;
  }
  std::map<std::string,
           std::pair<ReplicateRequest, std::vector<const EncodedReport*>>>
      by_peer;
  for (const EncodedReport* r : reports) {
    const std::optional<v1::Hello> hello = HelloOf(r->agent_id);
    if (!hello) continue;
    const std::string peer = peer_for_(hello->model().name());
    if (peer.empty()) continue;
    auto& [request, sent] = by_peer[peer];
    aims::fleet::v1::ReplicatedReport* copy = request.add_reports();
    *copy->mutable_hello() = *hello;
    copy->set_report(WholeReport(*r));
    sent.push_back(r);
  }
  for (auto& [peer, entry] : by_peer) {
    auto& [request, sent] = entry;
    bool paused;
    {
      absl::MutexLock lock(&mu_);
      auto it = sync_paused_until_.find(peer);
      paused = it != sync_paused_until_.end() && absl::Now() < it->second;
    }
    if (paused) {
      for (const EncodedReport* report : sent) OnStored(*report);
      continue;
    }
    request.set_from(options_.self);
    absl::StatusOr<ReplicateResponse> r =
        peers_->Replicate(peer, request, options_.sync_timeout);
    if (r.ok()) {
      replicated_.Increment(static_cast<double>(r->stored()));
      continue;
    }
    failures_.Increment();
    LogWarn(
        "peer collector did not take a copy in time; asynchronous for a "
        "while",
        {{"peer", peer},
         {"pause", absl::FormatDuration(options_.sync_pause)},
         {"error", r.status().message()}});
    {
      absl::MutexLock lock(&mu_);
      sync_paused_until_[peer] = absl::Now() + options_.sync_pause;
    }
    for (const EncodedReport* report : sent) OnStored(*report);
  }
}

void Replicator::CatchUpAll() {
  absl::MutexLock lock(&mu_);
  catch_up_all_ = true;
  if (behind_since_ == absl::InfiniteFuture()) behind_since_ = absl::Now();
}

void Replicator::OnLabels(const v1::ModelRef& model,
                          std::vector<v1::LabelEvent> labels) {
  aims::fleet::v1::LabelCopy copy;
  *copy.mutable_model() = model;
  for (v1::LabelEvent& l : labels) *copy.add_labels() = std::move(l);
  const size_t bytes = copy.ByteSizeLong();
  absl::MutexLock lock(&mu_);
  if (label_queue_bytes_ + bytes > options_.max_label_queue_bytes) {
    dropped_.Increment();
    LogWarn("label copy queue full; labels not copied to the peer",
            {{"model", model.name()}, {"labels", copy.labels_size()}});
    return;
  }
  if (behind_since_ == absl::InfiniteFuture()) behind_since_ = absl::Now();
  label_queue_bytes_ += bytes;
  label_queue_count_ += copy.labels_size();
  label_queue_.push_back(std::move(copy));
  label_queue_gauge_.Set(static_cast<double>(label_queue_count_));
}

absl::Status Replicator::SendLabels() {
  std::vector<aims::fleet::v1::LabelCopy> copies;
  {
    absl::MutexLock lock(&mu_);
    if (labels_held_ && labels_held_()) return absl::OkStatus();
    copies.assign(std::make_move_iterator(label_queue_.begin()),
                  std::make_move_iterator(label_queue_.end()));
    label_queue_.clear();
    label_queue_bytes_ = 0;
    label_queue_count_ = 0;
  }
  // The copies (by index) each holder is sent. A copy with no holder is
  // kept when the fence fell meanwhile, else (a fleet of one) left here.
  std::map<std::string, std::vector<size_t>> by_holder;
  std::vector<bool> failed(copies.size(), false);
  for (size_t i = 0; i < copies.size(); ++i) {
    const std::string& model = copies[i].model().name();
    std::vector<std::string> holders;
    if (label_holders_) {
      holders = label_holders_(model);
    } else if (std::string peer = peer_for_(model); !peer.empty()) {
      holders.push_back(std::move(peer));
    }
    if (holders.empty()) failed[i] = labels_held_ && labels_held_();
    for (const std::string& h : holders) by_holder[h].push_back(i);
  }
  absl::Status result;
  for (const auto& [holder, indices] : by_holder) {
    ReplicateRequest request;
    request.set_from(options_.self);
    for (size_t i : indices) *request.add_labels() = copies[i];
    absl::StatusOr<ReplicateResponse> r =
        peers_->Replicate(holder, request, options_.timeout);
    if (r.ok()) {
      replicated_labels_.Increment(static_cast<double>(r->labels_stored()));
      continue;
    }
    failures_.Increment();
    result = r.status();
    for (size_t i : indices) failed[i] = true;
  }
  // Kept for the next round (the holder may be back, or replaced).
  for (size_t i = 0; i < copies.size(); ++i) {
    if (!failed[i]) continue;
    OnLabels(copies[i].model(),
             {std::make_move_iterator(copies[i].mutable_labels()->begin()),
              std::make_move_iterator(copies[i].mutable_labels()->end())});
  }
  absl::MutexLock lock(&mu_);
  label_queue_gauge_.Set(static_cast<double>(label_queue_count_));
  return result;
}

size_t Replicator::queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

void Replicator::MarkForCatchUp(const std::set<std::string>& models) {
  if (models.empty()) return;
  absl::MutexLock lock(&mu_);
  catch_up_.insert(models.begin(), models.end());
}

void Replicator::Run() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || woken_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&woken), options_.tick);
      if (stopping_) return;
      woken_ = false;
    }
    (void)RunOnce();
  }
}

void Replicator::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

absl::Status Replicator::RunOnce() {
  // The queue first: the models of copies it dropped are caught up below.
  absl::Status result = SendQueue();
  if (absl::Status s = SendLabels(); !s.ok()) result = s;
  bool all = false;
  std::set<std::string> models;
  {
    absl::MutexLock lock(&mu_);
    std::swap(all, catch_up_all_);
    models.swap(catch_up_);
  }
  if (all) {
    for (const v1::ModelInfo& m : storage_->ListModels({}))
      models.insert(m.model().name());
    sent_state_.clear();
  }
  for (const std::string& model : models) {
    if (absl::Status s = CatchUp(model); !s.ok()) result = s;
  }
  if (absl::Status s = SendState(); !s.ok()) result = s;

  absl::MutexLock lock(&mu_);
  const bool behind = !queue_.empty() || !label_queue_.empty() ||
                      !catch_up_.empty() || catch_up_all_ ||
                      !overflow_agents_.empty() || !result.ok();
  if (!behind) behind_since_ = absl::InfiniteFuture();
  queue_gauge_.Set(static_cast<double>(queue_.size()));
  lag_gauge_.Set(behind && behind_since_ != absl::InfiniteFuture()
                     ? absl::ToDoubleSeconds(absl::Now() - behind_since_)
                     : 0.0);
  return result;
}

std::optional<v1::Hello> Replicator::HelloOf(const std::string& agent_id) {
  absl::MutexLock lock(&hello_mu_);
  auto it = hellos_.find(agent_id);
  if (it != hellos_.end()) return it->second;
  for (const v1::AgentInfo& a : storage_->ListAgents({})) {
    v1::Hello& hello = hellos_[a.agent().agent_id()];
    *hello.mutable_agent() = a.agent();
    *hello.mutable_model() = a.model();
    hello.set_protocol_version(1);
  }
  it = hellos_.find(agent_id);
  if (it == hellos_.end()) return std::nullopt;
  return it->second;
}

absl::Status Replicator::Flush(const std::string& peer, Outgoing* out,
                               bool flush) {
  const int reports = out->request.reports_size();
  if (reports == 0 && out->request.state_size() == 0 &&
      out->request.profiles_size() == 0 &&
      out->request.nonconformities_size() == 0) {
    return absl::OkStatus();
  }
  if (!flush && reports < static_cast<int>(options_.max_batch)) {
    return absl::OkStatus();
  }
  out->request.set_from(options_.self);
  absl::StatusOr<ReplicateResponse> r =
      peers_->Replicate(peer, out->request, options_.timeout);
  absl::Status status = r.status();
  if (r.ok()) {
    replicated_.Increment(static_cast<double>(r->stored()));
  } else {
    failures_.Increment();
    MarkForCatchUp(out->models);
    LogWarn("cannot replicate to peer collector; catching up later",
            {{"peer", peer},
             {"reports", reports},
             {"error", r.status().message()}});
  }
  out->request.Clear();
  out->models.clear();
  return status;
}

absl::Status Replicator::SendQueue() {
  std::deque<Queued> items;
  std::set<std::string> overflow;
  {
    absl::MutexLock lock(&mu_);
    items.swap(queue_);
    queued_bytes_ = 0;
    overflow.swap(overflow_agents_);
  }
  std::set<std::string> lost;
  for (const std::string& agent : overflow) {
    if (const std::optional<v1::Hello> hello = HelloOf(agent))
      lost.insert(hello->model().name());
  }
  MarkForCatchUp(lost);
  absl::Status result;
  std::map<std::string, Outgoing> out;
  for (Queued& item : items) {
    const std::optional<v1::Hello> hello = HelloOf(item.agent_id);
    if (!hello) continue;
    const std::string& model = hello->model().name();
    const std::string peer = peer_for_(model);
    if (peer.empty()) continue;
    Outgoing& o = out[peer];
    aims::fleet::v1::ReplicatedReport* r = o.request.add_reports();
    *r->mutable_hello() = *hello;
    r->set_report(std::move(item.bytes));
    o.models.insert(model);
    if (absl::Status s = Flush(peer, &o, false); !s.ok()) result = s;
  }
  for (auto& [peer, o] : out) {
    if (absl::Status s = Flush(peer, &o, true); !s.ok()) result = s;
  }
  return result;
}

absl::Status Replicator::CatchUp(const std::string& model) {
  const std::string peer = peer_for_(model);
  if (peer.empty()) return absl::OkStatus();
  PositionRequest request;
  request.set_model_name(model);
  absl::StatusOr<PositionResponse> position = peers_->Position(peer, request);
  if (!position.ok()) {
    failures_.Increment();
    MarkForCatchUp({model});
    return position.status();
  }
  std::map<std::string, aims::fleet::v1::AgentPosition> at_peer;
  bool maybe_holes = false;
  for (const auto& a : position->agents()) {
    at_peer[a.agent_id()] = a;
    maybe_holes |= a.report_count() < a.durable_sequence();
  }
  v1::ModelSelector selector;
  selector.set_name(model);
  const std::vector<v1::ModelInfo> refs = storage_->ListModels(selector);
  // Agents whose copy lacks reports below its highest sequence that are
  // stored here: all their reports are sent (the peer drops duplicates).
  std::set<std::string> holes;
  if (maybe_holes) {
    std::map<std::string, uint64_t> below;
    for (const v1::ModelInfo& ref : refs) {
      (void)storage_->ScanReportHeaders(
          ref.model(), Earliest(), Latest(), [&](const StoredReport& r) {
            auto it = at_peer.find(r.report.agent_id());
            if (it != at_peer.end() &&
                r.report.sequence() <= it->second.durable_sequence()) {
              ++below[r.report.agent_id()];
            }
            return true;
          });
    }
    for (const auto& [agent, n] : below) {
      if (n > at_peer[agent].report_count()) holes.insert(agent);
    }
  }
  Outgoing out;
  absl::Status result;
  uint64_t sent = 0;
  for (const v1::ModelInfo& ref : refs) {
    // Windows whose join records went with an earlier copy of this round.
    std::set<absl::Time> carried;
    absl::Status scan = storage_->ScanReports(
        ref.model(), Earliest(), Latest(), [&](const StoredReport& r) {
          const std::string& agent = r.report.agent_id();
          auto it = at_peer.find(agent);
          if (it != at_peer.end() && !holes.count(agent) &&
              r.report.sequence() <= it->second.durable_sequence()) {
            return true;
          }
          const std::optional<v1::Hello> hello = HelloOf(agent);
          if (!hello) return true;
          aims::fleet::v1::ReplicatedReport* copy = out.request.add_reports();
          *copy->mutable_hello() = *hello;
          std::string bytes = r.report.SerializeAsString();
          const absl::Time start = FromProto(r.report.window_start());
          if (carried_ && carried.insert(start).second) {
            absl::StatusOr<std::string> records = carried_(ref.model(), start);
            if (!records.ok()) {
              result = records.status();
              return false;
            }
            bytes += *records;  // WindowReport fields: they concatenate
          }
          copy->set_report(std::move(bytes));
          out.models.insert(model);
          ++sent;
          result = Flush(peer, &out, false);
          return result.ok();
        });
    if (!scan.ok()) result = scan;
    if (!result.ok()) break;
  }
  if (result.ok()) result = Flush(peer, &out, true);
  if (!result.ok()) {
    MarkForCatchUp({model});
    return result;
  }
  if (sent > 0) {
    LogInfo("caught up peer collector",
            {{"peer", peer}, {"model", model}, {"reports", sent}});
  }
  return absl::OkStatus();
}

absl::Status Replicator::SendState() {
  const absl::Time round = absl::Now();
  // Per peer, requests of at most about kStateBatchBytes (the peer takes a
  // message of --max_message_bytes at most), each with the keys and
  // fingerprints it carries.
  struct Batch {
    Outgoing out;
    std::vector<std::pair<std::string, uint64_t>> rows;
    size_t bytes = 0;
  };
  constexpr size_t kStateBatchBytes = size_t{1} << 20;
  std::map<std::string, std::vector<Batch>> out;
  std::map<std::string, std::set<std::string>> keys;  // per peer
  // The batch of `peer` with room for `bytes` more, noting `key` as sent.
  auto room = [&](const std::string& peer, size_t bytes, std::string key,
                  uint64_t fingerprint) -> ReplicateRequest& {
    std::vector<Batch>& batches = out[peer];
    if (batches.empty() || (batches.back().bytes > 0 &&
                            batches.back().bytes + bytes > kStateBatchBytes)) {
      batches.emplace_back();
    }
    batches.back().bytes += bytes;
    keys[peer].insert(key);
    batches.back().rows.emplace_back(std::move(key), fingerprint);
    return batches.back().out.request;
  };
  // Whether `key` went to `peer` last with this fingerprint.
  auto unchanged = [&](const std::string& key, const std::string& peer,
                       uint64_t fingerprint) {
    auto it = sent_state_.find(key);
    return it != sent_state_.end() && it->second.first == peer &&
           it->second.second == fingerprint;
  };
  absl::Status scan = storage_->Scan(
      Table::kEvaluation, "",
      [&](absl::string_view key, absl::string_view value) {
        v1::ObjectiveStatus status;
        if (!status.ParseFromArray(value.data(),
                                   static_cast<int>(value.size()))) {
          return true;
        }
        const std::string& model = status.model().name();
        if (!owns_(model)) return true;
        const std::string peer = peer_for_(model);
        if (peer.empty()) return true;
        const uint64_t fingerprint = std::hash<std::string_view>()(
            std::string_view(value.data(), value.size()));
        if (unchanged(std::string(key), peer, fingerprint)) return true;
        aims::fleet::v1::StateRow* row =
            room(peer, key.size() + value.size(), std::string(key), fingerprint)
                .add_state();
        row->set_key(std::string(key));
        row->set_value(std::string(value));
        return true;
      });
  // The records of the models owned here, so that a successor resolves
  // and renews them.
  absl::Status records = storage_->Scan(
      Table::kNonconformities, "",
      [&](absl::string_view key, absl::string_view value) {
        v1::Nonconformity nc;
        if (!nc.ParseFromArray(value.data(), static_cast<int>(value.size())) ||
            !owns_(nc.model().name())) {
          return true;
        }
        const std::string peer = peer_for_(nc.model().name());
        if (peer.empty()) return true;
        std::string row_key = absl::StrCat("nc/", key);
        const uint64_t fingerprint = std::hash<std::string_view>()(
            std::string_view(value.data(), value.size()));
        if (unchanged(row_key, peer, fingerprint)) return true;
        *room(peer, value.size(), std::move(row_key), fingerprint)
             .add_nonconformities() = std::move(nc);
        return true;
      });
  if (scan.ok()) scan = records;
  // The profiles of the models owned here, by model name and version (the
  // one in force; ListModels names its id).
  for (const v1::ModelInfo& m : storage_->ListModels({})) {
    const std::string& model = m.model().name();
    if (m.profile_id().empty() || !owns_(model)) continue;
    const std::string peer = peer_for_(model);
    if (peer.empty()) continue;
    std::string key = absl::StrCat("profile/", model, "/", m.model().version());
    const uint64_t fingerprint = std::hash<std::string>()(m.profile_id());
    // One profile serves every environment of the version.
    if (unchanged(key, peer, fingerprint) || keys[peer].contains(key)) continue;
    absl::StatusOr<v1::ReferenceProfile> profile =
        storage_->GetProfile(m.model());
    if (!profile.ok()) continue;
    const size_t bytes = profile->ByteSizeLong();
    *room(peer, bytes, std::move(key), fingerprint).add_profiles() =
        std::move(*profile);
  }
  absl::Status result = scan;
  for (auto& [peer, batches] : out) {
    for (Batch& batch : batches) {
      const int state_rows = batch.out.request.state_size() +
                             batch.out.request.nonconformities_size();
      if (absl::Status s = Flush(peer, &batch.out, true); !s.ok()) {
        result = s;
        continue;
      }
      for (auto& [key, fingerprint] : batch.rows)
        sent_state_[key] = {peer, fingerprint};
      state_rows_.Increment(static_cast<double>(state_rows));
    }
  }
  if (result.ok()) state_synced_.Set(absl::ToUnixMillis(round) / 1000.0);
  return result;
}

}  // namespace aims::collector::fleet
