#include "collector/ingest/ingest_service.h"

#include <deque>
#include <map>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "collector/storage/wire_filter.h"
#include "common/base/grpc_status.h"
#include "common/base/limit_error.h"
#include "common/base/log.h"
#include "common/base/time_util.h"
#include "common/base/utf8.h"
#include "google/protobuf/arena.h"
#include "grpcpp/support/byte_buffer.h"

namespace aims::collector {

// One agent stream. Decisions are taken under mu_; gRPC calls (StartRead,
// StartWrite, Finish) are made after releasing it, each guarded by a flag so
// only one thread issues it.
namespace {

// "report.summary.features[3].sketch" -> "report.summary.features[].sketch":
// a label value from a bounded set.
std::string FieldWithoutIndices(absl::string_view field) {
  std::string out;
  bool in_brackets = false;
  for (char c : field) {
    if (c == '[') in_brackets = true;
    if (!in_brackets || c == '[' || c == ']') out.push_back(c);
    if (c == ']') in_brackets = false;
  }
  return std::string(CutUtf8(out, 120));
}

}  // namespace

class IngestService::Stream final
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  Stream(IngestService* service, grpc::CallbackServerContext* context)
      : service_(service),
        peer_(context->peer()),
        authorization_(AuthorizationOf(*context)) {
    {
      absl::MutexLock lock(&service_->mu_);
      ++service_->live_streams_;
    }
    service_->metrics_->streams_total.Increment();
    service_->metrics_->streams_open.Increment();
    {
      absl::MutexLock lock(&mu_);
      read_in_flight_ = true;
    }
    StartRead(&request_bytes_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      absl::MutexLock lock(&mu_);
      read_in_flight_ = false;
      reads_done_ = true;
    } else {
      HandleRead();
    }
    Pump();
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      write_in_flight_ = false;
      if (!ok) broken_ = true;
    }
    Pump();
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&mu_);
      broken_ = true;
    }
    Pump();
  }

  void OnDone() override {
    service_->metrics_->streams_open.Decrement();
    MarkDisconnected();
    {
      // After this no PushProfile reaches the stream.
      absl::MutexLock lock(&service_->streams_mu_);
      service_->streams_.erase(this);
    }
    {
      // The last use of service_: it may be destroyed right after.
      absl::MutexLock lock(&service_->mu_);
      --service_->live_streams_;
    }
    delete this;
  }

  // Queues `profile` for the agent when it is of the stream's model name
  // and version (every environment); then sends it. Called by PushProfile
  // under streams_mu_, which keeps the stream alive meanwhile.
  void OfferProfile(const v1::ReferenceProfile& profile) {
    {
      absl::MutexLock lock(&mu_);
      if (!welcomed_ || finished_ || broken_ ||
          model_.name() != profile.model().name() ||
          model_.version() != profile.model().version()) {
        return;
      }
      v1::IngestResponse response;
      *response.mutable_profile_update() = profile;
      outbox_.push_back(std::move(response));
    }
    Pump(/*completed=*/0, /*outside=*/true);
  }

  // Ends the stream with UNAVAILABLE once what is in flight is durable and
  // acknowledged, if welcomed and `moved(model)`: the agent reconnects and
  // is redirected to the model's owner.
  void EndIfMoved(const std::function<bool(const v1::ModelRef&)>& moved) {
    {
      absl::MutexLock lock(&mu_);
      if (!welcomed_ || finished_ || broken_ || final_status_.has_value() ||
          !moved(model_)) {
        return;
      }
      LogInfo("model moved to another collector; ending its stream",
              {{"agent", agent_id_}, {"model", model_.name()}});
      FailLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "model moved to another collector; reconnect"));
    }
    Pump(/*completed=*/0, /*outside=*/true);
  }

  void MarkDisconnected() {
    bool marked = false;
    std::string agent_id;
    {
      absl::MutexLock lock(&mu_);
      marked = marked_connected_;
      marked_connected_ = false;
      agent_id = agent_id_;
    }
    if (marked) service_->SetConnected(agent_id, false);
  }

 private:
  // A whole report as the stream prepared it before taking its lock.
  struct PreparedReport {
    // The size limit, then ValidateReport; an error until prepared, so a
    // report is never stored unchecked.
    absl::Status valid = absl::InternalError("report not prepared");
    std::string stored;  // a valid whole report's bytes, as stored
  };

  // Parses the message just read and, for a report, measures, validates
  // and encodes it, all without the stream's lock (writer callbacks take
  // it), then acts on it under the lock. The message lives on an arena of
  // this call: a parsed report is several times its wire size, and a
  // thousand streams must not each keep their last one.
  void HandleRead() {
    // Only the owner of the read uses request_bytes_; it is emptied before
    // the lock below allows the next read to start.
    grpc::Slice slice;
    bool contiguous = true;
    if (request_bytes_.Length() > 0) {
      contiguous = request_bytes_.TrySingleSlice(&slice).ok() ||
                   request_bytes_.DumpToSingleSlice(&slice).ok();
    }
    request_bytes_.Clear();
    const absl::string_view wire(reinterpret_cast<const char*>(slice.begin()),
                                 slice.size());
    google::protobuf::ArenaOptions arena_options;
    arena_options.max_block_size = 256 << 10;
    google::protobuf::Arena arena(arena_options);
    auto* request =
        google::protobuf::Arena::CreateMessage<v1::IngestRequest>(&arena);
    const bool parsed =
        contiguous &&
        request->ParseFromArray(wire.data(), static_cast<int>(wire.size()));
    std::string agent_id;
    bool welcomed = false;
    {
      absl::MutexLock lock(&mu_);
      welcomed = welcomed_;
      agent_id = agent_id_;  // fixed once welcomed
    }
    PreparedReport prepared;
    if (parsed && welcomed && request->has_report()) {
      const v1::WindowReport& report = request->report();
      // The report's bytes as received: stored as they are, not serialized
      // again, when the report is the message's only field.
      const std::optional<absl::string_view> sole =
          SoleField(wire, v1::IngestRequest::kReportFieldNumber);
      std::string encoded;  // the parsed report's bytes, when not sole
      if (!sole) report.SerializeToString(&encoded);
      const size_t bytes = sole ? sole->size() : encoded.size();
      prepared.valid =
          bytes > service_->options_.max_message_bytes
              ? LimitError("report", absl::StrCat(bytes, " bytes"),
                           absl::StrCat(service_->options_.max_message_bytes),
                           "--max_message_bytes")
              : ValidateReport(report, agent_id, service_->options_.limits);
      // A part is stored once its report is whole (HandleReportLocked).
      if (prepared.valid.ok() && report.part_count() <= 1) {
        prepared.stored = sole ? std::string(*sole) : std::move(encoded);
      }
    }
    absl::MutexLock lock(&mu_);
    read_in_flight_ = false;
    // A read that completes after Finish (the stream ended while it was in
    // flight) must start nothing: OnDone follows and deletes the stream,
    // and a write callback would then run on freed memory.
    if (finished_ || final_status_.has_value() || broken_) return;
    if (!parsed) {
      FailLocked(grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("message: ", wire.size(),
                       " bytes that are not an aims.v1.IngestRequest")));
      return;
    }
    HandleRequestLocked(*request, wire.size(), std::move(prepared));
  }

  void HandleRequestLocked(const v1::IngestRequest& request, size_t wire_bytes,
                           PreparedReport prepared)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    // gRPC lets messages up to twice the limit through (TransportMessageCap)
    // so that the refusal names the flag and is counted. A report's limit
    // is part of its validation: refused with a Rejection, the stream goes
    // on.
    const bool report = welcomed_ && request.has_report();
    const size_t bytes = report ? 0 : wire_bytes;
    if (bytes > service_->options_.max_message_bytes) {
      const absl::Status refused =
          LimitError("message", absl::StrCat(bytes, " bytes"),
                     absl::StrCat(service_->options_.max_message_bytes),
                     "--max_message_bytes");
      service_->metrics_->limit_rejections.Add({{"limit", LimitOf(refused)}})
          .Increment();
      FailLocked(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                              std::string(refused.message())));
      return;
    }
    if (!have_hello_) {
      if (!request.has_hello()) {
        FailLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                "first message must be hello"));
        return;
      }
      absl::Status valid = ValidateHello(request.hello());
      if (!valid.ok()) {
        FailLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                std::string(valid.message())));
        return;
      }
      if (absl::Status allowed = AuthorizeLocked(request.hello().model());
          !allowed.ok()) {
        FailLocked(ToGrpcStatus(allowed));
        return;
      }
      have_hello_ = true;
      if (service_->options_.redirect_for) {
        std::string owner =
            service_->options_.redirect_for(request.hello().model());
        if (!owner.empty()) {
          v1::IngestResponse redirect;
          redirect.mutable_redirect()->set_target(std::move(owner));
          outbox_.push_back(std::move(redirect));
          final_status_ = grpc::Status::OK;  // ends once the outbox is sent
          return;
        }
      }
      agent_id_ = request.hello().agent().agent_id();
      model_ = request.hello().model();
      backfill_ = request.hello().backfill();
      ++outstanding_;
      const bool queued = service_->writer_->SubmitHello(
          request.hello(), [this](const WriteResult& r) { OnHelloDone(r); },
          [service = service_](const std::string& id) {
            return service->IsConnected(id);
          });
      if (!queued) {
        --outstanding_;
        Busy();
      }
      return;
    }
    if (!welcomed_) {
      FailLocked(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                              "wait for welcome before sending reports"));
      return;
    }
    switch (request.kind_case()) {
      case v1::IngestRequest::kReport:
        HandleReportLocked(request.report(), std::move(prepared));
        return;
      case v1::IngestRequest::kGap:
        HandleGapLocked(request.gap());
        return;
      case v1::IngestRequest::kGoodbye:
        HandleGoodbyeLocked(request.goodbye());
        return;
      default:
        FailLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                "expected report or gap after hello"));
    }
  }

  absl::Status AuthorizeLocked(const v1::ModelRef& model)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const Authorizer* authorizer = service_->options_.authorizer;
    if (authorizer == nullptr) return absl::OkStatus();
    absl::StatusOr<Principal> principal =
        authorizer->Authorize(authorization_, Permission::kIngest);
    if (!principal.ok()) return principal.status();
    if (!principal->authenticated) return absl::OkStatus();
    return authorizer->CheckModel(*principal, model);
  }

  void HandleGapLocked(const v1::GapNotice& gap)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::Status valid = ValidateGap(gap, agent_id_);
    if (!valid.ok()) {
      FailLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                              std::string(valid.message())));
      return;
    }
    SubmitGapLocked(gap);
  }

  // The agent leaves: nothing is read after the goodbye; the stream ends
  // once it is durable (Pump finishes when reads are done and nothing is
  // outstanding).
  void HandleGoodbyeLocked(const v1::Goodbye& goodbye)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    reads_done_ = true;
    ++outstanding_;
    const bool queued = service_->writer_->SubmitGoodbye(
        agent_id_, std::string(CutUtf8(goodbye.reason(), 128)),
        [this](const WriteResult& r) { OnGoodbyeDone(r); });
    if (!queued) {
      --outstanding_;
      Busy();
    }
  }

  void OnGoodbyeDone(const WriteResult& result) {
    {
      absl::MutexLock lock(&mu_);
      if (!result.status.ok()) {
        LogError("cannot deregister agent",
                 {{"agent", agent_id_}, {"error", result.status.message()}});
        FailLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                std::string(result.status.message())));
      } else {
        service_->metrics_->agents_deregistered.Increment();
        LogInfo("agent deregistered", {{"agent", agent_id_}, {"peer", peer_}});
      }
    }
    Pump(/*completed=*/1);
  }

  void SubmitGapLocked(const v1::GapNotice& gap)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ++outstanding_;
    const bool queued = service_->writer_->SubmitGap(
        gap, [this, gap](const WriteResult& r) { OnGapDone(gap, r); });
    if (!queued) {
      --outstanding_;
      Busy();
    }
  }

  // Collects the parts of a split report; returns the whole report once
  // every part is here, nullopt while parts are missing or on error.
  std::optional<v1::WindowReport> AssembleLocked(v1::WindowReport part)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const uint64_t seq = part.sequence();
    const uint32_t count = part.part_count();
    if (count > kMaxParts) {
      FailLocked(grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("report.part_count: ", count, ", limit ", kMaxParts)));
      return std::nullopt;
    }
    Assembly& a = assemblies_[seq];
    if (a.parts.empty()) a.parts.resize(count);
    if (a.parts.size() != count) {
      FailLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                              "report.part_count: differs between parts"));
      return std::nullopt;
    }
    if (assemblies_.size() > kMaxAssemblies) {
      FailLocked(grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("more than ", kMaxAssemblies,
                       " split reports incomplete on one stream")));
      return std::nullopt;
    }
    const uint32_t index = part.part_index();
    if (!a.parts[index]) {
      a.parts[index] = std::move(part);
      ++a.received;
    }
    if (a.received < count) return std::nullopt;
    v1::WindowReport whole = std::move(*a.parts[0]);
    for (uint32_t i = 1; i < count; ++i) {
      v1::WindowSummary* s = whole.mutable_summary();
      for (auto& f : *a.parts[i]->mutable_summary()->mutable_features()) {
        *s->add_features() = std::move(f);
      }
      for (auto& attr : *a.parts[i]->mutable_summary()->mutable_attributes()) {
        *s->add_attributes() = std::move(attr);
      }
      // Join records and forwarded labels are spread over the parts too.
      for (auto& p : *a.parts[i]->mutable_predictions()) {
        *whole.add_predictions() = std::move(p);
      }
      for (auto& l : *a.parts[i]->mutable_labels()) {
        *whole.add_labels() = std::move(l);
      }
    }
    whole.clear_part_index();
    whole.clear_part_count();
    assemblies_.erase(seq);
    return whole;
  }

  void HandleReportLocked(const v1::WindowReport& received,
                          PreparedReport prepared)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    v1::WindowReport assembled;
    const v1::WindowReport* current = &received;
    // A part was measured and validated alone; it is serialized once its
    // report is assembled.
    const bool part = current->part_count() > 1;
    std::string serialized = std::move(prepared.stored);
    absl::Status valid = std::move(prepared.valid);
    if (valid.ok() && part) {
      service_->metrics_->report_parts.Increment();
      std::optional<v1::WindowReport> whole = AssembleLocked(*current);
      if (!whole) return;  // waiting for more parts, or failed
      assembled = std::move(*whole);
      current = &assembled;
      valid = ValidateReport(assembled, agent_id_, service_->options_.limits);
      if (valid.ok()) assembled.SerializeToString(&serialized);
    }
    if (valid.ok() && backfill_) {
      // Backfilled windows stay marked in merges and queries. The mark is
      // appended on the wire (a message followed by another parses as their
      // merge) rather than copying the report and its join records.
      v1::WindowReport mark;
      mark.mutable_summary()->mutable_operational()->set_backfilled_events(
          current->summary().operational().event_count());
      if (serialized.empty()) current->SerializeToString(&serialized);
      mark.AppendToString(&serialized);
    }
    const v1::WindowReport& report = *current;
    if (!valid.ok()) {
      service_->metrics_->reports_rejected.Increment();
      LogWarn("rejected report", {{"agent", agent_id_},
                                  {"seq", report.sequence()},
                                  {"error", valid.message()}});
      v1::IngestResponse response;
      v1::Rejection* rejection = response.mutable_rejection();
      rejection->set_sequence(report.sequence());
      const absl::string_view msg = valid.message();
      const size_t colon = msg.find(": ");
      rejection->set_field(std::string(msg.substr(0, colon)));
      service_->metrics_->report_rejections
          .Add({{"field", FieldWithoutIndices(rejection->field())}})
          .Increment();
      if (const std::string limit = LimitOf(valid); !limit.empty()) {
        service_->metrics_->limit_rejections.Add({{"limit", limit}})
            .Increment();
      }
      rejection->set_reason(colon == absl::string_view::npos
                                ? std::string(msg)
                                : std::string(msg.substr(colon + 2)));
      outbox_.push_back(std::move(response));
      // The window will never arrive: put it on record as a gap.
      v1::GapNotice gap;
      gap.set_agent_id(agent_id_);
      gap.set_first_sequence(report.sequence());
      gap.set_last_sequence(report.sequence());
      *gap.mutable_window_start() = report.window_start();
      *gap.mutable_window_end() = report.window_end();
      gap.set_reason(absl::StrCat("rejected: ", rejection->field()));
      gap.set_event_count(report.summary().operational().event_count());
      SubmitGapLocked(gap);
      return;
    }
    ++outstanding_;
    const uint64_t seq = report.sequence();
    const StoredWindow stored{
        FromProto(report.window_start()), FromProto(report.window_end()),
        backfill_,
        report.summary().operational().late_events() > 0 ||
            report.summary().operational().labels_late() > 0};
    const bool queued = service_->writer_->SubmitReport(
        EncodeReport(report, std::move(serialized)),
        [this, seq, stored](const WriteResult& r) {
          OnReportDone(seq, stored, r);
        });
    if (!queued) {
      --outstanding_;
      Busy();
    }
  }

  void Busy() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    service_->metrics_->streams_refused_busy.Increment();
    FailLocked(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("collector write queue full (capacity ",
                     service_->writer_->capacity(), "); retry with backoff")));
  }

  void OnHelloDone(const WriteResult& result) {
    bool welcomed = false;
    {
      absl::MutexLock lock(&mu_);
      if (absl::IsPermissionDenied(result.status)) {
        service_->metrics_->agents_refused.Increment();
        LogWarn("agent refused", {{"agent", agent_id_},
                                  {"peer", peer_},
                                  {"reason", result.status.message()}});
        FailLocked(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                std::string(result.status.message())));
      } else if (!result.status.ok()) {
        LogError("cannot register agent",
                 {{"agent", agent_id_}, {"error", result.status.message()}});
        FailLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                std::string(result.status.message())));
      } else {
        welcomed_ = true;
        welcomed = true;
        durable_ = result.durable_sequence;
        v1::IngestResponse response;
        v1::Welcome* welcome = response.mutable_welcome();
        welcome->set_collector_id(service_->options_.collector_id);
        welcome->set_durable_sequence(result.durable_sequence);
        welcome->set_slot(result.slot);
        if (result.profile) *welcome->mutable_profile() = *result.profile;
        outbox_.push_back(std::move(response));
        service_->SetConnected(agent_id_, true);
        marked_connected_ = true;
        LogInfo("agent connected", {{"agent", agent_id_},
                                    {"peer", peer_},
                                    {"slot", result.slot},
                                    {"durable_seq", result.durable_sequence}});
      }
    }
    if (welcomed) {
      absl::MutexLock lock(&service_->streams_mu_);
      service_->streams_.insert(this);
    }
    // The write still counts as outstanding until Pump() takes it off
    // under the lock: until then no other thread can finish (and delete)
    // the stream under this callback.
    Pump(/*completed=*/1);
  }

  void OnGapDone(const v1::GapNotice& gap, const WriteResult& result) {
    {
      absl::MutexLock lock(&mu_);
      if (!result.status.ok()) {
        service_->metrics_->storage_healthy.Set(0);
        LogError("cannot record gap",
                 {{"agent", agent_id_}, {"error", result.status.message()}});
        FailLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                std::string(result.status.message())));
      } else {
        service_->metrics_->windows_missing.Increment(
            static_cast<double>(result.missing));
        LogWarn("monitoring gap recorded", {{"agent", agent_id_},
                                            {"first_seq", gap.first_sequence()},
                                            {"last_seq", gap.last_sequence()},
                                            {"missing", result.missing},
                                            {"events", gap.event_count()},
                                            {"reason", gap.reason()}});
        if (gap.last_sequence() > durable_) durable_ = gap.last_sequence();
        ack_pending_ = true;
      }
    }
    // The write still counts as outstanding until Pump() takes it off
    // under the lock: until then no other thread can finish (and delete)
    // the stream under this callback.
    Pump(/*completed=*/1);
  }

  void OnReportDone(uint64_t seq, const StoredWindow& stored,
                    const WriteResult& result) {
    {
      absl::MutexLock lock(&mu_);
      if (!result.status.ok()) {
        service_->metrics_->reports_failed.Increment();
        service_->metrics_->storage_healthy.Set(0);
        LogError("cannot store report", {{"agent", agent_id_},
                                         {"seq", seq},
                                         {"error", result.status.message()}});
        // Not acknowledged: the agent keeps it and resends after backoff.
        FailLocked(grpc::Status(
            result.status.code() == absl::StatusCode::kResourceExhausted
                ? grpc::StatusCode::RESOURCE_EXHAUSTED
                : grpc::StatusCode::UNAVAILABLE,
            std::string(result.status.message())));
      } else {
        service_->metrics_->storage_healthy.Set(1);
        if (result.duplicate) {
          service_->metrics_->reports_duplicate.Increment();
        } else if (result.expired) {
          service_->metrics_->reports_expired.Increment();
        } else {
          service_->metrics_->reports_stored.Increment();
          if (service_->options_.on_report_stored)
            service_->options_.on_report_stored(model_);
          if (service_->options_.on_window_stored)
            service_->options_.on_window_stored(model_, stored);
        }
        if (seq > durable_) durable_ = seq;
        ack_pending_ = true;
      }
    }
    // The write still counts as outstanding until Pump() takes it off
    // under the lock: until then no other thread can finish (and delete)
    // the stream under this callback.
    Pump(/*completed=*/1);
  }

  void FailLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!final_status_) final_status_ = std::move(status);
  }

  // Issues whatever gRPC operation is due: next write, next read, Finish.
  // `completed`: writer callbacks that end with this call (see OnReportDone).
  // A gRPC reaction (OnReadDone, ...) keeps the stream alive until it
  // returns; a writer callback does not: once it has started a write, that
  // write may complete, the stream finish and OnDone delete it on another
  // thread at any moment, so it returns and leaves the rest (a read that
  // may be due) to OnWriteDone's Pump.
  // `outside`: called from neither a reaction nor a writer callback
  // (OfferProfile); like a writer callback, it returns once it has started
  // a write.
  void Pump(size_t completed = 0, bool outside = false) {
    const bool from_writer = completed > 0 || outside;
    enum class Action { kNone, kWrite, kRead, kFinish };
    for (;;) {
      Action action = Action::kNone;
      grpc::Status finish_status;
      {
        absl::MutexLock lock(&mu_);
        outstanding_ -= completed;
        completed = 0;
        if (finished_) return;
        const bool ending = broken_ || final_status_.has_value();
        if (!write_in_flight_ && !broken_ &&
            (!outbox_.empty() || ack_pending_)) {
          if (!outbox_.empty()) {
            SetResponse(outbox_.front());
            outbox_.pop_front();
          } else {
            v1::IngestResponse ack;
            ack.mutable_ack()->set_durable_sequence(durable_);
            SetResponse(ack);
            ack_pending_ = false;
          }
          write_in_flight_ = true;
          action = Action::kWrite;
        } else if (!ending && !reads_done_ && !read_in_flight_ &&
                   outstanding_ < service_->options_.max_in_flight &&
                   (welcomed_ || !have_hello_)) {
          read_in_flight_ = true;
          action = Action::kRead;
        } else if ((ending || reads_done_) && outstanding_ == 0 &&
                   !write_in_flight_ &&
                   (broken_ || (outbox_.empty() && !ack_pending_))) {
          finished_ = true;
          finish_status = final_status_.value_or(grpc::Status::OK);
          action = Action::kFinish;
        }
      }
      switch (action) {
        case Action::kNone:
          return;
        case Action::kWrite:
          StartWrite(&response_);
          if (from_writer) return;  // `this` may be gone already
          break;                    // a read may also be due
        case Action::kRead:
          StartRead(&request_bytes_);
          return;
        case Action::kFinish:
          // Disconnected before the client can see the end of the stream.
          MarkDisconnected();
          Finish(finish_status);
          return;
      }
    }
  }

  // Serializes `response` into response_ for the next StartWrite.
  void SetResponse(const v1::IngestResponse& response) {
    bool own_buffer = false;
    response_.Clear();  // the serializer writes into an empty buffer only
    (void)grpc::SerializationTraits<v1::IngestResponse>::Serialize(
        response, &response_, &own_buffer);
  }

  IngestService* const service_;
  const std::string peer_;
  const std::string authorization_;  // the call's bearer token header
  // The message being read, as received (see HandleRead). Used only by the
  // thread that owns the pending read.
  grpc::ByteBuffer request_bytes_;
  // Written only by the thread that owns the pending write (SetResponse).
  grpc::ByteBuffer response_;

  absl::Mutex mu_;
  bool have_hello_ ABSL_GUARDED_BY(mu_) = false;
  v1::ModelRef model_ ABSL_GUARDED_BY(mu_);
  bool backfill_ ABSL_GUARDED_BY(mu_) = false;  // Hello.backfill
  bool welcomed_ ABSL_GUARDED_BY(mu_) = false;
  std::string agent_id_ ABSL_GUARDED_BY(mu_);
  bool marked_connected_ ABSL_GUARDED_BY(mu_) = false;
  bool read_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  size_t outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t durable_ ABSL_GUARDED_BY(mu_) = 0;
  bool ack_pending_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<v1::IngestResponse> outbox_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> final_status_ ABSL_GUARDED_BY(mu_);
  // Split reports being reassembled, by sequence.
  struct Assembly {
    std::vector<std::optional<v1::WindowReport>> parts;
    uint32_t received = 0;
  };
  static constexpr uint32_t kMaxParts = 64;
  static constexpr size_t kMaxAssemblies = 4;
  std::map<uint64_t, Assembly> assemblies_ ABSL_GUARDED_BY(mu_);
};

IngestService::IngestService(IngestOptions options, DurableWriter* writer,
                             IngestMetrics* metrics)
    : options_(std::move(options)), writer_(writer), metrics_(metrics) {}

IngestService::~IngestService() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* live) { return *live == 0; }, &live_streams_));
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>*
IngestService::Report(grpc::CallbackServerContext* context) {
  return new Stream(this, context);
}

int IngestService::PushProfile(const v1::ReferenceProfile& profile) {
  absl::MutexLock lock(&streams_mu_);
  for (Stream* stream : streams_) stream->OfferProfile(profile);
  return static_cast<int>(streams_.size());
}

int IngestService::EndStreamsOfMovedModels(
    const std::function<bool(const v1::ModelRef&)>& moved) {
  absl::MutexLock lock(&streams_mu_);
  for (Stream* stream : streams_) stream->EndIfMoved(moved);
  return static_cast<int>(streams_.size());
}

bool IngestService::IsConnected(const std::string& agent_id) const {
  absl::MutexLock lock(&mu_);
  auto it = connected_.find(agent_id);
  return it != connected_.end() && it->second > 0;
}

void IngestService::SetConnected(const std::string& agent_id, bool connected) {
  absl::MutexLock lock(&mu_);
  int& n = connected_[agent_id];
  n += connected ? 1 : -1;
  if (n <= 0) connected_.erase(agent_id);
}

}  // namespace aims::collector
